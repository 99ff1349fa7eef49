"""Issue #14, item 2: the names PyTorch users type, each compared with PyTorch 2.13.0 (values, gradients, dtypes).

Ops on random shapes (expand, gather, sort, ...) are in test_ops.py's table; here are the losses, modules,
optimizers, schedulers, creation functions, grad modes and reprs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twins import close, twins

import sevensteps as ss
import sevensteps.nn as nn
import sevensteps.nn.functional as F

TF = torch.nn.functional




def check_loss(ours_fn, theirs_fn, arrays, differentiable):
    """Forward and every gradient of a loss, in float64, against PyTorch."""
    ours = [ss.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable, strict=True)]
    theirs = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable, strict=True)]
    out, tout = ours_fn(*ours), theirs_fn(*theirs)
    close(out, tout, 1e-9)
    seed = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(ss.tensor(seed))
    tout.backward(torch.tensor(seed))
    for o, t in zip(ours, theirs, strict=True):
        if t.requires_grad:
            close(o.grad, t.grad, 1e-9)


RNG = np.random.default_rng(14)
LOGITS = RNG.standard_normal((5, 4)) * 2
LABELS = np.array([0, 3, 1, 3, 2])
PROBS = RNG.dirichlet(np.ones(4), 5)
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("variant", ["plain", "smoothing", "weight", "ignore", "weight+smoothing+ignore",
                                     "probabilities", "probabilities+smoothing", "one-row", "spatial"])
def test_cross_entropy_variants_match_pytorch(variant, reduction):
    labels = LABELS.copy()
    kwargs = {}
    if "smoothing" in variant:
        kwargs["label_smoothing"] = 0.2
    if "weight" in variant:
        kwargs["weight"] = CLASS_WEIGHT
    if "ignore" in variant:
        labels[1] = -100
    logits, target = LOGITS, labels
    if variant.startswith("probabilities"):
        target = PROBS
    elif variant == "one-row":
        logits, target = LOGITS[0], np.array(2)
    elif variant == "spatial":
        logits, target = RNG.standard_normal((2, 4, 3)), RNG.integers(0, 4, (2, 3))

    def ours(x):
        extra = {k: (ss.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
        return F.cross_entropy(x, ss.tensor(target), reduction=reduction, **extra)

    def theirs(x):
        extra = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
        return TF.cross_entropy(x, torch.tensor(target), reduction=reduction, **extra)

    check_loss(ours, theirs, [logits], [True])
    module = nn.CrossEntropyLoss(reduction=reduction, **{k: (ss.tensor(v) if k == "weight" else v)
                                                         for k, v in kwargs.items()})
    close(module(ss.tensor(logits), ss.tensor(target)), theirs(torch.tensor(logits)), 1e-9)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_pytorch(reduction, weighted):
    log_probs = np.log(PROBS)
    weight = CLASS_WEIGHT if weighted else None
    check_loss(lambda x: F.nll_loss(x, ss.tensor(LABELS), None if weight is None else ss.tensor(weight),
                                    reduction=reduction),
               lambda x: TF.nll_loss(x, torch.tensor(LABELS), None if weight is None else torch.tensor(weight),
                                     reduction=reduction), [log_probs], [True])
    close(nn.NLLLoss(reduction=reduction)(ss.tensor(log_probs), ss.tensor(LABELS)),
          torch.nn.NLLLoss(reduction=reduction)(torch.tensor(log_probs), torch.tensor(LABELS)), 1e-9)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses_match_pytorch(reduction):
    p = RNG.uniform(0.05, 0.95, (6, 3))
    t = RNG.uniform(0, 1, (6, 3))
    x = RNG.standard_normal((6, 3)) * 3
    w = RNG.uniform(0.5, 2, (3,))
    pos = RNG.uniform(0.5, 3, (3,))
    check_loss(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
               lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), [p, t], [True, False])
    check_loss(lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=c),
               lambda a, b, c: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=c),
               [x, t, pos], [True, True, False])
    check_loss(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=ss.tensor(w), reduction=reduction),
               lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=torch.tensor(w), reduction=reduction),
               [x, t], [True, True])
    close(nn.BCELoss(reduction=reduction)(ss.tensor(p), ss.tensor(t)),
          torch.nn.BCELoss(reduction=reduction)(torch.tensor(p), torch.tensor(t)), 1e-9)
    close(nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=ss.tensor(pos))(ss.tensor(x), ss.tensor(t)),
          torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pos))(torch.tensor(x),
                                                                                         torch.tensor(t)), 1e-9)
    close(nn.MSELoss(reduction=reduction)(ss.tensor(x), ss.tensor(t)),
          torch.nn.MSELoss(reduction=reduction)(torch.tensor(x), torch.tensor(t)), 1e-9)
    close(nn.L1Loss(reduction=reduction)(ss.tensor(x), ss.tensor(t)),
          torch.nn.L1Loss(reduction=reduction)(torch.tensor(x), torch.tensor(t)), 1e-9)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    p, t = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    close(F.binary_cross_entropy(ss.tensor(p), ss.tensor(t), reduction="none"),
          TF.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none"))


def test_the_functional_api_has_pytorchs_import_path():
    import sevensteps.functional

    assert F.cross_entropy is sevensteps.functional.cross_entropy
    assert ss.nn.functional.relu is sevensteps.functional.relu


# ---------------------------------------------------------------- modules


def copy_into_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert name == tname
            tp.copy_(torch.from_numpy(np.ascontiguousarray(p.data)))


def test_embedding_and_layer_norm_match_pytorch():
    emb, temb = nn.Embedding(6, 3, padding_idx=0), torch.nn.Embedding(6, 3, padding_idx=0)
    copy_into_torch(emb, temb)
    norm, tnorm = nn.LayerNorm(3), torch.nn.LayerNorm(3)
    with torch.no_grad():
        tnorm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        tnorm.bias.copy_(torch.tensor([0.1, 0.0, -0.1]))
    norm.load_state_dict({k: v.numpy() for k, v in tnorm.state_dict().items()})
    idx = np.array([[0, 2, 5], [1, 1, 0]])
    out, tout = norm(emb(ss.tensor(idx))), tnorm(temb(torch.tensor(idx)))
    close(out, tout, 1e-5)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(emb.weight.grad, temb.weight.grad, 1e-4)
    close(norm.weight.grad, tnorm.weight.grad, 1e-4)
    assert emb.weight.grad.data[0].tolist() == [0.0, 0.0, 0.0]
    assert repr(emb) == repr(temb) and repr(norm) == repr(tnorm)


def test_module_list_and_dict_register_their_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 1)])
            self.heads = nn.ModuleDict({"a": nn.Linear(1, 1)})
            self.register_buffer("mean", ss.zeros(2))

        def forward(self, x, scale=1.0):  # a keyword argument passes through the call
            for layer in self.layers:
                x = layer(x - self.mean)[..., :] if layer is self.layers[0] else layer(x)
            return self.heads["a"](x) * scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "heads.a.weight",
                     "heads.a.bias"]
    assert "mean" in net.state_dict() and "mean" not in names
    assert net(ss.ones(4, 2), scale=2.0).shape == (4, 1)
    assert len(net.layers) == 2 and "a" in net.heads and list(net.heads.keys()) == ["a"]


def test_module_apply_requires_grad_double_and_sequential_slicing():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Linear", "Sequential"]
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_(True)
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    assert head(ss.ones(1, 3)).shape == (1, 4)
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model(ss.ones(1, 3, dtype=ss.float64)).dtype == np.float64
    assert model.to("cpu") is model and model.cpu() is model


def test_nn_init_matches_pytorchs_formulas():
    w = nn.Parameter(ss.zeros(400, 300))
    nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=ss.Generator(0))
    bound = np.sqrt(2.0) * np.sqrt(3.0 / 300)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    nn.init.xavier_normal_(w, generator=ss.Generator(0))
    assert abs(w.data.std() - np.sqrt(2.0 / 700)) < 0.002
    nn.init.zeros_(w)
    assert (w.data == 0).all() and w.requires_grad and w.is_leaf
    nn.init.constant_(w, 0.5)
    assert (w.data == 0.5).all()
    for name in ("relu", "tanh", "sigmoid", "linear"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    a = nn.init.normal_(ss.zeros(5), generator=ss.Generator(3))
    b = nn.init.normal_(ss.zeros(5), generator=ss.Generator(3))
    assert a.tolist() == b.tolist()


def test_module_reprs_show_layer_arguments_like_pytorch():
    ours = nn.Sequential(nn.Flatten(), nn.Linear(784, 30), nn.ReLU(), nn.Dropout(0.2), nn.Linear(30, 10, bias=False),
                         nn.Softmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 30), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                 torch.nn.Linear(30, 10, bias=False), torch.nn.Softmax(dim=1))
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------- optimizers and schedules


def test_adamw_follows_pytorch_step_by_step():
    w0 = np.random.default_rng(1).standard_normal((3, 2))
    (w,), (tw,) = twins(w0)
    opt, topt = ss.optim.AdamW([w], lr=0.1, weight_decay=0.1), torch.optim.AdamW([tw], lr=0.1, weight_decay=0.1)
    for _ in range(5):
        ((w * w * w).sum()).backward()
        ((tw * tw * tw).sum()).backward()
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()
    close(w, tw, 1e-9)


@pytest.mark.parametrize("make", [
    lambda lib, opt: lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=12),
    lambda lib, opt: lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=3, steps_per_epoch=4,
                                                        anneal_strategy="linear", three_phase=True),
    lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.9**epoch),
])
def test_learning_rate_schedules_match_pytorch(make):
    w, tw = ss.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt, topt = ss.optim.SGD([w], lr=0.3, momentum=0.9), torch.optim.SGD([tw], lr=0.3, momentum=0.9)
    sched, tsched = make(ss, opt), make(torch, topt)
    for _ in range(11):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-12)
        topt.step()
        opt.step()
        sched.step()
        tsched.step()


# ---------------------------------------------------------------- creation, grad modes, autograd.grad


@pytest.mark.parametrize("make", [
    lambda lib: lib.eye(3),
    lambda lib: lib.eye(2, 4, dtype=lib.float64),
    lambda lib: lib.linspace(-1, 1, 7),
    lambda lib: lib.empty(2, 3).shape,
    lambda lib: lib.from_numpy(np.arange(4)),
    lambda lib: lib.as_tensor(np.arange(4.0)),
    lambda lib: lib.as_tensor([1, 2]),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.int64), dtype=lib.float32),
    lambda lib: lib.full_like(lib.ones(2), 3),
    lambda lib: lib.exp(lib.tensor([0.0, 1.0])),
    lambda lib: lib.log(lib.tensor([1.0, 2.0])),
    lambda lib: lib.sum(lib.tensor([[1.0, 2.0], [3.0, 4.0]]), 1),
    lambda lib: lib.mean(lib.tensor([[1.0, 2.0], [3.0, 4.0]]), 0),
    lambda lib: lib.max(lib.tensor([[1.0, 5.0], [3.0, 4.0]]), 1).indices,
    lambda lib: lib.argmax(lib.tensor([[1.0, 5.0], [3.0, 4.0]])),
    lambda lib: lib.softmax(lib.tensor([1.0, 2.0]), 0),
    lambda lib: lib.relu(lib.tensor([-1.0, 2.0])),
    lambda lib: lib.sigmoid(lib.tensor([0.0])),
    lambda lib: lib.tensor([1, 2]).eq(lib.tensor([1, 3])),
    lambda lib: lib.tensor([True, False]).all(),
    lambda lib: lib.tensor([[True, False]]).any(1),
    lambda lib: lib.tensor([1.7, -2.2]).int(),
    lambda lib: lib.tensor([1.7, -2.2]).long(),
    lambda lib: lib.tensor([[1.0, 2.0]]).T.contiguous(),
    lambda lib: lib.tensor([1.0, 2.0]).add(lib.tensor([1.0, 1.0]), alpha=3),
    lambda lib: lib.tensor([1.0, 2.0]).sub(1, alpha=2),
    lambda lib: lib.tensor([3.0, 1.0, 2.0]).sort(descending=True).indices,
    lambda lib: lib.tensor([3.0, 1.0, 2.0]).topk(2).indices,
    lambda lib: lib.where(lib.tensor([0, 1, 1]) > 0)[0],
    lambda lib: lib.tensor([[1.0, 2.0]]).expand(3, -1),
    lambda lib: lib.tensor([1.0, 2.0]).repeat(2, 2),
    lambda lib: lib.tensor([1.0, 2.0]).numpy(),
    lambda lib: lib.tensor([1.0, 2.0]).cpu().device.type if lib is torch else "cpu",
])
def test_creation_and_everyday_names_match_pytorch(make):
    ours, theirs = make(ss), make(torch)
    if isinstance(theirs, (str, tuple, torch.Size)):
        assert tuple(ours) == tuple(theirs) if not isinstance(theirs, str) else ours == theirs
        return
    theirs = theirs if isinstance(theirs, np.ndarray) else theirs.numpy()
    ours = ours if isinstance(ours, np.ndarray) else ours.numpy()
    assert ours.dtype == theirs.dtype
    close(ours, theirs)


def test_from_numpy_and_as_tensor_share_memory():
    array = np.zeros(3, dtype=np.float32)
    ss.from_numpy(array)[0] = 5
    ss.as_tensor(array)[1] = 6
    assert array.tolist() == [5.0, 6.0, 0.0]


def test_device_and_cpu():
    t = ss.ones(2)
    assert t.device == "cpu" and t.cpu() is t and t.to("cpu") is t and t.to(device="cpu") is t
    with pytest.raises(RuntimeError, match="CPU only"):
        t.to("cuda")


def test_grad_modes():
    w = ss.ones(2, requires_grad=True)

    @ss.no_grad
    def plain(x):
        return x * 2

    @ss.no_grad()
    def called(x):
        return x * 2

    assert not plain(w).requires_grad and not called(w).requires_grad and plain.__name__ == "plain"
    with ss.inference_mode():
        assert not (w * 2).requires_grad
    with ss.set_grad_enabled(False):
        assert not (w * 2).requires_grad
        with ss.enable_grad():
            assert (w * 2).requires_grad
    assert ss.is_grad_enabled()
    ss.set_grad_enabled(False)
    assert not ss.is_grad_enabled()
    ss.set_grad_enabled(True)
    assert (w * 2).requires_grad


def test_autograd_grad_returns_gradients_without_touching_grad():
    (x, y), (tx, ty) = twins([1.0, 2.0], [3.0, 4.0])
    hidden, thidden = x * y, tx * ty
    out, tout = (hidden.exp() * x).sum(), (thidden.exp() * tx).sum()
    ours = ss.autograd.grad(out, [x, hidden], retain_graph=True)
    theirs = torch.autograd.grad(tout, [tx, thidden], retain_graph=True)
    for o, t in zip(ours, theirs, strict=True):
        close(o, t)
    assert x.grad is None and y.grad is None
    (gy,) = ss.autograd.grad([out], [y])
    close(gy, torch.autograd.grad(tout, [ty])[0])
    z = ss.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ss.autograd.grad((x * 2).sum(), [z])
    assert ss.autograd.grad((x * 2).sum(), [z], allow_unused=True) == (None,)


# ---------------------------------------------------------------- reprs


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1e-3]),
    lambda lib: lib.tensor([1e-3, 1.0, 100.0]),
    lambda lib: lib.tensor([1e-5, 2e-5]),
    lambda lib: lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([1.5, -2.25]),
    lambda lib: lib.tensor([1e9, 1.0]),
    lambda lib: lib.tensor([float("nan"), 1.0, float("inf")]),
    lambda lib: lib.tensor(3.5),
    lambda lib: lib.tensor(3.5, dtype=lib.float64),
    lambda lib: lib.tensor([1, 2, 300]),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor([], dtype=lib.int64),
    lambda lib: lib.zeros(0, 3),
    lambda lib: lib.tensor([[1.0, -2.5], [300.0, 4.0]]),
    lambda lib: lib.arange(24.0).reshape(2, 3, 4),
    lambda lib: lib.arange(30.0) / 7,
    lambda lib: lib.arange(2000.0).reshape(40, 50),
    lambda lib: lib.arange(5000),
    lambda lib: lib.ones(2, requires_grad=True),
    lambda lib: lib.ones(2, dtype=lib.float64, requires_grad=True) * 2,
])
def test_tensor_reprs_match_pytorch(make):
    ours, theirs = repr(make(ss)), repr(make(torch)).replace("torch.", "sevensteps.")
    assert ours.split("grad_fn=")[0] == theirs.split("grad_fn=")[0]
    assert ("grad_fn=" in ours) == ("grad_fn=" in theirs)


def test_pos_weight_gradient_matches_finite_differences():
    """PyTorch refuses a gradient for pos_weight; ours has one, checked by nudging."""
    rng = np.random.default_rng(5)
    x, t, pos = rng.standard_normal((4, 3)) * 2, rng.random((4, 3)), rng.uniform(0.5, 3, (3,))
    inputs = [ss.tensor(a, requires_grad=True) for a in (x, t, pos)]
    result = ss.gradcheck(lambda a, b, p: F.binary_cross_entropy_with_logits(a, b, pos_weight=p), inputs)
    assert result.max_abs_error < 1e-7, str(result)


def test_star_import_keeps_python_builtins():
    """The chapter's ``from fastai.vision.all import *`` becomes ``from sevensteps import *``; Python's own
    all/any/max/min/sum/abs/int/float/bool must survive it, while ``sevensteps.max`` stays PyTorch's max."""
    import builtins

    namespace: dict = {}
    exec("from sevensteps import *", namespace)
    for name in ("all", "any", "max", "min", "sum", "abs", "int", "float", "bool"):
        assert name not in namespace
        assert hasattr(ss, name) and getattr(ss, name) is not getattr(builtins, name)
    assert "tensor" in namespace and "Learner" in namespace
