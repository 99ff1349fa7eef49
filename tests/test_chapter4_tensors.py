"""The tensor part of the fastai book's chapter 4, run twice: with sevensteps and with PyTorch (issue #14, item 4).

The chapter's code is written once, below, against a library ``L`` (its ``tensor``, ``stack``, ``nn``, ``F``,
``no_grad``, ...), exactly as the chapter types it, with only the import lines changed. It runs on real MNIST
test digits saved as PNG files and opened with PIL; both runs start from the same weights, and every shape and
value the chapter shows is compared.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import sevensteps
import sevensteps.nn.functional
from sevensteps.data.idx import read_idx


def fastai_tensor(x, *args, **kwargs):
    """fastai's ``tensor``: PyTorch's, plus PIL images (the chapter's ``tensor(Image.open(p))``)."""
    return torch.tensor(np.array(x) if isinstance(x, Image.Image) else x, *args, **kwargs)


LIBRARIES = {
    "sevensteps": SimpleNamespace(lib=sevensteps, tensor=sevensteps.tensor, nn=sevensteps.nn,
                                  F=sevensteps.nn.functional, SGD=sevensteps.optim.SGD),
    "pytorch": SimpleNamespace(lib=torch, tensor=fastai_tensor, nn=torch.nn, F=torch.nn.functional,
                               SGD=torch.optim.SGD),
}


def chapter4(L, three_paths, seven_paths, valid_3, valid_7, seeds):
    """The chapter's lines, in its order; ``shown`` collects what the book prints."""
    torch_like, tensor, nn, F, SGD = L.lib, L.tensor, L.nn, L.F, L.SGD
    shown = {}

    # pixel similarity
    three_tensors = [tensor(Image.open(o)) for o in three_paths]
    seven_tensors = [tensor(Image.open(o)) for o in seven_paths]
    stacked_sevens = torch_like.stack(seven_tensors).float() / 255
    stacked_threes = torch_like.stack(three_tensors).float() / 255
    shown["stacked_threes.shape"] = stacked_threes.shape
    shown["ndim"] = stacked_threes.ndim
    mean3 = stacked_threes.mean(0)
    mean7 = stacked_sevens.mean(0)
    a_3 = stacked_threes[1]
    dist_3_abs = (a_3 - mean3).abs().mean()
    dist_3_sqr = ((a_3 - mean3) ** 2).mean().sqrt()
    shown["dist_3"] = (dist_3_abs, dist_3_sqr)
    shown["F losses"] = (F.l1_loss(a_3.float(), mean7), F.mse_loss(a_3, mean7).sqrt())

    data = [[1, 2, 3], [4, 5, 6]]
    tns = tensor(data)
    shown["tns slices"] = (tns[1], tns[:, 1], tns[1, 1:3], tns + 1, tns * 1.5)

    valid_3_tens = torch_like.stack([tensor(o) for o in valid_3]).float() / 255
    valid_7_tens = torch_like.stack([tensor(o) for o in valid_7]).float() / 255

    def mnist_distance(a, b):
        return (a - b).abs().mean((-1, -2))

    shown["mnist_distance(a_3, mean3)"] = mnist_distance(a_3, mean3)
    valid_3_dist = mnist_distance(valid_3_tens, mean3)
    shown["valid_3_dist"] = valid_3_dist
    shown["broadcast"] = tensor([1, 2, 3]) + tensor(1)

    def is_3(x):
        return mnist_distance(x, mean3) < mnist_distance(x, mean7)

    shown["is_3(a_3)"] = (is_3(a_3), is_3(a_3).float())
    accuracy_3s = is_3(valid_3_tens).float().mean()
    accuracy_7s = (1 - is_3(valid_7_tens).float()).mean()
    shown["baseline accuracy"] = (accuracy_3s, accuracy_7s, (accuracy_3s + accuracy_7s) / 2)

    # calculating gradients
    def f(x):
        return x**2

    xt = tensor(3.0).requires_grad_()
    yt = f(xt)
    yt.backward()
    shown["xt.grad"] = xt.grad

    def f(x):  # the chapter redefines f
        return (x**2).sum()

    xt = tensor([3.0, 4.0, 10.0]).requires_grad_()
    yt = f(xt)
    yt.backward()
    shown["xt.grad vector"] = xt.grad

    # an end-to-end SGD example: the roller coaster's speed
    time = torch_like.arange(0, 20).float()
    speed = tensor(seeds["speed noise"]) * 3 + 0.75 * (time - 9.5) ** 2 + 1

    def f(t, params):
        a, b, c = params
        return a * (t**2) + (b * t) + c

    def mse(preds, targets):
        return ((preds - targets) ** 2).mean()

    params = tensor(seeds["quadratic params"]).requires_grad_()
    lr = 1e-5

    def apply_step(params):
        preds = f(time, params)
        loss = mse(preds, speed)
        loss.backward()
        params.data -= lr * params.grad.data
        params.grad = None
        return loss

    shown["quadratic losses"] = [apply_step(params).item() for _ in range(10)]
    shown["quadratic params"] = params

    # the MNIST loss function
    train_x = torch_like.cat([stacked_threes, stacked_sevens]).view(-1, 28 * 28)
    train_y = tensor([1] * len(three_tensors) + [0] * len(seven_tensors)).unsqueeze(1)
    shown["train shapes"] = (train_x.shape, train_y.shape)
    dset = list(zip(train_x, train_y, strict=True))
    x, y = dset[0]
    shown["dset[0]"] = (x.shape, y)
    valid_x = torch_like.cat([valid_3_tens, valid_7_tens]).view(-1, 28 * 28)
    valid_y = tensor([1] * len(valid_3_tens) + [0] * len(valid_7_tens)).unsqueeze(1)

    def init_params(key, std=1.0):
        return (tensor(seeds[key]) * std).requires_grad_()

    weights = init_params("weights")
    bias = init_params("bias")
    shown["first prediction"] = (train_x[0] * weights.T).sum() + bias

    def linear1(xb):
        return xb @ weights + bias

    preds = linear1(train_x)
    shown["preds"] = preds
    corrects = (preds > 0.0).float() == train_y
    shown["accuracy"] = corrects.float().mean().item()
    with torch_like.no_grad():
        weights[0] *= 1.0001
    preds = linear1(train_x)
    shown["accuracy after nudge"] = ((preds > 0.0).float() == train_y).float().mean().item()

    trgts = tensor([1, 0, 1])
    prds = tensor([0.9, 0.4, 0.2])
    shown["where"] = torch_like.where(trgts == 1, 1 - prds, prds)

    def mnist_loss(predictions, targets):
        return torch_like.where(targets == 1, 1 - predictions, predictions).mean()

    shown["mnist_loss"] = (mnist_loss(prds, trgts), mnist_loss(tensor([0.9, 0.4, 0.8]), trgts))

    def sigmoid(x):
        return 1 / (1 + torch_like.exp(-x))

    shown["sigmoid"] = (sigmoid(tensor([-2.0, 0.0, 3.0])), tensor([-2.0, 0.0, 3.0]).sigmoid())

    def mnist_loss(predictions, targets):
        predictions = predictions.sigmoid()
        return torch_like.where(targets == 1, 1 - predictions, predictions).mean()

    # SGD and mini-batches (a fixed shuffled order stands in for the DataLoader)
    order = seeds["order"]
    batches = [(train_x[tensor(order[i:i + 64])], train_y[tensor(order[i:i + 64])]) for i in range(0, len(order), 64)]
    valid_batches = [(valid_x[i:i + 64], valid_y[i:i + 64]) for i in range(0, len(valid_x), 64)]

    def calc_grad(xb, yb, model):
        preds = model(xb)
        loss = mnist_loss(preds, yb)
        loss.backward()

    batch = train_x[:4]
    calc_grad(batch, train_y[:4], linear1)
    shown["grads"] = (weights.grad.mean(), bias.grad)
    calc_grad(batch, train_y[:4], linear1)
    shown["grads accumulate"] = (weights.grad.mean(), bias.grad)
    weights.grad.zero_()
    bias.grad.zero_()

    def train_epoch(model, lr, params):
        for xb, yb in batches:
            calc_grad(xb, yb, model)
            for p in params:
                p.data -= p.grad * lr
                p.grad.zero_()

    def batch_accuracy(xb, yb):
        preds = xb.sigmoid()
        correct = (preds > 0.5) == yb
        return correct.float().mean()

    def validate_epoch(model):
        accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_batches]
        return round(torch_like.stack(accs).mean().item(), 4)

    lr = 1.0
    params = weights, bias
    train_epoch(linear1, lr, params)
    shown["validate after 1 epoch"] = validate_epoch(linear1)
    for _ in range(5):
        train_epoch(linear1, lr, params)
    shown["validate after 6 epochs"] = validate_epoch(linear1)

    # creating an optimizer
    linear_model = nn.Linear(28 * 28, 1)
    with torch_like.no_grad():
        linear_model.weight.copy_(tensor(seeds["weights"]).T * 0.01)
        linear_model.bias.fill_(0.0)
    w, b = linear_model.parameters()
    shown["linear_model shapes"] = (w.shape, b.shape)

    class BasicOptim:
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def step(self, *args, **kwargs):
            for p in self.params:
                p.data -= p.grad.data * self.lr

        def zero_grad(self, *args, **kwargs):
            for p in self.params:
                p.grad = None

    opt = BasicOptim(linear_model.parameters(), lr)

    def train_epoch(model):
        for xb, yb in batches:
            calc_grad(xb, yb, model)
            opt.step()
            opt.zero_grad()

    shown["validate untrained"] = validate_epoch(linear_model)
    for _ in range(3):
        train_epoch(linear_model)
    shown["BasicOptim trained"] = (validate_epoch(linear_model), linear_model.weight)
    opt = SGD(linear_model.parameters(), lr)
    for _ in range(2):
        train_epoch(linear_model)
    shown["SGD trained"] = (validate_epoch(linear_model), linear_model.bias)

    # adding a nonlinearity
    def simple_net(xb):
        res = xb @ w1 + b1
        res = res.max(tensor(0.0))
        res = res @ w2 + b2
        return res

    w1 = init_params("w1")
    b1 = init_params("b1")
    w2 = init_params("w2")
    b2 = init_params("b2")
    shown["simple_net"] = simple_net(valid_x[:5])
    for _ in range(2):
        train_epoch_params = (w1, b1, w2, b2)
        for xb, yb in batches:
            calc_grad(xb, yb, simple_net)
            for p in train_epoch_params:
                p.data -= p.grad * 0.1
                p.grad = None
    shown["simple_net trained"] = (validate_epoch(simple_net), w2)
    shown["relu"] = F.relu(tensor([-1.0, 0.0, 2.0]))
    seq = nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 1))
    shown["Sequential"] = (seq(valid_x[:3]).shape, repr(seq))
    return shown


