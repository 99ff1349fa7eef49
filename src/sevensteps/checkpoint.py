"""A Learner on disk, as safetensors + JSON (never pickle).

- ``save_checkpoint`` / ``load_checkpoint`` (``learn.save`` / ``learn.load``): weights, optimizer state,
  random state, history and best weights, so a resumed fit continues bit for bit.
- ``export`` / ``load_learner``: the model's architecture (as JSON), weights, loss, metrics and optimizer by
  name, to rebuild the Learner elsewhere. Only what can be named can be exported: ``nn.Sequential`` of the
  built-in layers, the built-in losses, metrics and optimizers. A lambda, a model written as a function or
  a custom Module cannot; ``export`` says which object is the obstacle (``save`` still works for them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import serialize
from .backend import xp
from .random import get_generator
from .serialize import ModelFileError
from .stopping import Best, Epoch

EXPORT_FORMAT = "sevensteps-learner"


def named_params(learn: Any) -> list[tuple[str, Any]]:
    """Parameters by their state_dict name (a function's weights by position: "0", "1", ...)."""
    if hasattr(learn.model, "named_parameters"):
        return list(learn.model.named_parameters())
    return [(str(i), p) for i, p in enumerate(learn.params)]


def _generator(learn: Any) -> Any:
    train = getattr(learn.dls, "train", None) if learn.dls is not None else None
    return get_generator(getattr(train, "generator", None))


def save_checkpoint(learn: Any, path: Any, extra: dict[str, Any] | None = None) -> Path:
    """Weights, optimizer state, random state and history, written atomically."""
    path = Path(path)
    if learn.opt is None:
        learn.init()
    arrays = {f"model.{name}": p.data for name, p in named_params(learn)}
    if learn.best is not None:
        arrays.update({f"best.{name}": w for (name, _), w in zip(named_params(learn), learn.best.weights, strict=True)})
    groups, scalars = [], {}
    if hasattr(learn.opt, "state_dict"):
        opt_state = learn.opt.state_dict()
        groups = opt_state["param_groups"]
        for index, values in opt_state["state"].items():
            for key, value in values.items():
                if isinstance(value, xp.ndarray):
                    arrays[f"optim.{index}.{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = value
    metadata = {"format": serialize.CHECKPOINT_FORMAT, **(extra or {}), "epoch": learn.epoch,
                "history": [e.to_dict() for e in learn.history], "generator": _generator(learn).get_state(),
                "optimizer_groups": groups, "optimizer_scalars": scalars,
                "best": None if learn.best is None else [learn.best.value, learn.best.epoch],
                "start_valid_loss": learn.start_valid_loss}
    serialize.save(path, arrays, metadata)
    return path


def load_checkpoint(learn: Any, path: Any) -> dict[str, Any]:
    """Continue from a checkpoint: same weights, optimizer, random state and history; returns its metadata."""
    path = Path(path)
    arrays, meta = serialize.load(path, serialize.CHECKPOINT_FORMAT)
    if learn.opt is None:
        learn.init()
    names = named_params(learn)
    try:
        weights = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
        if sorted(weights) != sorted(name for name, _ in names):
            raise ValueError(f"weights {sorted(weights)} for a model with {sorted(n for n, _ in names)}")
        for name, p in names:
            if weights[name].shape != p.data.shape:
                raise ValueError(f"{name} has shape {weights[name].shape}, the model {p.data.shape}")
    except ValueError as error:
        raise ModelFileError(f"{path}: does not fit this model ({error})") from error
    try:
        for name, p in names:
            p.data[...] = weights[name]
        if meta["optimizer_groups"]:
            state: dict[int, dict[str, Any]] = {}
            for key, value in arrays.items():
                if key.startswith("optim."):
                    _, index, name = key.split(".", 2)
                    state.setdefault(int(index), {})[name] = value
            for index, values in meta["optimizer_scalars"].items():
                state.setdefault(int(index), {}).update(values)
            groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["optimizer_groups"]]
            learn.opt.load_state_dict({"state": state, "param_groups": groups})
        _generator(learn).set_state(meta["generator"])
        learn.history = [Epoch.from_dict(e) for e in meta["history"]]
        learn.epoch = int(meta["epoch"])
        learn.start_valid_loss = meta.get("start_valid_loss")
        learn._last_good = [p.data.copy() for p in learn.params]
        if meta["best"] is not None:
            best = [arrays[f"best.{name}"] for name, _ in names]
            monitor = Best.monitor_of(learn.history[-1]) if learn.history else "valid_loss"
            learn.best = Best(float(meta["best"][0]), int(meta["best"][1]), best, monitor)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        raise ModelFileError(f"{path}: damaged checkpoint metadata ({type(error).__name__}: {error})") from error
    return meta


# ---------------------------------------------------------------- export

# The layers export can name, with the constructor arguments that rebuild each one (read back from the layer's
# attributes; "bias" is whether it has one). Random generators are not saved: a loaded model draws its dropout
# masks and shifts afresh, and in eval() (how load_learner returns it) it draws none.
LAYERS: dict[str, tuple[str, ...]] = {
    "Sequential": (), "ReLU": (), "Sigmoid": (), "Tanh": (), "Identity": (),
    "Linear": ("in_features", "out_features", "bias"),
    "Flatten": ("start_dim", "end_dim"),
    "Dropout": ("p",),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "bias"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "count_include_pad", "divisor_override"),
    "AdaptiveAvgPool2d": ("output_size",),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats", "bias"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats", "bias"),
    "Unflatten": ("dim", "unflattened_size"),
    "AsImages": ("channels", "height", "width"),
    "RandomShift": ("max_shift",),
}
LAYER_MODULES = ("sevensteps.nn", "sevensteps.layers")


