"""Modules, optimizers and a whole training run, against PyTorch with the same weights and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twins import twin_mlp

import sevensteps as ss
import sevensteps.functional as F
from sevensteps import nn, optim


def test_module_registers_parameters_and_submodules():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["1.weight", "1.bias", "3.weight", "3.bias"]
    assert model.num_parameters() == 784 * 30 + 30 + 30 + 1
    assert model(ss.zeros(5, 28, 28)).shape == (5, 1)
    assert isinstance(model[1], nn.Linear) and len(model) == 4
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_linear_init_matches_pytorch_bounds():
    layer = nn.Linear(400, 50, generator=ss.Generator(0))
    bound = 1 / np.sqrt(400)
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > 0.9 * bound
    assert layer.weight.dtype == np.float32
    assert layer.weight.numpy().std() == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_state_dict_round_trip_and_shape_checks():
    a, b = nn.Linear(3, 2, generator=ss.Generator(1)), nn.Linear(3, 2, generator=ss.Generator(2))
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.weight.numpy(), b.weight.numpy())
    with pytest.raises(ValueError, match=r"'weight' has shape \(2, 4\)"):
        b.load_state_dict({"weight": np.zeros((2, 4)), "bias": np.zeros(2)})
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"weight": np.zeros((2, 3))})


@pytest.mark.parametrize("make_optimizers", [
    lambda a, b: (optim.SGD(a, lr=0.1), torch.optim.SGD(b, lr=0.1)),
    lambda a, b: (optim.SGD(a, lr=0.05, momentum=0.9, weight_decay=1e-3),
                  torch.optim.SGD(b, lr=0.05, momentum=0.9, weight_decay=1e-3)),
    lambda a, b: (optim.SGD(a, lr=0.05, momentum=0.9, nesterov=True),
                  torch.optim.SGD(b, lr=0.05, momentum=0.9, nesterov=True)),
    lambda a, b: (optim.Adam(a, lr=0.01), torch.optim.Adam(b, lr=0.01)),
    lambda a, b: (optim.Adam(a, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01),
                  torch.optim.Adam(b, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
], ids=["sgd", "sgd-momentum-wd", "sgd-nesterov", "adam", "adam-wd"])
def test_two_layer_net_follows_pytorchs_loss_curve(make_optimizers):
    """Same init, same batches: the loss curves agree within float32 tolerance."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 10)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    ours, theirs = twin_mlp((10, 16, 2))
    ours_opt, torch_opt = make_optimizers(list(ours.parameters()), list(theirs.parameters()))
    ours_losses, torch_losses = [], []
    for step in range(60):
        batch = rng.choice(256, 32, replace=False) if step % 2 else slice(step % 8 * 32, step % 8 * 32 + 32)
        loss = F.cross_entropy(ours(ss.tensor(x[batch])), ss.tensor(y[batch]))
        ours_opt.zero_grad()
        loss.backward()
        ours_opt.step()
        ours_losses.append(loss.item())
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x[batch])), torch.tensor(y[batch]))
        torch_opt.zero_grad()
        tloss.backward()
        torch_opt.step()
        torch_losses.append(tloss.item())
    np.testing.assert_allclose(ours_losses, torch_losses, rtol=1e-4, atol=1e-5)
    assert ours_losses[-1] < ours_losses[0]
    for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(mine.numpy(), reference.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_optimizer_state_dict_round_trip():
    model = nn.Linear(4, 2, generator=ss.Generator(0))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(ss.ones(3, 4)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    fresh = optim.Adam(model.parameters(), lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.01
    assert np.array_equal(fresh.state[model.weight]["exp_avg"], opt.state[model.weight]["exp_avg"])


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(nn.Linear(2, 1).parameters(), lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1, nesterov=True)


def test_gradcheck_reports_agreement_and_speed():
    generator = ss.Generator(0)
    x = ss.randn(64, 20, generator=generator)
    y = (ss.rand(64, 1, generator=generator) > 0.5).long()
    w = ss.randn(20, 1, generator=generator, requires_grad=True)
    b = ss.zeros(1, requires_grad=True)
    result = ss.gradcheck(lambda w, b: F.mnist_loss(x.double() @ w + b, y), [w, b])
    assert result.count == 21
    assert result.max_abs_error < 1e-7
    assert result.ok()
    assert result.numeric_seconds > 0 and result.backprop_seconds > 0


def test_gradcheck_catches_a_wrong_gradient():
    from sevensteps.autograd import Function

    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return (g * a,)  # should be 2·a

    result = ss.gradcheck(lambda t: WrongSquare.apply(t).sum(), [ss.tensor([1.0, 2.0], requires_grad=True)])
    assert result.max_abs_error > 0.5 and not result.ok()


def test_gradcheck_of_a_whole_mlp_with_column_major_weights():
    model = nn.Sequential(nn.Linear(12, 7, generator=ss.Generator(0)), nn.ReLU(), nn.Linear(7, 1))
    x = ss.randn(16, 12, generator=ss.Generator(1)).double()
    y = (ss.rand(16, 1, generator=ss.Generator(2)) > 0.5).long()
    params = list(model.parameters())
    assert params[0].data.flags.f_contiguous and not params[0].data.flags.c_contiguous

    def loss(w1, b1, w2, b2):
        return F.mnist_loss(F.linear(F.linear(x, w1, b1).relu(), w2, b2), y)

    result = ss.gradcheck(loss, params)
    assert result.count == 12 * 7 + 7 + 7 + 1
    assert result.max_abs_error < 1e-8, result
    assert all(np.abs(n).max() > 0 for n in result.numeric)
