"""Convolution, pooling, dropout and batch norm: forward and backward against PyTorch 2.13 and finite differences.

Shapes, strides, paddings and dilations are drawn by hypothesis (odd sizes and batch 1 included); every case
is small so that the whole file stays fast.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from split_threads import split_over
from torch_twins import twin_cnn

import sevensteps as ss
from sevensteps import conv, layers, recipes

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ours(array: np.ndarray) -> ss.Tensor:
    return ss.Tensor(array.copy(), requires_grad=True)


def theirs(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array.copy(), requires_grad=True)


def backward_both(out: ss.Tensor, out_t: torch.Tensor, rng: np.random.Generator) -> None:
    """Backpropagate the same random output gradient through both sides."""
    assert out.shape == tuple(out_t.shape)
    g = rng.standard_normal(out.shape).astype(out.dtype)
    out.backward(ss.Tensor(g))
    out_t.backward(torch.tensor(g))


def assert_close(a, b, atol: float = 1e-10) -> None:
    a = a.data if isinstance(a, ss.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=1e-6 if a.dtype == np.float64 else 1e-4, atol=atol)


@st.composite
def conv_case(draw):
    """A convolution whose (dilated) kernel fits in the padded input."""
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    assume(all(d * (k - 1) + 1 <= size + 2 * p
               for k, d, size, p in zip(kernel, dilation, (h, w), padding, strict=True)))
    return (n, c, h, w), o, kernel, stride, padding, dilation, draw(st.booleans())


@pytest.mark.parametrize("threads", [1, 3], ids=["one-thread", "split-over-3-threads"])
@SETTINGS
@given(conv_case(), st.integers(0, 2**32 - 1))
def test_conv2d_matches_torch(threads, case, seed):
    shape, o, kernel, stride, padding, dilation, with_bias = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((o, shape[1], *kernel)), rng.standard_normal(o)
    xs, ws, bs = ours(x), ours(w), ours(b) if with_bias else None
    xt, wt, bt = theirs(x), theirs(w), theirs(b) if with_bias else None
    with split_over(threads):  # the gather, the three products and col2im, each in parts on threads
        out = conv.conv2d(xs, ws, bs, stride, padding, dilation)
        out_t = TF.conv2d(xt, wt, bt, stride, padding, dilation)
        assert_close(out, out_t)
        backward_both(out, out_t, rng)
    assert_close(xs.grad, xt.grad)
    assert_close(ws.grad, wt.grad)
    if with_bias:
        assert_close(bs.grad, bt.grad)


def every_window_reaches_the_image(size: int, kernel: int, stride: int, padding: int, dilation: int) -> bool:
    """False if some window (with dilation) reads only padding: PyTorch then routes its gradient arbitrarily."""
    outputs = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    return all(any(padding <= i * stride + k * dilation < padding + size for k in range(kernel))
               for i in range(outputs))


@st.composite
def pool_case(draw, dilation: bool = True):
    """A pooling window that fits, with padding at most half the kernel (PyTorch's rule)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    dims = list(zip((h, w), kernel, stride, padding, dil, strict=True))
    assume(all(d * (k - 1) + 1 <= size + 2 * p for size, k, _, p, d in dims))
    assume(all(every_window_reaches_the_image(*dim) for dim in dims))
    return (n, c, h, w), kernel, stride, padding, dil


@pytest.mark.parametrize("threads", [1, 3], ids=["one-thread", "split-over-3-threads"])
@SETTINGS
@given(pool_case(), st.integers(0, 2**32 - 1))
def test_max_pool2d_matches_torch(threads, case, seed):
    shape, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    xs, xt = ours(x), theirs(x)
    with split_over(threads):  # the channels in parts on threads
        out = conv.max_pool2d(xs, kernel, stride, padding, dilation)
        out_t = TF.max_pool2d(xt, kernel, stride, padding, dilation)
        assert_close(out, out_t)
        with ss.no_grad():  # without a gradient to come, forward skips remembering the winners
            assert_close(conv.max_pool2d(xs, kernel, stride, padding, dilation), out_t)
        backward_both(out, out_t, rng)
    assert_close(xs.grad, xt.grad)


def test_max_pool2d_sends_a_tie_to_the_first_position_as_torch_does():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [2.0, 0.0, 2.0]]]])
    xs, xt = ours(x), theirs(x)
    out, out_t = conv.max_pool2d(xs, 2, 1), TF.max_pool2d(xt, 2, 1)
    backward_both(out, out_t, np.random.default_rng(0))
    assert_close(xs.grad, xt.grad)