def _by_name(thing: Any, module: Any, kind: str) -> str:
    name = getattr(thing, "__name__", None)
    if name is None or getattr(module, name, None) is not thing:
        raise ValueError(f"cannot export: the {kind} {name or type(thing).__name__} is not one of sevensteps' own, so "
                         "it cannot be named in a file (a lambda or your own function would need pickle, which "
                         "sevensteps never uses); save the weights with learn.save instead")
    return name


def _layer_class(kind: str) -> Any:
    from . import layers, nn

    return getattr(nn, kind, None) or getattr(layers, kind, None)


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def describe_model(model: Any) -> dict[str, Any]:
    """The architecture as JSON: nested layers with their constructor arguments."""
    kind = type(model).__name__
    if kind not in LAYERS or type(model).__module__ not in LAYER_MODULES or _layer_class(kind) is not type(model):
        what = getattr(model, "__name__", None) or kind
        raise ValueError(f"cannot export: the model part {what} is not one of the layers export can describe "
                         f"({', '.join(LAYERS)}); save the weights with learn.save instead")
    if kind == "Sequential":
        return {"type": kind, "layers": [describe_model(m) for m in model]}
    spec: dict[str, Any] = {"type": kind}
    for name in LAYERS[kind]:
        value = getattr(model, name)
        spec[name] = value is not None if name == "bias" else _json_value(value)
    return spec


def build_model(spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if kind not in LAYERS:
        raise ValueError(f"unknown layer {kind!r}")
    if kind == "Sequential":
        return _layer_class(kind)(*(build_model(s) for s in spec["layers"]))
    # JSON has no tuples: kernel sizes, strides and shapes come back as lists
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k != "type"}
    return _layer_class(kind)(**args)


def export(learn: Any, path: Any, extra: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (safetensors): weights plus the model, loss, metrics and optimizer by name."""
    from . import functional, metrics, optim

    path = Path(path)
    meta = {"format": EXPORT_FORMAT, "model": describe_model(learn.model),
            "loss_func": _by_name(learn.loss_func, functional, "loss function"),
            "metrics": [_by_name(m, metrics, "metric") for m in learn.metrics],
            "opt_func": _by_name(learn.opt_func, optim, "optimizer"), "lr": learn.lr, **(extra or {})}
    serialize.save(path, {name: t.data for name, t in learn.model.state_dict().items()}, meta)
    return path


def load_learner(path: Any) -> Any:
    """A Learner rebuilt from an exported file, ready for ``get_preds`` (give it data to train further)."""
    from . import functional, metrics, optim
    from .learner import Learner

    path = Path(path)
    arrays, meta = serialize.load(path, EXPORT_FORMAT)
    try:
        model = build_model(meta["model"])
        model.load_state_dict(arrays)
        loss_func = getattr(functional, meta["loss_func"])
        metric_funcs = [getattr(metrics, m) for m in meta["metrics"]]
        opt_func = getattr(optim, meta["opt_func"])
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{path}: cannot rebuild the learner ({type(error).__name__}: {error})") from error
    model.eval()
    return Learner(None, model, loss_func, opt_func, float(meta["lr"]), metric_funcs, quiet=True)
