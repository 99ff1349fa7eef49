"""The seven steps as a Learner: order of events, cancelling, stop rules, checkpoints, resume, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest

import sevensteps as ss
from sevensteps import functional as F
from sevensteps import nn
from sevensteps.callbacks import EpochTable, ProgressBar, WeightSnapshots, html_table
from sevensteps.checkpoint import export, load_learner
from sevensteps.data import load_splits
from sevensteps.data.loader import DataLoader, DataLoaders
from sevensteps.digits import digit_learner, load_model, save_model
from sevensteps.learner import (
    EVENTS,
    CancelBatchException,
    CancelFitException,
    Learner,
    LearnerError,
)
from sevensteps.metrics import accuracy
from sevensteps.runs import Rules, Settings
from sevensteps.serialize import ModelFileError


@pytest.fixture(scope="module")
def splits():
    return load_splits("sample")


def make(splits, epochs=20, cbs=(), **settings):
    return digit_learner(splits, Settings(**settings), Rules(epochs=epochs), cbs=cbs, quiet=True)


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
    make(splits, epochs=1, cbs=[recorder], batch_size=500).fit()
    batch = recorder.events[recorder.events.index("before_batch"):recorder.events.index("after_batch") + 1]
    assert batch == ["before_batch", "before_predict", "after_predict", "before_loss", "after_loss",
                     "before_gradient", "after_gradient", "before_step", "after_step", "after_batch"]
    assert recorder.events[:3] == ["before_init", "after_init", "before_fit"]
    assert recorder.events[-3:] == ["after_validate", "after_epoch", "after_fit"]
    assert recorder.events.count("before_batch") == 2  # 1,000 images, batch 500
    assert set(recorder.events) <= set(EVENTS)


def test_a_misspelt_callback_method_is_an_error(splits):
    class Typo:
        def after_epcoh(self, learn):
            pass

    with pytest.raises(LearnerError, match=r"after_epcoh.*did you mean after_epoch"):
        make(splits, cbs=[Typo()])


def test_learning_beats_the_untrained_model(splits):
    learner = make(splits, epochs=5)
    learner.init()
    _, untrained = learner.validate()
    result = learner.fit()
    assert result.history[-1].valid_accuracy > max(untrained, 0.9)
    assert result.stopped.kind == "epochs" and result.stopped_because == "reached 5 epochs"
    losses = [e.train_loss for e in result.history]
    assert losses[-1] < losses[0]
    assert learner.recorder.values[-1] == [losses[-1], result.history[-1].valid_loss, result.history[-1].valid_accuracy]
    assert len(learner.recorder.losses) == 5 * 4  # 800 images in batches of 256


def test_fit_n_runs_n_more_epochs_and_says_1_epoch(splits):
    learner = make(splits)
    assert learner.fit(1).stopped_because == "reached 1 epoch"
    assert learner.fit(2, lr=0.5).stopped_because == "reached 3 epochs"
    assert learner.opt.param_groups[0]["lr"] == 0.5 and len(learner.history) == 3


def test_validation_accuracy_is_exact_over_the_whole_set(splits):
    learner = make(splits, epochs=2)
    learner.fit()
    x = ss.tensor(splits.valid.images.reshape(-1, 784))
    preds = learner.model(x).numpy()
    expected = ((preds[:, 0] > 0) == (splits.valid.labels == 3)).mean()
    assert learner.validate()[1] == pytest.approx(expected)
    small = DataLoaders.from_arrays(x, (splits.valid.labels == 3).astype(np.float32).reshape(-1, 1),
                                    x, (splits.valid.labels == 3).astype(np.float32).reshape(-1, 1))
    assert learner.validate(DataLoader(small.valid.dataset, 7))[1] == pytest.approx(expected)


def test_cancel_batch_skips_the_step(splits):
    class SkipSteps:
        def before_step(self, learn):
            raise CancelBatchException

    learner = make(splits, epochs=1, cbs=[SkipSteps()])
    learner.init()
    start = weights(learner)
    result = learner.fit()
    assert all(np.array_equal(start[k], v) for k, v in weights(learner).items())
    assert np.isnan(result.history[0].train_loss)  # no batch finished: no training loss to report

    class SkipFirst:
        def before_step(self, learn):
            if learn.batch == 1:
                raise CancelBatchException

    result = make(splits, epochs=1, cbs=[SkipFirst()]).fit()
    assert np.isfinite(result.history[0].train_loss)


def test_cancel_fit_from_a_callback_reports_why(splits):
    class Enough:
        def after_epoch(self, learn):
            if learn.epoch == 2:
                raise CancelFitException("enough for today")

    result = make(splits, epochs=10, cbs=[Enough()]).fit()
    assert result.stopped == ss.learner.StopReason("cancelled", "enough for today") and len(result.history) == 2


def test_request_stop_from_a_callback_ends_after_the_batch(splits):
    class Stopper:
        def before_step(self, learn):
            if learn.epoch == 2 and learn.batch == 2:
                learn.request_stop("stop button")

    learner = make(splits, epochs=10, cbs=[Stopper()])
    result = learner.fit()
    assert result.interrupted and result.stopped.kind == "interrupted" and learner.epoch == 1


def test_same_seed_same_numbers(splits):
    a, b = make(splits, epochs=3, seed=3), make(splits, epochs=3, seed=3)
    a.fit()
    b.fit()
    assert all(np.array_equal(v, weights(b)[k]) for k, v in weights(a).items())
    c = make(splits, epochs=3, seed=4)
    c.fit()
    assert not np.array_equal(weights(a)["1.weight"], weights(c)["1.weight"])


def test_early_stopping_restores_the_best_weights(splits):
    learner = digit_learner(splits, Settings(model="mlp", lr=0.5), Rules(epochs=60, patience=2), quiet=True)
    result = learner.fit()
    assert result.stopped.kind == "patience" and "did not improve for 2 epochs" in result.stopped_because
    assert len(result.history) < 60
    best = max(e.valid_accuracy for e in result.history)
    assert learner.validate()[1] == pytest.approx(best)
    assert result.best_epoch == max(result.history, key=lambda e: e.valid_accuracy).epoch == learner.best.epoch


def test_time_limit_stops_and_says_so(splits, tmp_path):
    learner = digit_learner(splits, Settings(batch_size=16), Rules(epochs=10_000, time_limit=0.3), quiet=True)
    learner.save(tmp_path / "c.safetensors")
    from sevensteps.callbacks import Checkpointer

    learner.add_cb(Checkpointer(tmp_path / "c.safetensors"))
    result = learner.fit()
    assert result.stopped.kind == "time" and "time limit of 0.3s" in result.stopped_because
    assert len(result.history) < 10_000
    resumed = digit_learner(splits, Settings(batch_size=16), Rules(epochs=10_000, time_limit=0.6), quiet=True)
    resumed.load(tmp_path / "c.safetensors")  # more time: it goes on from where it stopped
    more = resumed.fit()
    assert len(more.history) > len(result.history) and "time limit of 0.6s" in more.stopped_because


def test_non_finite_loss_stops_at_once_and_keeps_good_weights():
    ten = load_splits("sample", digits=None)
    learner = make(ten, epochs=5, lr=1e38)  # weights overflow float32 within a few steps
    learner.lr_hint = "--lr {lr:g}"
    result = learner.fit()
    assert result.stopped.kind == "non_finite" and "try --lr 1e+37" in result.stopped_because
    assert "became" in result.stopped_because or "non-finite" in result.stopped_because
    assert len(result.history) < 5
    assert all(np.isfinite(v).all() for v in weights(learner).values())


def test_resumed_run_is_bit_identical(splits, tmp_path):
    straight = make(splits, epochs=4, model="mlp", lr=0.5, batch_size=64)
    straight.fit()
    first = make(splits, epochs=2, model="mlp", lr=0.5, batch_size=64)
    first.fit()
    first.save(tmp_path / "ckpt.safetensors")
    resumed = make(splits, epochs=4, model="mlp", lr=0.5, batch_size=64)
    resumed.load(tmp_path / "ckpt.safetensors")
    result = resumed.fit()
    assert [e.epoch for e in result.history] == [1, 2, 3, 4]
    for k, v in weights(straight).items():
        assert np.array_equal(v, weights(resumed)[k]), k


def test_resume_with_momentum_and_adam_keeps_optimizer_state(splits, tmp_path):
    for optimizer, lr in (("momentum", 0.1), ("adam", 0.01)):
        straight = make(splits, epochs=3, optimizer=optimizer, lr=lr)
        straight.fit()
        first = make(splits, epochs=1, optimizer=optimizer, lr=lr)
        first.fit()
        first.save(tmp_path / f"{optimizer}.safetensors")
        resumed = make(splits, epochs=3, optimizer=optimizer, lr=lr)
        resumed.load(tmp_path / f"{optimizer}.safetensors")
        resumed.fit()
        for k, v in weights(straight).items():
            assert np.array_equal(v, weights(resumed)[k]), (optimizer, k)


def test_model_file_round_trip_and_checks(splits, tmp_path):
    learner = make(splits, epochs=1, model="mlp")
    learner.fit()
    path = tmp_path / "model.safetensors"
    save_model(learner, path)
    model, meta = load_model(path)
    assert meta["model"] == "mlp" and meta["classes"] == [3, 7] and meta["input_size"] == [28, 28]
    assert "sevensteps" in meta["versions"]
    for name, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), learner.model.state_dict()[name].numpy())
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        load_model(tmp_path / "cut.safetensors")
    learner.save(tmp_path / "ckpt.safetensors")
    with pytest.raises(ModelFileError, match="is not a sevensteps-model file"):
        load_model(tmp_path / "ckpt.safetensors")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")


def test_settings_are_checked(splits):
    with pytest.raises(ValueError, match="does not fit"):
        make(splits, loss="cross_entropy")
    with pytest.raises(ValueError, match="optimizer"):
        make(splits, optimizer="lbfgs")


def test_weight_snapshots_stay_bounded(splits, tmp_path):
    snapshots = WeightSnapshots(keep=8)
    make(splits, epochs=60, cbs=[snapshots], batch_size=800).fit()
    assert len(snapshots.snapshots) <= 8 and {0, 1, 60} <= set(snapshots.snapshots)
    snapshots.save(tmp_path / "s.safetensors")
    again = WeightSnapshots(keep=8)
    again.load(tmp_path / "s.safetensors")
    assert sorted(again.snapshots) == sorted(snapshots.snapshots) and again.stride == snapshots.stride


# ---------------------------------------------------------------- the open Learner


def pairs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    return list(zip(ss.tensor(x), ss.tensor(y), strict=True))


def small_dls(n=64):
    return DataLoaders(DataLoader(pairs(n), 16, shuffle=True), DataLoader(pairs(32, 1), 16))


def test_any_model_loss_optimizer_and_metric():
    class BasicOptim:
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def step(self):
            for p in self.params:
                p.data -= p.grad.data * self.lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

    w = (ss.randn(4, 1) * 0.1).requires_grad_()
    b = ss.zeros(1).requires_grad_()

    def model(xb):
        return xb @ w + b

    def batch_accuracy(preds, yb):
        return ((preds.sigmoid() > 0.5).float() == yb).float().mean()

    learn = Learner(small_dls(512), model, F.mnist_loss, opt_func=BasicOptim, metrics=batch_accuracy, params=[w, b],
                    quiet=True)
    learn.fit(20, lr=1.0)
    assert learn.recorder.values[-1][2] >= 0.9 and learn.recorder.values[-1][1] < learn.start_valid_loss / 2
    assert "batch_accuracy" in learn.history[-1].metrics


@pytest.mark.parametrize("build, message", [
    (lambda: Learner(DataLoaders(DataLoader([], 4), DataLoader(pairs(8), 4)), nn.Linear(4, 1), F.mnist_loss),
     "training data set is empty"),
    (lambda: Learner(DataLoaders(DataLoader(list(range(8)), 4), DataLoader(pairs(8), 4)), nn.Linear(4, 1),
                     F.mnist_loss), r"not \(x, y\) pairs"),
    (lambda: Learner(small_dls(), nn.Linear(4, 3), F.mnist_loss), "gave|broadcast|failed"),
    (lambda: Learner(DataLoaders(DataLoader([(x, y[0]) for x, y in pairs(8)], 4), DataLoader(pairs(8), 4)),
                     nn.Linear(4, 1), F.mnist_loss), r"broadcast.*unsqueeze"),
    (lambda: Learner(small_dls(), nn.Linear(4, 1), lambda p, t: (p - t) ** 2), "not one number"),
    (lambda: Learner(small_dls(), nn.Linear(4, 1), F.mnist_loss, opt_func=lambda params, lr: object()),
     "without a step"),
    (lambda: Learner(small_dls(), nn.Linear(4, 1), F.mnist_loss, metrics=[lambda p, t: 1 / 0]),
     "metric <lambda> failed"),
])
def test_bad_input_is_one_clear_sentence_before_the_first_batch(build, message):
    with pytest.raises(LearnerError, match=message):
        build().fit(1)


def test_a_function_model_needs_its_params():
    with pytest.raises(LearnerError, match="params="):
        Learner(small_dls(), lambda x: x, F.mnist_loss)


def test_learning_rate_diagnosis_in_words(splits):
    stuck = make(splits, epochs=3, model="mlp", lr=100)
    stuck.fit()
    assert stuck.diagnosis is not None and stuck.diagnosis.kind in ("saturated", "diverges")
    slow = make(splits, epochs=3, lr=1e-5)
    slow.fit()
    assert slow.diagnosis.kind == "barely_moves" and "too low" in slow.diagnosis.message
    good = make(splits, epochs=3)
    good.fit()
    assert good.diagnosis is None


def test_epoch_table_names_metric_columns_and_warns():
    out = io.StringIO()
    learn = Learner(small_dls(), nn.Linear(4, 1), F.mnist_loss, lr=1e-7, metrics=accuracy, quiet=True,
                    cbs=[EpochTable(file=out)])
    learn.fit(3)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert lines[3].startswith("Warning: the validation loss barely moved")  # right after epoch 2, said once
    assert sum(line.startswith("Warning") for line in lines) == 1
    page = html_table(["epoch", "accuracy"], [["1", "50.00%"]], "a <note>")
    assert "<td>50.00%</td>" in page and "&lt;note&gt;" in page and "\033" not in page


def test_lr_find_suggests_a_rate_and_restores_the_weights(splits):
    learner = make(splits)
    learner.init()
    before = weights(learner)
    found = learner.lr_find(num_it=40)
    assert 1e-7 <= found.suggestion <= 10 and len(found.lrs) == len(found.losses) <= 40
    assert all(np.array_equal(v, weights(learner)[k]) for k, v in before.items())
    assert found.plot().axes[0].get_xscale() == "log"


def test_export_and_load_learner(tmp_path):
    learn = Learner(small_dls(), nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), F.mnist_loss,
                    metrics=accuracy, lr=0.5, quiet=True)
    learn.fit(3)
    export(learn, tmp_path / "learner.safetensors")
    again = load_learner(tmp_path / "learner.safetensors")
    assert np.array_equal(learn.get_preds()[0].numpy(), again.get_preds(learn.dls.valid)[0].numpy())
    assert again.metrics == [accuracy] and again.loss_func is F.mnist_loss
    with pytest.raises(ValueError, match="lambda"):
        Learner(small_dls(), nn.Linear(4, 1), lambda p, t: F.mnist_loss(p, t), quiet=True).export(tmp_path / "x")
    assert "Learner(model=Sequential" in repr(learn)


class Terminal(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bar_only_on_a_terminal_and_only_for_slow_epochs():
    for tty, delay, drawn in ((True, 0.0, True), (True, 60.0, False), (False, 0.0, False)):
        screen = Terminal(tty)
        Learner(small_dls(), nn.Linear(4, 1), F.mnist_loss, quiet=True, cbs=[ProgressBar(delay, screen)]).fit(2)
        assert ("batch" in screen.getvalue()) == drawn, (tty, delay)


def test_a_background_thread_can_drive_the_learner_step_by_step():
    """The live lab's way: fit on a worker thread, a callback that waits at before_step, a stop from outside."""
    import threading

    class Gate:
        def __init__(self):
            self.arrived, self.go, self.seen = threading.Event(), threading.Event(), []

        def before_step(self, learn):
            self.seen.append((learn.epoch, learn.batch, threading.current_thread().name))
            self.arrived.set()
            self.go.wait(timeout=30)

    gate = Gate()
    learn = Learner(small_dls(), nn.Linear(4, 1), F.mnist_loss, quiet=True, cbs=[gate])
    results = []
    worker = threading.Thread(target=lambda: results.append(learn.fit(50)), name="fitter")
    worker.start()
    assert gate.arrived.wait(timeout=30)
    assert gate.seen == [(1, 1, "fitter")]  # paused before the first step, on the fitting thread
    learn.request_stop("stop button")
    gate.go.set()
    worker.join(timeout=30)
    assert results[0].interrupted and results[0].stopped.message == "stop button" and learn.epoch == 0


def test_each_epoch_records_the_mean_gradient_norm(splits):
    """Step 4's size per epoch (for the report), equal to the mean of ‖∇‖ measured independently per batch."""

    class Norms:
        def before_epoch(self, learn):
            self.norms = []

        def after_gradient(self, learn):
            self.norms.append(np.sqrt(sum((p.grad.data.astype(np.float64) ** 2).sum() for p in learn.params)))

        def after_epoch(self, learn):
            self.mean = float(np.mean(self.norms))

    norms = Norms()
    learner = make(splits, epochs=2, cbs=[norms])
    learner.fit()
    rows = [e.to_dict() for e in learner.history]
    assert all(row["grad_norm"] > 0 for row in rows)
    assert rows[-1]["grad_norm"] == pytest.approx(norms.mean, rel=1e-9)
    assert rows[0]["grad_norm"] != rows[1]["grad_norm"]