@SETTINGS
@given(pool_case(dilation=False), st.booleans(), st.integers(0, 2**32 - 1))
def test_avg_pool2d_matches_torch(case, count_include_pad, seed):
    shape, kernel, stride, padding, _ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    xs, xt = ours(x), theirs(x)
    out = conv.avg_pool2d(xs, kernel, stride, padding, count_include_pad=count_include_pad)
    out_t = TF.avg_pool2d(xt, kernel, stride, padding, count_include_pad=count_include_pad)
    assert_close(out, out_t)
    backward_both(out, out_t, rng)
    assert_close(xs.grad, xt.grad)


def test_avg_pool2d_divisor_override_matches_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    xs, xt = ours(x), theirs(x)
    out, out_t = conv.avg_pool2d(xs, 2, 1, 1, divisor_override=3), TF.avg_pool2d(xt, 2, 1, 1, divisor_override=3)
    assert_close(out, out_t)
    backward_both(out, out_t, np.random.default_rng(2))
    assert_close(xs.grad, xt.grad)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_adaptive_avg_pool2d_matches_torch(n, h, w, oh, ow, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2, h, w))
    xs, xt = ours(x), theirs(x)
    out, out_t = conv.adaptive_avg_pool2d(xs, (oh, ow)), TF.adaptive_avg_pool2d(xt, (oh, ow))
    assert_close(out, out_t)
    backward_both(out, out_t, rng)
    assert_close(xs.grad, xt.grad)


def test_adaptive_avg_pool2d_none_keeps_that_size_and_int_is_square():
    x = ss.randn(2, 3, 6, 5)
    assert conv.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 6, 2)
    assert conv.adaptive_avg_pool2d(x, 1).shape == (2, 3, 1, 1)
    np.testing.assert_allclose(conv.adaptive_avg_pool2d(x, 1).data[..., 0, 0], x.data.mean(axis=(2, 3)), rtol=1e-5)


