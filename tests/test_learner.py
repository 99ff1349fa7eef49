"""The seven steps as a Learner: order of events, cancelling, stop rules, checkpoints and resume."""

from __future__ import annotations

import numpy as np
import pytest

from sevensteps.data import load_splits
from sevensteps.learner import (
    CancelBatchException,
    CancelFitException,
    Learner,
    Settings,
    StopRules,
    load_model,
)
from sevensteps.serialize import ModelFileError


@pytest.fixture(scope="module")
def splits():
    return load_splits("sample")


class Recorder:
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name.startswith(("before_", "after_")):
            return lambda learn: self.events.append(name)
        raise AttributeError(name)


def weights(learner):
    return {k: v.numpy().copy() for k, v in learner.model.state_dict().items()}


def test_the_steps_fire_in_the_seeds_order(splits):
    recorder = Recorder()
    learner = Learner(splits, Settings(batch_size=500), callbacks=[recorder])
    learner.fit(StopRules(epochs=1))
    batch = recorder.events[recorder.events.index("before_batch"):recorder.events.index("after_batch") + 1]
    assert batch == ["before_batch", "before_predict", "after_predict", "before_loss", "after_loss",
                     "before_gradient", "after_gradient", "before_step", "after_step", "after_batch"]
    assert recorder.events[:3] == ["before_init", "after_init", "before_fit"]
    assert recorder.events[-3:] == ["after_validate", "after_epoch", "after_fit"]
    assert recorder.events.count("before_batch") == 2  # 1,000 images, batch 500


def test_learning_beats_the_untrained_model(splits):
    learner = Learner(splits)
    learner.init()
    _, untrained = learner.validate()
    result = learner.fit(StopRules(epochs=5))
    assert result.history[-1].valid_accuracy > max(untrained, 0.9)
    assert result.stopped_because == "reached 5 epochs"
    losses = [e.train_loss for e in result.history]
    assert losses[-1] < losses[0]


def test_validation_accuracy_is_exact_over_the_whole_set(splits):
    learner = Learner(splits)
    learner.fit(StopRules(epochs=2))
    preds = learner.model(__import__("sevensteps").tensor(learner.valid_x)).numpy()
    expected = ((preds[:, 0] > 0) == (learner.valid_y[:, 0] == 1)).mean()
    assert learner.validate(chunk=7)[1] == pytest.approx(expected)


def test_cancel_batch_skips_the_step(splits):
    class SkipSteps:
        def before_step(self, learn):
            raise CancelBatchException

    learner = Learner(splits, callbacks=[SkipSteps()])
    learner.init()
    start = weights(learner)
    result = learner.fit(StopRules(epochs=1), resume=True)
    assert all(np.array_equal(start[k], v) for k, v in weights(learner).items())
    assert np.isnan(result.history[0].train_loss)  # no batch finished: no training loss to report

    class SkipFirst:
        def before_step(self, learn):
            if learn.batch == 1:
                raise CancelBatchException

    result = Learner(splits, callbacks=[SkipFirst()]).fit(StopRules(epochs=1))
    assert np.isfinite(result.history[0].train_loss)


def test_cancel_fit_from_a_callback_reports_why(splits):
    class Enough:
        def after_epoch(self, learn):
            if learn.epoch == 2:
                raise CancelFitException("enough for today")

    result = Learner(splits, callbacks=[Enough()]).fit(StopRules(epochs=10))
    assert result.stopped_because == "enough for today" and len(result.history) == 2


def test_same_seed_same_numbers(splits):
    a, b = Learner(splits, Settings(seed=3)), Learner(splits, Settings(seed=3))
    a.fit(StopRules(epochs=3))
    b.fit(StopRules(epochs=3))
    assert all(np.array_equal(v, weights(b)[k]) for k, v in weights(a).items())
    c = Learner(splits, Settings(seed=4))
    c.fit(StopRules(epochs=3))
    assert not np.array_equal(weights(a)["1.weight"], weights(c)["1.weight"])