def as_plain(value):
    """Shapes, numbers and arrays from either library, for comparison."""
    if isinstance(value, tuple) and all(isinstance(n, int) for n in value):
        return tuple(value)  # a shape (torch.Size is a tuple too)
    if isinstance(value, (tuple, list)):
        return [as_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, sevensteps.Tensor):
        return value.data
    return value


def assert_same(ours, theirs, key):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), key
        for o, t in zip(ours, theirs, strict=True):
            assert_same(o, t, key)
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), key
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (key, ours.dtype, theirs.dtype)
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5, err_msg=key)
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=2e-4, abs=1e-4), key
    else:
        assert ours == theirs, key


def test_chapter_4_gives_pytorchs_shapes_and_values(mnist_test_dir, tmp_path):
    images = read_idx(mnist_test_dir / "t10k-images-idx3-ubyte.gz", 3)
    labels = read_idx(mnist_test_dir / "t10k-labels-idx1-ubyte.gz", 1)
    threes, sevens = images[labels == 3], images[labels == 7]
    three_paths, seven_paths = [], []
    for name, digits, paths in (("3", threes[:150], three_paths), ("7", sevens[:150], seven_paths)):
        for i, digit in enumerate(digits):
            path = tmp_path / f"{name}_{i}.png"
            Image.fromarray(digit).save(path)
            paths.append(path)
    valid_3, valid_7 = threes[150:350], sevens[150:350]
    rng = np.random.default_rng(4)
    seeds = {
        "speed noise": rng.standard_normal(20).astype(np.float32),
        "quadratic params": rng.standard_normal(3).astype(np.float32),
        "weights": rng.standard_normal((28 * 28, 1)).astype(np.float32),
        "bias": rng.standard_normal(1).astype(np.float32),
        "order": rng.permutation(300),
        "w1": rng.standard_normal((28 * 28, 30)).astype(np.float32),
        "b1": rng.standard_normal(30).astype(np.float32),
        "w2": rng.standard_normal((30, 1)).astype(np.float32),
        "b2": rng.standard_normal(1).astype(np.float32),
    }
    ours = chapter4(LIBRARIES["sevensteps"], three_paths, seven_paths, valid_3, valid_7, seeds)
    theirs = chapter4(LIBRARIES["pytorch"], three_paths, seven_paths, valid_3, valid_7, seeds)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert_same(as_plain(ours[key]), as_plain(theirs[key]), key)
    assert theirs["baseline accuracy"][2] > 0.9  # the chapter's point: pixel similarity already works
    assert theirs["validate after 6 epochs"] > theirs["validate after 1 epoch"] - 0.05