@pytest.mark.parametrize("name, fn", [
    ("conv2d stride 2 pad 1", lambda x, w, b: conv.conv2d(x, w, b, 2, 1)),
    ("conv2d dilation 2", lambda x, w, b: conv.conv2d(x, w, b, 1, 2, 2)),
    ("conv2d same", lambda x, w, b: conv.conv2d(x, w, b, padding="same")),
    ("max_pool2d", lambda x, w, b: conv.max_pool2d(conv.conv2d(x, w, b), 2, 1, 1)),
    ("avg_pool2d", lambda x, w, b: conv.avg_pool2d(conv.conv2d(x, w, b), 3, 2, 1, count_include_pad=False)),
    ("adaptive_avg_pool2d", lambda x, w, b: conv.adaptive_avg_pool2d(conv.conv2d(x, w, b), (2, 3))),
])
def test_gradients_agree_with_finite_differences(name, fn):
    rng = np.random.default_rng(3)
    x = ss.Tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    w = ss.Tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = ss.Tensor(rng.standard_normal(3), requires_grad=True)
    result = ss.gradcheck(fn, [x, w, b])
    assert result.ok(atol=1e-6, rtol=1e-5), f"{name}: {result}"


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 4, 5), (1, 3, 2, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_agree_with_finite_differences(shape, training):
    rng = np.random.default_rng(4)
    x = ss.Tensor(rng.standard_normal(shape), requires_grad=True)
    gamma = ss.Tensor(rng.uniform(0.5, 2, 3), requires_grad=True)
    beta = ss.Tensor(rng.standard_normal(3), requires_grad=True)
    mean, var = ss.Tensor(rng.standard_normal(3)), ss.Tensor(rng.uniform(0.5, 2, 3))

    def fn(x, gamma, beta):  # statistics are copied per call, so nudging does not move them
        return conv.batch_norm(x, ss.Tensor(mean.data.copy()), ss.Tensor(var.data.copy()), gamma, beta, training)

    result = ss.gradcheck(fn, [x, gamma, beta])
    assert result.ok(atol=1e-6, rtol=1e-5), str(result)


@pytest.mark.parametrize("module, torch_module, shape", [
    (lambda: layers.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4), (6, 4)),
    (lambda: layers.BatchNorm1d(4, momentum=0.3), lambda: torch.nn.BatchNorm1d(4, momentum=0.3), (3, 4, 5)),
    (lambda: layers.BatchNorm2d(4), lambda: torch.nn.BatchNorm2d(4), (2, 4, 3, 5)),
    (lambda: layers.BatchNorm2d(4, momentum=None), lambda: torch.nn.BatchNorm2d(4, momentum=None), (1, 4, 3, 3)),
    (lambda: layers.BatchNorm2d(4, affine=False), lambda: torch.nn.BatchNorm2d(4, affine=False), (2, 4, 2, 3)),
    (lambda: layers.BatchNorm2d(4, bias=False), lambda: torch.nn.BatchNorm2d(4, bias=False), (2, 4, 2, 3)),
    (lambda: layers.BatchNorm2d(4, track_running_stats=False),
     lambda: torch.nn.BatchNorm2d(4, track_running_stats=False), (3, 4, 2, 2)),
])
def test_batch_norm_modules_train_and_eval_as_torch(module, torch_module, shape):
    """Three training batches (running statistics, momentum, unbiased running_var), then evaluation."""
    rng = np.random.default_rng(5)
    ours_bn, torch_bn = module(), torch_module()
    assert repr(ours_bn) == repr(torch_bn)
    for step in range(4):
        if step == 3:
            ours_bn.eval()
            torch_bn.eval()
        x = (rng.standard_normal(shape) * 3 + step).astype(np.float32)
        xs, xt = ours(x), theirs(x)
        out, out_t = ours_bn(xs), torch_bn(xt)
        assert out.dtype == np.float32
        assert_close(out, out_t, atol=1e-5)
        backward_both(out, out_t, rng)
        assert_close(xs.grad, xt.grad, atol=1e-5)
        if ours_bn.affine:
            assert_close(ours_bn.weight.grad, torch_bn.weight.grad, atol=1e-4)
            if torch_bn.bias is not None:
                assert_close(ours_bn.bias.grad, torch_bn.bias.grad, atol=1e-4)
            ours_bn.zero_grad()
            torch_bn.zero_grad()
        if ours_bn.track_running_stats:
            assert_close(ours_bn.running_mean, torch_bn.running_mean, atol=1e-5)
            assert_close(ours_bn.running_var, torch_bn.running_var, atol=1e-5)
            assert ours_bn.num_batches_tracked == int(torch_bn.num_batches_tracked)


def test_batch_norm_refuses_a_single_value_per_channel_when_training():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*more than 1 value per channel.*\(1, 3\)"):
        layers.BatchNorm1d(3)(ss.randn(1, 3))
    layers.BatchNorm1d(3).eval()(ss.randn(1, 3))  # evaluation uses the running statistics: fine


def test_dropout_is_seeded_scaled_and_off_in_eval():
    x = ss.ones(200, 50, requires_grad=True)
    first = layers.Dropout(0.3, generator=ss.Generator(7))(x)
    again = layers.Dropout(0.3, generator=ss.Generator(7))(x)
    np.testing.assert_array_equal(first.data, again.data)
    kept = first.data != 0
    assert set(np.unique(first.data)) == {0.0, np.float32(1 / 0.7)}
    assert 0.66 < kept.mean() < 0.74  # 10,000 draws: the kept fraction is 0.7 ± 0.005 (1 sd)
    first.sum().backward()
    np.testing.assert_array_equal(x.grad.data, first.data)  # ∂x = mask / (1 − p)
    assert first.dtype == np.float32
    model = layers.Dropout(0.3, generator=ss.Generator(7))
    assert repr(model) == repr(torch.nn.Dropout(0.3))
    model.eval()
    np.testing.assert_array_equal(model(x).data, x.data)
    assert np.all(layers.Dropout(1.0)(x).data == 0)
    assert layers.Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        layers.Dropout(1.5)