def test_early_stopping_restores_the_best_weights(splits):
    learner = Learner(splits, Settings(model="mlp", lr=0.5))
    result = learner.fit(StopRules(epochs=60, patience=2))
    assert "did not improve for 2 epochs" in result.stopped_because
    assert len(result.history) < 60
    best = max(e.valid_accuracy for e in result.history)
    assert learner.validate()[1] == pytest.approx(best)
    assert result.best_epoch == max(result.history, key=lambda e: e.valid_accuracy).epoch


def test_time_limit_stops_and_says_so(splits, tmp_path):
    learner = Learner(splits, Settings(batch_size=16))
    result = learner.fit(StopRules(epochs=10_000, time_limit=0.3), checkpoint=tmp_path / "c.safetensors")
    assert "time limit of 0.3s" in result.stopped_because
    assert len(result.history) < 10_000
    resumed = Learner(splits, Settings(batch_size=16))  # more time: it goes on from where it stopped
    resumed.load_checkpoint(tmp_path / "c.safetensors")
    more = resumed.fit(StopRules(epochs=10_000, time_limit=0.6), resume=True)
    assert len(more.history) > len(result.history) and "time limit of 0.6s" in more.stopped_because


def test_non_finite_loss_stops_at_once_and_keeps_good_weights():
    ten = load_splits("sample", digits=None)
    learner = Learner(ten, Settings(lr=1e38))  # weights overflow float32 within a few steps
    result = learner.fit(StopRules(epochs=5))
    assert "try --lr 1e+37" in result.stopped_because
    assert "became" in result.stopped_because or "non-finite" in result.stopped_because
    assert len(result.history) < 5
    assert all(np.isfinite(v).all() for v in weights(learner).values())


def test_resumed_run_is_bit_identical(splits, tmp_path):
    straight = Learner(splits, Settings(model="mlp", lr=0.5, batch_size=64))
    straight.fit(StopRules(epochs=4))
    first = Learner(splits, Settings(model="mlp", lr=0.5, batch_size=64))
    first.fit(StopRules(epochs=2), checkpoint=tmp_path / "ckpt.safetensors")
    resumed = Learner(splits, Settings(model="mlp", lr=0.5, batch_size=64))
    resumed.load_checkpoint(tmp_path / "ckpt.safetensors")
    result = resumed.fit(StopRules(epochs=4), resume=True)
    assert [e.epoch for e in result.history] == [1, 2, 3, 4]
    for k, v in weights(straight).items():
        assert np.array_equal(v, weights(resumed)[k]), k


def test_resume_with_momentum_and_adam_keeps_optimizer_state(splits, tmp_path):
    for optimizer, lr in (("momentum", 0.1), ("adam", 0.01)):
        straight = Learner(splits, Settings(optimizer=optimizer, lr=lr))
        straight.fit(StopRules(epochs=3))
        first = Learner(splits, Settings(optimizer=optimizer, lr=lr))
        first.fit(StopRules(epochs=1), checkpoint=tmp_path / f"{optimizer}.safetensors")
        resumed = Learner(splits, Settings(optimizer=optimizer, lr=lr))
        resumed.load_checkpoint(tmp_path / f"{optimizer}.safetensors")
        resumed.fit(StopRules(epochs=3), resume=True)
        for k, v in weights(straight).items():
            assert np.array_equal(v, weights(resumed)[k]), (optimizer, k)


def test_model_file_round_trip_and_checks(splits, tmp_path):
    learner = Learner(splits, Settings(model="mlp"))
    learner.fit(StopRules(epochs=1))
    path = tmp_path / "model.safetensors"
    learner.save_model(path)
    model, meta = load_model(path)
    assert meta["model"] == "mlp" and meta["classes"] == [3, 7] and meta["input_size"] == [28, 28]
    assert "sevensteps" in meta["versions"]
    for name, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), learner.model.state_dict()[name].numpy())
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        load_model(tmp_path / "cut.safetensors")
    learner.save_checkpoint(tmp_path / "ckpt.safetensors")
    with pytest.raises(ModelFileError, match="is not a sevensteps-model file"):
        load_model(tmp_path / "ckpt.safetensors")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")


def test_settings_are_checked(splits):
    with pytest.raises(ValueError, match="does not fit"):
        Learner(splits, Settings(loss="cross_entropy"))
    with pytest.raises(ValueError, match="optimizer"):
        Learner(splits, Settings(optimizer="lbfgs"))
