"""Issue #14: each defect found against PyTorch 2.13.0, reproduced here, now with PyTorch's answer.

Every test runs the same lines in sevensteps and in PyTorch and compares values, gradients, dtypes or the
kind of error. The op-by-op table in test_ops.py covers the new ops on random shapes; this file covers the
behaviours around them (graphs, in-place changes, modules, dtypes, errors).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch_twins import close, twins

import sevensteps as ss
import sevensteps.nn as nn
import sevensteps.nn.functional as F

TF = torch.nn.functional




def torch_twin(linear: nn.Linear) -> torch.nn.Linear:
    twin = torch.nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(np.ascontiguousarray(linear.weight.data)))
        if linear.bias is not None:
            twin.bias.copy_(torch.from_numpy(linear.bias.data))
    return twin


# ---------------------------------------------------------------- 1-2: modules


def test_a_module_used_twice_is_one_set_of_weights_stepped_once():
    layer = nn.Linear(3, 3, generator=ss.Generator(0))
    model = nn.Sequential(layer, nn.ReLU(), layer)
    twin_layer = torch_twin(layer)
    twin = torch.nn.Sequential(twin_layer, torch.nn.ReLU(), twin_layer)
    assert len(list(model.parameters())) == len(list(twin.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert list(model.state_dict()) == list(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    opt, twin_opt = ss.optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    model(ss.tensor(x)).sum().backward()
    twin(torch.tensor(x)).sum().backward()
    opt.step()
    twin_opt.step()
    close(layer.weight, twin_layer.weight, 1e-6)


def test_sequential_from_an_ordered_dict_names_its_layers():
    fc = nn.Linear(4, 2, generator=ss.Generator(1))
    model = nn.Sequential(OrderedDict([("fc", fc), ("act", nn.Sigmoid())]))
    twin = torch.nn.Sequential(OrderedDict([("fc", torch_twin(fc)), ("act", torch.nn.Sigmoid())]))
    x = np.ones((2, 4), dtype=np.float32)
    close(model(ss.tensor(x)), twin(torch.tensor(x)))
    assert list(model.state_dict()) == list(twin.state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(model) == repr(twin)


# ---------------------------------------------------------------- 3-6: the graph


def test_clone_is_differentiable():
    (x,), (tx,) = twins([1.0, 2.0])
    (x.clone() * 3).sum().backward()
    (tx.clone() * 3).sum().backward()
    close(x.grad, tx.grad)


@pytest.mark.parametrize("convert", ["double", "float", "to"])
def test_dtype_conversions_keep_the_graph(convert):
    x = ss.tensor([1.0, 2.0], dtype="float32", requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ours = {"double": lambda t: t.double(), "float": lambda t: t.double().float(),
            "to": lambda t: t.to(ss.float64)}[convert]
    theirs = {"double": lambda t: t.double(), "float": lambda t: t.double().float(),
              "to": lambda t: t.to(torch.float64)}[convert]
    (ours(x) ** 2).sum().backward()
    (theirs(tx) ** 2).sum().backward()
    assert x.grad.dtype == np.float32
    close(x.grad, tx.grad)


def test_setitem_on_a_tensor_in_the_graph_is_recorded():
    (x,), (tx,) = twins([1.0, 2.0, 3.0])
    y, ty = x * 2, tx * 2
    y[0] = 0.0
    ty[0] = 0.0
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad)
    assert x.grad.tolist() == [0.0, 2.0, 2.0]


def test_setitem_of_a_tensor_that_requires_grad_into_a_plain_tensor():
    (w,), (tw,) = twins([5.0, 6.0])
    z, tz = ss.zeros(3, 2, dtype="float64"), torch.zeros(3, 2, dtype=torch.float64)
    z[1] = w
    tz[1] = tw
    (z * z).sum().backward()
    (tz * tz).sum().backward()
    close(w.grad, tw.grad)


def test_a_saved_tensor_changed_in_place_is_refused_like_pytorch():
    (a, w), (ta, tw) = twins([1.0, 2.0], [3.0, 4.0])
    a.requires_grad_(False)
    ta.requires_grad_(False)
    loss, tloss = (a * w).sum(), (ta * tw).sum()
    a += 10
    ta += 10
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_view_changed_in_place_is_refused_too():
    a = ss.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = ss.tensor([1.0, 1.0], requires_grad=True)
    loss = (a * w).sum()
    a[0] += 5  # a[0] is a view of a: they share one version counter
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_an_optimizer_step_makes_an_older_graph_stale():
    model = nn.Linear(2, 1)
    opt = ss.optim.SGD(model.parameters(), lr=0.1)
    loss = (model(ss.ones(3, 2)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_changing_a_result_that_no_backward_needs_is_fine():
    """c = x * 2 saves x, not c: changing c in place leaves the gradient right (as in PyTorch)."""
    (x,), (tx,) = twins([1.0, 2.0])
    c, tc = x * 2, tx * 2
    c += c + 1  # in-place add on a non-leaf: recorded, as in PyTorch
    tc += tc + 1
    c *= x
    tc *= tx
    c.sum().backward()
    tc.sum().backward()
    close(c, tc)
    close(x.grad, tx.grad)


def test_changing_a_saved_output_in_place_is_refused():
    (x,), (tx,) = twins([1.0, 2.0])
    y, ty = x.exp(), tx.exp()
    y += 1
    ty += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_in_place_on_a_leaf_that_requires_grad_is_refused_while_recording():
    (w,), (tw,) = twins([1.0])
    with pytest.raises(RuntimeError, match="leaf"):
        tw += 1
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf"):
        w[0] = 2.0
    with ss.no_grad():
        w -= 1
        w[0] *= 3
    assert w.item() == 0.0 and w.requires_grad and w.is_leaf


# ---------------------------------------------------------------- 7: dims


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(3, 1).squeeze(3),
    lambda lib: lib.zeros(3).unsqueeze(5),
    lambda lib: lib.zeros(2, 3).flatten(3),
    lambda lib: lib.zeros(2, 3).transpose(0, 2),
    lambda lib: lib.zeros(2, 3).sum(2),
    lambda lib: lib.zeros(2, 3).softmax(-3),
    lambda lib: lib.zeros(2, 3).max(2),
    lambda lib: lib.zeros(2, 3).argmax(5),
    lambda lib: lib.cat([lib.zeros(2), lib.zeros(2)], 1),
])
def test_out_of_range_dims_raise_like_pytorch(call):
    with pytest.raises(IndexError) as theirs:
        call(torch)
    with pytest.raises(IndexError, match="Dimension out of range") as ours:
        call(ss)
    assert str(ours.value).split("(")[0] == str(theirs.value).split("(")[0]


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(3, 1, 1).squeeze((0, 2)),
    lambda lib: lib.zeros(1, 3, 1).squeeze((0, 2)),
    lambda lib: lib.tensor(5.0).max(0),
    lambda lib: lib.tensor(5.0).unsqueeze(-1),
    lambda lib: lib.zeros(3, 0).softmax(-1),
    lambda lib: lib.zeros(3, 0).log_softmax(0),
    lambda lib: lib.tensor([1.0, 5.0]).max(lib.tensor([3.0, 2.0])),
    lambda lib: lib.tensor([1.0, 5.0]).min(lib.tensor([3.0, 2.0])),
    lambda lib: lib.tensor([1.0]).to("cpu"),
    lambda lib: lib.zeros(2, 3, 4).flatten(1),
    lambda lib: lib.zeros(2, 3, 4).flatten(0, 1),
])
def test_calls_that_used_to_fail_give_pytorchs_result(call):
    ours, theirs = call(ss), call(torch)
    if isinstance(theirs, tuple):
        for o, t in zip(ours, theirs, strict=True):
            close(o, t)
    else:
        close(ours, theirs)


# ---------------------------------------------------------------- 8-9: gradients at edges


def test_pow_at_base_zero_has_pytorchs_gradients():
    (x,), (tx,) = twins([0.0])
    (x**0).sum().backward()
    (tx**0).sum().backward()
    assert x.grad.tolist() == tx.grad.tolist() == [0.0]
    (a, b), (ta, tb) = twins([0.0, 0.0], [2.0, 0.5])
    (a**b).sum().backward()
    (ta**tb).sum().backward()
    close(a.grad, ta.grad)
    close(b.grad, tb.grad)
    assert np.isfinite(b.grad.data).all()


def test_clamp_with_tensor_bounds_gives_the_bounds_gradients():
    (x, lo, hi), (tx, tlo, thi) = twins([-2.0, 0.0, 2.0, 0.5], [-1.0, -1.0, -1.0, 1.0], [1.0, 1.0, 1.0, 0.0])
    x.clamp(lo, hi).sum().backward()
    tx.clamp(tlo, thi).sum().backward()
    for ours, theirs in [(x, tx), (lo, tlo), (hi, thi)]:
        close(ours.grad, theirs.grad)


# ---------------------------------------------------------------- 10: dtypes


@pytest.mark.parametrize("expr", [
    lambda lib: lib.tensor([1, 2]) * 1.5,
    lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 2]),
    lambda lib: lib.tensor([1, 2]) * lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([1.0, 2.0]) * np.float64(2.0),
    lambda lib: lib.tensor([1.0, 2.0]) * lib.tensor(2.0, dtype=lib.float64),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64) * lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([True, False]) + 1,
    lambda lib: lib.tensor([True, False]) * 1.5,
    lambda lib: lib.tensor([1, 2], dtype=lib.int32) + lib.tensor(3),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32) + lib.tensor([3]),
    lambda lib: lib.tensor([1, 2]) ** 2,
    lambda lib: lib.tensor([1, 2]).exp(),
    lambda lib: lib.tensor([1, 2]).sum(),
    lambda lib: lib.tensor(np.zeros(2, dtype=np.float64)),
    lambda lib: lib.tensor(np.zeros(2, dtype=np.int32)),
    lambda lib: lib.tensor([1.5, 2]),
    lambda lib: lib.Tensor([1, 2]),
    lambda lib: lib.full((2,), 7),
    lambda lib: lib.full((2,), 7.0),
    lambda lib: lib.full((2,), True),
    lambda lib: lib.arange(3),
    lambda lib: lib.arange(0, 1, 0.25),
    lambda lib: lib.where(lib.tensor([True, False]), 1.0, 0.0),
    lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0.5),
    lambda lib: lib.cat([lib.tensor([1]), lib.tensor([1.0])]),
    lambda lib: lib.tensor([1.0]) < 2,
    lambda lib: lib.tensor([1, 2]).float(),
    lambda lib: lib.tensor([1.0, 2.0]).long(),
    lambda lib: lib.tensor([1.0, 2.0]).int(),
    lambda lib: lib.tensor([3, 4]).argmax(),
    lambda lib: lib.eye(2),
    lambda lib: lib.linspace(0, 1, 5),
    lambda lib: lib.randint(0, 5, (3,)),
    lambda lib: lib.zeros(2, dtype=lib.int64) + 0.5,
])
def test_result_dtypes_follow_pytorch(expr):
    ours, theirs = expr(ss), expr(torch)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    if expr.__code__.co_names[-1:] != ("randint",):
        close(ours, theirs)


# ---------------------------------------------------------------- 11: losses and modules


def test_cross_entropy_of_an_empty_batch_is_nan():
    ours = F.cross_entropy(ss.zeros(0, 3), ss.tensor(np.zeros(0, dtype=np.int64)))
    theirs = TF.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    assert np.isnan(ours.item()) and torch.isnan(theirs)


def test_reassigning_a_weight_keeps_its_place():
    lin, twin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    lin.weight = nn.Parameter(ss.zeros(2, 2))
    twin.weight = torch.nn.Parameter(torch.zeros(2, 2))
    assert [n for n, _ in lin.named_parameters()] == [n for n, _ in twin.named_parameters()] == ["weight", "bias"]


def test_load_state_dict_reports_missing_and_unexpected_keys():
    lin, twin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours = lin.load_state_dict({"weight": np.zeros((2, 2), np.float32), "extra": np.zeros(1)}, strict=False)
    theirs = twin.load_state_dict({"weight": torch.zeros(2, 2), "extra": torch.zeros(1)}, strict=False)
    assert ours.missing_keys == theirs.missing_keys == ["bias"]
    assert ours.unexpected_keys == theirs.unexpected_keys == ["extra"]
    assert (lin.weight.data == 0).all()
    with pytest.raises(RuntimeError, match="missing"):
        lin.load_state_dict({"weight": np.zeros((2, 2), np.float32)})


def test_frozen_layers_are_allowed_in_an_optimizer_and_do_not_move():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    model[0].requires_grad_(False)
    before = model[0].weight.data.copy()
    opt = ss.optim.SGD(model.parameters(), lr=0.5)
    model(ss.ones(4, 3)).sum().backward()
    opt.step()
    assert model[0].weight.grad is None
    assert (model[0].weight.data == before).all()
    assert model[2].weight.grad is not None


def test_a_view_whose_base_changed_in_place_is_refused_not_wrong():
    """PyTorch re-derives the view's graph from the changed base; sevensteps refuses instead of a wrong gradient."""
    (x,), (tx,) = twins([1.0, 2.0, 3.0])
    y, ty = x * 2, tx * 2
    v, tv = y[0:2], ty[0:2]
    y.mul_(3)
    ty.mul_(3)
    close(v, tv)  # the view sees the change in both
    tv.sum().backward()
    assert tx.grad.tolist() == [6.0, 6.0, 0.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        v.sum().backward()


def test_a_view_changed_in_place_while_recording_is_a_clear_error():
    (x,), _ = twins([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="view"):
        y[0:2].mul_(3)
    with pytest.raises(RuntimeError, match="view of a leaf"):
        x[0:2].mul_(3)