def test_conv2d_module_init_repr_and_shapes_like_torch():
    layer = layers.Conv2d(3, 8, 5, stride=2, padding=1, generator=ss.Generator(0))
    twin = torch.nn.Conv2d(3, 8, 5, stride=2, padding=1)
    assert repr(layer) == repr(twin)
    assert layer.weight.shape == tuple(twin.weight.shape) and layer.bias.shape == tuple(twin.bias.shape)
    bound = 1 / np.sqrt(3 * 5 * 5)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.9 * bound
    assert layer.weight.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    for ours_layer, torch_layer in [(layers.MaxPool2d(2), torch.nn.MaxPool2d(2)),
                                    (layers.MaxPool2d((3, 2), 1, 1), torch.nn.MaxPool2d((3, 2), 1, 1)),
                                    (layers.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1)),
                                    (layers.AdaptiveAvgPool2d((2, 1)), torch.nn.AdaptiveAvgPool2d((2, 1))),
                                    (layers.Conv2d(1, 2, 3, bias=False, padding="same"),
                                     torch.nn.Conv2d(1, 2, 3, bias=False, padding="same"))]:
        assert repr(ours_layer) == repr(torch_layer)


def test_conv2d_module_matches_torch_in_float32_and_accepts_one_unbatched_image():
    rng = np.random.default_rng(6)
    layer = layers.Conv2d(2, 4, 3, padding=1, generator=ss.Generator(1))
    twin = torch.nn.Conv2d(2, 4, 3, padding=1)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data))
        twin.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((2, 2, 7, 5)).astype(np.float32)
    xs, xt = ours(x), theirs(x)
    out, out_t = layer(xs), twin(xt)
    assert out.dtype == np.float32
    assert_close(out, out_t, atol=1e-5)
    backward_both(out, out_t, rng)
    for a, b in [(xs.grad, xt.grad), (layer.weight.grad, twin.weight.grad), (layer.bias.grad, twin.bias.grad)]:
        assert a.dtype == np.float32
        assert_close(a, b, atol=1e-4)
    single = layer(ss.Tensor(x[0]))
    assert single.shape == (4, 7, 5)
    np.testing.assert_allclose(single.data, out.data[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: layers.Conv2d(3, 4, 3)(ss.randn(2, 3, 5)), r"Conv2d\(3, 4.*expected input with 3 channels.*\(2, 3, 5\)"),
    (lambda: layers.Conv2d(3, 4, 3)(ss.randn(5, 5)), r"Conv2d\(3, 4.*\(N, C, H, W\).*\(5, 5\)"),
    (lambda: layers.Conv2d(3, 4, 3)(ss.randn(2, 1, 5, 5)), r"Conv2d\(3, 4.*3 channels.*\(2, 1, 5, 5\)"),
    (lambda: layers.Conv2d(1, 4, 5, padding=1)(ss.randn(2, 1, 2, 9)),
     r"Conv2d\(1, 4.*kernel 5×5 is larger than the padded input 4×11.*\(2, 1, 2, 9\).*empty"),
    (lambda: layers.Conv2d(1, 4, 3, stride=0), r"Conv2d\(1, 4\).*stride must be positive"),
    (lambda: conv.conv2d(ss.randn(1, 1, 4, 4), ss.randn(1, 1, 2, 2), stride=(1, 0)), r"conv2d.*stride"),
    (lambda: conv.conv2d(ss.randn(1, 2, 4, 4), ss.randn(1, 1, 2, 2)), r"conv2d.*1 channels.*\(1, 2, 4, 4\)"),
    (lambda: layers.MaxPool2d(3)(ss.randn(1, 1, 2, 2)), r"MaxPool2d\(kernel_size=3.*larger than the padded input 2×2"),
    (lambda: layers.MaxPool2d(2, padding=2)(ss.randn(1, 1, 8, 8)), r"MaxPool2d.*padding \(2, 2\).*half the kernel"),
    (lambda: layers.AvgPool2d(2, stride=0)(ss.randn(1, 1, 4, 4)), r"AvgPool2d.*stride must be positive"),
    (lambda: layers.MaxPool2d(2)(ss.randn(4, 4)), r"MaxPool2d.*\(N, C, H, W\).*\(4, 4\)"),
    (lambda: layers.AdaptiveAvgPool2d(0)(ss.randn(1, 1, 4, 4)), r"AdaptiveAvgPool2d.*positive"),
    (lambda: layers.BatchNorm2d(3)(ss.randn(2, 3)), r"BatchNorm2d\(3.*\(N, C, H, W\).*\(2, 3\)"),
    (lambda: layers.BatchNorm1d(3)(ss.randn(2, 4)), r"BatchNorm1d\(3.*3 channels.*\(2, 4\)"),
    (lambda: layers.cnn(2)(ss.randn(2, 28, 27)), r"AsImages.*\(N, 784\).*\(2, 28, 27\)"),
])
def test_bad_input_is_one_clear_error_naming_the_layer_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_feature_maps_stay_in_the_products_memory_order():
    """A convolution's output is (N, O, OH, OW) in (O, OH, OW, N) memory order (no transposing copy), pooling keeps
    that order, and a padded convolution of it pads in it too; every input order gives PyTorch's numbers."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 9, 9)).astype(np.float32)
    w1, w2 = rng.standard_normal((4, 2, 3, 3)).astype(np.float32), rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    h = conv.conv2d(ss.Tensor(x), ss.Tensor(w1))
    pooled = conv.max_pool2d(h, 2)
    for t in (h, pooled):
        assert t.data.strides[0] == 4 and t.data.transpose(1, 2, 3, 0).flags.c_contiguous
    out = conv.conv2d(pooled, ss.Tensor(w2), padding=1)
    assert out.data.strides[0] == 4
    expected = TF.conv2d(TF.max_pool2d(TF.conv2d(torch.tensor(x), torch.tensor(w1)), 2), torch.tensor(w2), padding=1)
    assert_close(out, expected, atol=1e-4)


def test_a_flattened_feature_map_gets_its_gradient_back_in_its_own_memory_order():
    """Flatten copies (O, OH, OW, N)-ordered maps into rows; the gradient goes back in the maps' order, so that
    ReLU's and pooling's backward run over matching layouts (not striding across each other)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 2, 6, 6)).astype(np.float32), rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    xs, xt = ours(x), theirs(x)
    maps = conv.max_pool2d(conv.conv2d(xs, ss.Tensor(w)), 2)
    maps.retain_grad()
    flat, flat_t = maps.relu().flatten(1), TF.max_pool2d(TF.conv2d(xt, torch.tensor(w)), 2).relu().flatten(1)
    backward_both(flat, flat_t, rng)
    assert maps.grad.data.strides == maps.data.strides
    assert_close(xs.grad, xt.grad, atol=1e-5)


