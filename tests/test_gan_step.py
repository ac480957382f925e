"""dlbook.gan.gan_step: the alternating update, step by step against the same moves written
out, and inside dlbook.train.fit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from dlbook.gan import discriminator_loss_torch, gan_step, generator_loss_torch
from dlbook.train import fit


def _players(seed=0):
    torch.manual_seed(seed)
    g = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    d = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 1),
                            torch.nn.Flatten(0)).double()
    return g, d


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_unconditional_step_equals_the_moves_written_out(kind):
    g, d = _players()
    g_ref, d_ref = copy.deepcopy(g), copy.deepcopy(d)
    z = torch.randn(6, 3, dtype=torch.float64)
    real = torch.randn(6, 2, dtype=torch.float64)
    step = gan_step(g, d, torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.2),
                    noise=lambda n: z[:n], kind=kind)
    logged = step(real, None)

    opt_g, opt_d = torch.optim.SGD(g_ref.parameters(), lr=0.1), torch.optim.SGD(d_ref.parameters(), lr=0.2)
    fake = g_ref(z)
    d_loss = discriminator_loss_torch(d_ref(real), d_ref(fake.detach()))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()  # noqa: E702
    adv = generator_loss_torch(d_ref(fake), kind)  # against the updated discriminator
    opt_g.zero_grad(); adv.backward(); opt_g.step()  # noqa: E702

    for a, b in zip([*g.parameters(), *d.parameters()], [*g_ref.parameters(), *d_ref.parameters()]):
        assert torch.allclose(a, b, rtol=1e-13, atol=0)
    assert np.isclose(logged["d_loss"], float(d_loss.detach()), rtol=1e-13, atol=0)
    assert np.isclose(logged["g_adversarial"], float(adv.detach()), rtol=1e-13, atol=0) and logged["g_content"] == 0


def test_conditional_step_adds_the_weighted_content_loss():
    torch.manual_seed(1)
    g = torch.nn.Linear(2, 2).double()
    _, d = _players()
    g_ref, d_ref = copy.deepcopy(g), copy.deepcopy(d)
    x, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    step = gan_step(g, d, torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1),
                    content_loss=torch.nn.MSELoss(), adversarial_weight=1e-3)
    logged = step(x, y)
    opt_g, opt_d = torch.optim.SGD(g_ref.parameters(), lr=0.1), torch.optim.SGD(d_ref.parameters(), lr=0.1)
    fake = g_ref(x)
    d_loss = discriminator_loss_torch(d_ref(y), d_ref(fake.detach()))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()  # noqa: E702
    content = torch.nn.functional.mse_loss(fake, y)
    g_loss = content + 1e-3 * generator_loss_torch(d_ref(fake))
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()  # noqa: E702
    assert torch.allclose(g.weight, g_ref.weight, rtol=1e-13, atol=0)
    assert np.isclose(logged["g_content"], float(content.detach()), rtol=1e-13, atol=0)
    assert 0 < logged["d_real"] < 1 and 0 < logged["d_fake"] < 1


def test_fit_runs_the_step_and_averages_what_it_returns():
    g, d = _players()
    real = np.random.default_rng(0).normal(size=(64, 2)) + 3.0
    gen = torch.Generator().manual_seed(0)
    step = gan_step(g, d, torch.optim.Adam(g.parameters(), lr=1e-2), torch.optim.Adam(d.parameters(), lr=1e-2),
                    noise=lambda n: torch.randn(n, 3, generator=gen, dtype=torch.float64))
    history = fit(torch.nn.ModuleDict({"generator": g, "discriminator": d}), None, None, real,
                  np.zeros(64), epochs=3, batch_size=16, train_step=step, progress=False, device="cpu")
    assert set(history.tracked) == {"d_loss", "g_adversarial", "g_content", "d_real", "d_fake"}
    assert all(len(v) == 3 for v in history.tracked.values()) and history.train_loss == []


def test_bad_arguments():
    g, d = _players()
    opt = torch.optim.SGD(g.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not both"):
        gan_step(g, d, opt, opt, noise=lambda n: None, content_loss=torch.nn.MSELoss())
    with pytest.raises(TypeError, match="discriminator must be a torch.nn.Module"):
        gan_step(g, object(), opt, opt)
    with pytest.raises(ValueError, match="kind"):
        gan_step(g, d, opt, opt, kind="wasserstein")
    with pytest.raises(ValueError, match="adversarial_weight"):
        gan_step(g, d, opt, opt, adversarial_weight=-1)


@pytest.mark.gpu
def test_step_on_cuda():
    g, d = _players()
    g, d = g.cuda(), d.cuda()
    step = gan_step(g, d, torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1),
                    noise=lambda n: torch.randn(n, 3, device="cuda", dtype=torch.float64))
    logged = step(torch.randn(4, 2, device="cuda", dtype=torch.float64), None)
    assert np.isfinite(list(logged.values())).all()
