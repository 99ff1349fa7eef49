"""The cnn's recipe around the layers: its cosine learning-rate schedule as a Learner callback, and exporting a
cnn Learner (every image layer named in the file, rebuilt by ``load_learner``)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import sevensteps as ss
from sevensteps import functional as F
from sevensteps import layers, nn, optim, recipes, serialize
from sevensteps.checkpoint import export, load_learner
from sevensteps.data.loader import DataLoaders
from sevensteps.learner import Learner
from sevensteps.metrics import accuracy
from sevensteps.stopping import MaxEpochs


def digit_like_dls(n: int = 40, classes: int = 3, batch_size: int = 16) -> DataLoaders:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, 784)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return DataLoaders.from_arrays(x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :], batch_size=batch_size,
                                   generator=ss.Generator(1))


class LearningRates:
    """Records the rate each batch was stepped with."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def before_step(self, learn) -> None:
        self.seen.append(learn.opt.param_groups[0]["lr"])


def test_cosine_decay_follows_half_a_cosine_over_the_whole_run():
    rates = LearningRates()
    learn = Learner(digit_like_dls(), nn.Sequential(nn.Linear(784, 3)), F.cross_entropy, optim.Adam, lr=0.01,
                    cbs=[*recipes.recipe_callbacks("cnn"), rates], stop_rules=[MaxEpochs(3)], quiet=True)
    learn.fit()
    per_epoch = len(learn.dls.train)  # 20 images in batches of 16: 2 batches
    total = 3 * per_epoch
    expected = [0.01 * (1 + math.cos(math.pi * t / total)) / 2 for t in range(total)]
    np.testing.assert_allclose(rates.seen, expected, rtol=1e-12)
    assert rates.seen[0] == 0.01 and rates.seen[-1] < 0.01 / 10


def test_cosine_decay_is_the_same_in_a_run_split_in_two():
    """The rate depends only on where the run is, so a fit continued later (as --resume does) takes the same
    steps as one uninterrupted fit."""
    whole, halves = LearningRates(), LearningRates()
    kwargs = {"opt_func": optim.Adam, "lr": 0.01, "stop_rules": [MaxEpochs(4)], "quiet": True}
    Learner(digit_like_dls(), nn.Linear(784, 3), F.cross_entropy, cbs=[recipes.CosineDecay(), whole], **kwargs).fit()
    learn = Learner(digit_like_dls(), nn.Linear(784, 3), F.cross_entropy, cbs=[recipes.CosineDecay(), halves],
                    **{**kwargs, "stop_rules": [MaxEpochs(4), MaxEpochs(2)]})
    learn.fit()
    learn.stop_rules = [MaxEpochs(4)]
    learn.fit()
    assert halves.seen[:4] != whole.seen[:4]  # the first half planned only 2 epochs: a steeper curve
    np.testing.assert_allclose(halves.seen[4:], whole.seen[4:])
    assert recipes.recipe_callbacks("mlp") == [] and recipes.recipe("linear").schedule == "constant"


def test_a_cnn_learner_exports_and_loads(tmp_path):
    learn = Learner(digit_like_dls(), layers.cnn(3, ss.Generator(0)), F.cross_entropy, optim.Adam, lr=1e-3,
                    metrics=[accuracy], quiet=True)
    learn.fit(1)
    export(learn, tmp_path / "cnn.safetensors")
    again = load_learner(tmp_path / "cnn.safetensors")
    assert repr(again.model) == repr(learn.model)
    learn.model.eval()
    np.testing.assert_array_equal(learn.get_preds()[0].numpy(), again.get_preds(learn.dls.valid)[0].numpy())
    assert again.opt_func is optim.Adam and again.loss_func is F.cross_entropy


def test_every_image_layer_round_trips_through_export(tmp_path):
    """Arguments that are not the defaults survive the JSON (tuples, 'same', None), and so do BatchNorm's
    running statistics (buffers, in the state dict)."""
    model = nn.Sequential(
        layers.AsImages(1, 28, 28), layers.RandomShift(1),
        nn.Conv2d(1, 4, (3, 5), stride=(1, 2), padding=(1, 2), dilation=(2, 1), bias=False),
        nn.BatchNorm2d(4, momentum=None, eps=1e-3), nn.MaxPool2d(3, 2, 1),
        nn.AvgPool2d(2, 1, 1, count_include_pad=False),
        nn.Conv2d(4, 2, 3, padding="same"), nn.AdaptiveAvgPool2d((3, None)), nn.Flatten(), nn.Unflatten(1, (2, 3, 8)),
        nn.Flatten(), nn.BatchNorm1d(48, affine=False), nn.Identity(), nn.Dropout(0.25), nn.Linear(48, 3),
    )
    learn = Learner(digit_like_dls(), model, F.cross_entropy, optim.Adam, lr=1e-2, quiet=True)
    learn.fit(1)
    export(learn, tmp_path / "all.safetensors")
    again = load_learner(tmp_path / "all.safetensors")
    assert repr(again.model) == repr(learn.model)
    for (name, ours), (other, theirs) in zip(learn.model.state_dict().items(), again.model.state_dict().items(),
                                             strict=True):
        assert name == other
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    learn.model.eval()
    np.testing.assert_array_equal(learn.get_preds()[0].numpy(), again.get_preds(learn.dls.valid)[0].numpy())
    _, meta = serialize.load(tmp_path / "all.safetensors", "sevensteps-learner")
    kinds = json.dumps(meta["model"])
    for kind in ("AsImages", "RandomShift", "Conv2d", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                 "BatchNorm1d", "Dropout"):
        assert f'"{kind}"' in kinds


def test_export_names_a_layer_it_cannot_describe(tmp_path):
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    learn = Learner(digit_like_dls(), nn.Sequential(Doubler(), nn.Linear(784, 3)), F.cross_entropy, quiet=True)
    with pytest.raises(ValueError, match=r"Doubler is not one of the layers export can describe.*Conv2d"):
        export(learn, tmp_path / "x.safetensors")


def test_sevensteps_train_model_cnn_learns_3s_from_7s_and_its_model_file_predicts(tmp_path):
    """One epoch of the cnn through the command line (the recipe's 20 reach 99.02%: BENCHMARKS.md), then
    ``evaluate`` rebuilds it from model.safetensors and gets the same accuracy."""
    command = [sys.executable, "-m", "sevensteps.cli"]
    trained = subprocess.run([*command, "train", "--model", "cnn", "--epochs", "1", "--no-report", "--json",
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, check=False)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["valid_accuracy"] > 0.93 and summary["settings"]["optimizer"] == "adam"
    evaluated = subprocess.run([*command, "evaluate", "--model", summary["model_path"], "--json"], capture_output=True,
                               text=True, timeout=600, check=False)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(summary["valid_accuracy"])