def test_cnn_accepts_every_digit_layout_and_matches_its_torch_twin():
    model = layers.cnn(10, generator=ss.Generator(0))
    model.eval()
    images = np.random.default_rng(8).uniform(0, 1, (3, 28, 28)).astype(np.float32)
    outs = [model(ss.Tensor(images.reshape(shape))).data for shape in [(3, 784), (3, 28, 28), (3, 1, 28, 28)]]
    assert outs[0].shape == (3, 10) and outs[0].dtype == np.float32
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    twin = twin_cnn(model, 10).eval()
    expected = twin(torch.from_numpy(images.reshape(3, 784))).detach().numpy()
    np.testing.assert_allclose(outs[0], expected, rtol=1e-4, atol=1e-5)
    # the gradient of a training loss too (dropout off on both sides, so the batches are the same)
    x, xt = ss.Tensor(images.reshape(3, 784)), torch.from_numpy(images.reshape(3, 784))
    labels = np.array([3, 7, 1])
    ss.functional.cross_entropy(model(x), ss.Tensor(labels)).backward()
    TF.cross_entropy(twin(xt), torch.from_numpy(labels)).backward()
    for (_, p), (_, p_t) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.data, p_t.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_cnn_is_seeded_and_its_dropout_follows_train_and_eval():
    first, again = layers.cnn(1, ss.Generator(3)), layers.cnn(1, ss.Generator(3))
    for (_, a), (_, b) in zip(first.named_parameters(), again.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    x = ss.Tensor(np.random.default_rng(9).uniform(0, 1, (4, 784)).astype(np.float32))
    np.testing.assert_array_equal(first(x).data, again(x).data)  # same seed: same dropout masks too
    assert not np.array_equal(first(x).data, first(x).data)  # training: a new mask every call
    first.eval()
    np.testing.assert_array_equal(first(x).data, first(x).data)
    lr = recipes.recipe("cnn").lr
    assert recipes.recipe("cnn").schedule == "cosine"
    assert recipes.cosine_lr(lr, 0, 100) == lr and recipes.cosine_lr(lr, 50, 100) == pytest.approx(lr / 2)
    assert recipes.cosine_lr(lr, 100, 100) == pytest.approx(0)
    with pytest.raises(ValueError, match="n_outputs"):
        layers.cnn(0)


def test_random_shift_moves_each_image_by_a_seeded_whole_number_of_pixels_and_is_off_in_eval():
    images = np.zeros((50, 1, 9, 9), np.float32)
    images[:, 0, 4, 4] = 1  # one bright pixel in the middle of each image
    shifted = layers.RandomShift(2, generator=ss.Generator(0))(ss.Tensor(images)).data
    again = layers.RandomShift(2, generator=ss.Generator(0))(ss.Tensor(images)).data
    np.testing.assert_array_equal(shifted, again)
    assert shifted.shape == images.shape and shifted.sum() == 50  # the pixel moved, never lost
    rows, columns = np.nonzero(shifted[:, 0].reshape(50, -1) == 1)[1] // 9, np.nonzero(shifted[:, 0])[2]
    assert set(rows - 4) == set(columns - 4) == {-2, -1, 0, 1, 2}
    layer = layers.RandomShift(2)
    layer.eval()
    x = ss.Tensor(images)
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"RandomShift.*\(N, C, H, W\).*\(9, 9\)"):
        layers.RandomShift(2)(ss.Tensor(images[0, 0]))


