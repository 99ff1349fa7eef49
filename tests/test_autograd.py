"""The engine's behaviour around the ops: graphs, accumulation, no_grad, freeing, dtypes, stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sevensteps as ss
import sevensteps.functional as F
from sevensteps.autograd import unbroadcast


def test_chapter_gradients():
    x = ss.tensor(3.0, requires_grad=True)
    (x**2).backward()
    assert x.grad.item() == 6.0
    x = ss.tensor([3.0, 4.0, 10.0], requires_grad=True)
    (x**2).sum().backward()
    assert x.grad.tolist() == [6.0, 8.0, 20.0]


def test_a_100000_op_chain_backpropagates_without_recursion_error():
    x = ss.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_repeated_backward_accumulates_and_zero_grad_clears():
    w = ss.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [6.0, 6.0]
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    (tw * 3).sum().backward()
    (tw * 3).sum().backward()
    assert w.grad.tolist() == tw.grad.tolist()
    model = ss.nn.Linear(2, 1)
    model(ss.ones(1, 2)).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_a_tensor_used_twice_gets_both_gradients():
    x = ss.tensor(3.0, requires_grad=True)
    (x * x + x).backward()
    assert x.grad.item() == 7.0


def test_shared_gradient_arrays_are_not_aliased_between_leaves():
    a = ss.tensor([1.0, 2.0], requires_grad=True)
    b = ss.tensor([1.0, 2.0], requires_grad=True)
    (a + b).exp().sum().backward()
    a.grad.data *= 0
    assert b.grad.data.sum() > 0


def test_no_grad_records_nothing_and_restores_state():
    w = ss.tensor([1.0], requires_grad=True)
    with ss.no_grad():
        y = w * 2
        assert not ss.is_grad_enabled()
    assert ss.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad

    @ss.no_grad()
    def predict(t):
        return t * 2

    assert not predict(w).requires_grad


def test_second_backward_through_a_freed_graph_is_a_clear_error():
    w = ss.tensor([1.0, 2.0], requires_grad=True)
    loss = (w.exp() * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    w = ss.tensor([1.0, 2.0], requires_grad=True)
    loss = (w.exp() * 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 4 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_backward_needs_a_gradient_for_non_scalar_outputs():
    w = ss.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="explicit gradient"):
        (w * 2).backward()
    (w * 2).backward(ss.tensor([1.0, 0.5]))
    assert w.grad.tolist() == [2.0, 1.0]


def test_backward_without_a_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ss.tensor([1.0]).sum().backward()


def test_retain_grad_keeps_an_intermediate_gradient():
    x = ss.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]


def test_unbroadcast_sums_stretched_axes_and_checks_shapes():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 1)).tolist() == [[8.0]] * 3
    assert unbroadcast(g, ()).item() == 24.0
    with pytest.raises(RuntimeError, match="cannot be reduced"):
        unbroadcast(g, (5, 4))


def test_dtypes_follow_the_rules():
    assert ss.tensor([1.0, 2.0]).dtype == np.float32
    assert ss.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64  # an array keeps its dtype, as in PyTorch
    assert ss.tensor([1.0], dtype="float64").dtype == np.float64
    assert ss.tensor([1, 2]).dtype.kind == "i"
    assert ss.tensor([True, False]).dtype == np.bool_
    assert (ss.tensor([1.0]) * 2.5).dtype == np.float32
    assert ss.arange(3).dtype.kind == "i"
    assert ss.arange(0, 1, 0.5).dtype == np.float32
    with pytest.raises(RuntimeError, match="floating"):
        ss.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="unknown dtype"):
        ss.tensor([1.0], dtype="float99")


def test_tensor_copies_its_input():
    data = np.zeros(3, dtype=np.float32)
    t = ss.tensor(data)
    data[0] = 5
    assert t.tolist() == [0.0, 0.0, 0.0]


def test_seeded_randomness_is_reproducible():
    ss.manual_seed(7)
    a = ss.randn(5)
    ss.manual_seed(7)
    b = ss.randn(5)
    assert a.tolist() == b.tolist()
    g1, g2 = ss.Generator(3), ss.Generator(3)
    assert ss.rand(4, generator=g1).tolist() == ss.rand(4, generator=g2).tolist()
    state = g1.get_state()
    first = ss.randn(3, generator=g1).tolist()
    g1.set_state(state)
    assert ss.randn(3, generator=g1).tolist() == first


def test_in_place_updates_are_refused_while_recording():
    w = ss.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        w -= 1
    with ss.no_grad():
        w -= 1
    assert w.item() == 0.0 and w.requires_grad


def test_max_with_dim_returns_values_and_indices_like_pytorch():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], dtype=np.float32)
    ours, theirs = ss.tensor(a).max(dim=1), torch.tensor(a).max(dim=1)
    assert ours.values.tolist() == theirs.values.tolist()
    assert ours.indices.tolist() == theirs.indices.tolist()
    assert ss.tensor(a).argmax(1).tolist() == [1, 0]


def test_reshape_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"\(4, 4\)"):
        ss.zeros(3, 5).reshape(4, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_are_finite_for_extreme_logits(dtype):
    logits = ss.Tensor(np.array([[1e4], [-1e4], [0.0], [3.0]], dtype=dtype), requires_grad=True)
    targets = ss.tensor([[1], [0], [1], [0]])
    for loss_fn in (F.mnist_loss, F.binary_cross_entropy_with_logits):
        logits.grad = None
        loss = loss_fn(logits, targets)
        loss.backward()
        assert np.isfinite(loss.item()) and np.isfinite(logits.grad.numpy()).all()
    wrong = ss.Tensor(np.array([[-1e4], [1e4]], dtype=dtype), requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(wrong, ss.tensor([[1], [0]]))
    assert bce.item() == pytest.approx(1e4, rel=1e-6)
    many = ss.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype), requires_grad=True)
    ce = F.cross_entropy(many, ss.tensor([1, 2]))
    ce.backward()
    reference = torch.nn.functional.cross_entropy(torch.tensor(many.numpy()), torch.tensor([1, 2]))
    assert ce.item() == pytest.approx(reference.item(), rel=1e-6)
    assert np.isfinite(many.grad.numpy()).all()
    for t in (many.softmax(1), many.log_softmax(1), many.sigmoid()):
        assert np.isfinite(t.numpy()).all()


def test_loss_shape_checks():
    with pytest.raises(ValueError, match="does not match"):
        F.mnist_loss(ss.zeros(4, 1), ss.zeros(3))
    assert F.mnist_loss(ss.zeros(4, 1), ss.tensor([1, 0, 1, 0])).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(ss.zeros(2, 3), ss.tensor([0, 3]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(ss.zeros(2), ss.zeros(2), reduction="avg")


def test_grads_never_share_memory_with_the_seed_or_each_other():
    w = ss.tensor([1.0, 2.0], requires_grad=True)
    seed = np.ones(2, dtype=np.float32)
    (w + 0.0).backward(ss.Tensor(seed))
    seed[0] = 100
    assert w.grad.tolist() == [1.0, 1.0]
    a = ss.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = ss.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    c = ss.tensor([1.0, 2.0, 3.0, 4.0])
    ((a.reshape(4) + b) * c).sum().backward()  # a gets a view of the array b gets
    a.grad.data[...] = 0
    assert b.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_linear_weight_keeps_its_layout_through_training():
    layer = ss.nn.Linear(5, 3)
    opt = ss.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        layer(ss.randn(4, 5)).sum().backward()
        assert layer.weight.grad.shape == (3, 5)
        opt.step()
        opt.zero_grad()
    assert layer.weight.shape == (3, 5) and layer.weight.data.flags.f_contiguous


def test_backward_runs_newest_op_first_through_a_changed_intermediate_like_pytorch():
    """Contexts are numbered as ops run; an in-place change between two uses adds a newer context, and the
    order (newest first) still gives PyTorch's gradients."""
    x = ss.tensor([1.0, -2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for a in (x, tx):
        y = a * 2
        z = y + 1
        y += a * a  # y changes after z used it: a newer node, with the old y's node as its parent
        (z * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    first, second = x * 1, x * 2
    assert first.grad_fn.sequence < second.grad_fn.sequence < (first + second).grad_fn.sequence