def test_unflatten_like_torch():
    x = ss.randn(2, 12)
    assert layers.Unflatten(1, (3, 4))(x).shape == tuple(torch.nn.Unflatten(1, (3, 4))(torch.randn(2, 12)).shape)
    with pytest.raises(ValueError, match=r"Unflatten.*12 values, expected 10"):
        layers.Unflatten(1, (2, 5))(x)


def test_conv_figures_show_every_filter_and_the_feature_maps_of_one_digit():
    from sevensteps import conv_plots, plots

    model = layers.cnn(2, ss.Generator(0))
    assert len([ax for ax in conv_plots.conv_filters(model).axes if ax.images]) == 32  # every kernel, a colour bar
    filters = conv_plots.conv_filters(model, max_filters=6)
    first_kernel = filters.axes[0].images[0].get_array()
    np.testing.assert_array_equal(first_kernel, model[2].weight.data[0, 0])
    image = np.zeros((28, 28), np.float32)
    image[5:23, 13:15] = 1  # a vertical stroke, like a 1
    maps = conv_plots.feature_maps(model, image, max_maps=3)
    assert len(maps.axes) == 1 + 3
    expected = np.maximum(conv.conv2d(ss.Tensor(image.reshape(1, 1, 28, 28)), model[2].weight, model[2].bias).data, 0)
    np.testing.assert_allclose(maps.axes[1].images[0].get_array(), expected[0, 0], rtol=1e-6)
    assert model.training  # drawing leaves the model as it was
    assert plots.png_bytes(maps).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no Conv2d"):
        conv_plots.conv_filters(ss.nn.Sequential(ss.nn.Flatten()))


def test_dilated_max_pool_sends_no_gradient_to_the_pixels_its_windows_skip():
    """Windows of stride = span whose dilation skips pixels (found by hypothesis: (1, 1, 1, 3), kernel (1, 2),
    stride (1, 3), dilation (1, 2)): the skipped pixel's gradient is 0, as in PyTorch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 9))
    xs, xt = ss.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = rng.standard_normal((2, 3, 5, 3))
    (ss.nn.functional.max_pool2d(xs, (1, 2), (1, 3), 0, (1, 2)) * ss.tensor(g)).sum().backward()
    (TF.max_pool2d(xt, (1, 2), (1, 3), 0, (1, 2)) * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())
