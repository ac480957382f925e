"""dlbook.gan.numpy_gan_update: one alternating GAN update on dlbook.nn layers, with the
gradients from the hand-derived logit gradients, against gan_step on the torch twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook import nn, optim
from dlbook.check import rel_error
from dlbook.gan import gan_step, numpy_gan_update


def _players(seed=0, dtype=np.float64):
    generator = nn.Sequential(nn.Linear(3, 8, dtype=dtype, seed=seed), nn.LeakyReLU(0.2),
                              nn.Linear(8, 2, dtype=dtype, seed=seed + 1))
    discriminator = nn.Sequential(nn.Linear(2, 8, dtype=dtype, seed=seed + 2),
                                  nn.LeakyReLU(0.2), nn.Linear(8, 1, dtype=dtype, seed=seed + 3))
    return generator, discriminator


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_three_updates_match_gan_step_on_the_torch_twins(kind):
    rng = np.random.default_rng(0)
    g, d = _players()
    tg, td = nn.to_torch(g), nn.to_torch(d)
    opts = (optim.Adam(g.parameters(), lr=0.01, betas=(0.5, 0.999)),
            optim.Adam(d.parameters(), lr=0.02, betas=(0.5, 0.999)))
    batches = [(rng.standard_normal((6, 2)), rng.standard_normal((5, 3))) for _ in range(3)]
    current = {}
    step = gan_step(tg, td, torch.optim.Adam(tg.parameters(), lr=0.01, betas=(0.5, 0.999)),
                    torch.optim.Adam(td.parameters(), lr=0.02, betas=(0.5, 0.999)),
                    noise=lambda n: current["z"], kind=kind)
    for real, z in batches:
        ours = numpy_gan_update(g, d, *opts, real, z, kind=kind)
        current["z"] = torch.from_numpy(z)
        theirs = step(torch.from_numpy(real), None)
        for key in ("d_loss", "g_adversarial", "d_real", "d_fake"):
            assert rel_error(ours[key], theirs[key]) < 1e-12, key
    for net, twin in ((g, tg), (d, td)):
        state = twin.state_dict()
        for name, p in net.named_parameters():
            assert rel_error(p, state[name].numpy()) < 1e-10, name
    # the update moved both players (a check that could not fail otherwise)
    g0, d0 = _players()
    assert rel_error(g0[0].weight, g[0].weight) > 1e-3
    assert rel_error(d0[0].weight, d[0].weight) > 1e-3


def test_the_generator_moves_against_the_updated_discriminator():
    rng = np.random.default_rng(1)
    real, z = rng.standard_normal((4, 2)), rng.standard_normal((4, 3))
    results = []
    for d_lr in (0.0, 0.5):  # D's step changes what G's gradient is
        g, d = _players()
        numpy_gan_update(g, d, optim.SGD(g.parameters(), lr=0.1),
                         optim.SGD(d.parameters(), lr=d_lr), real, z)
        results.append(g[2].weight.copy())
    assert rel_error(results[0], results[1]) > 1e-3


def test_bad_players_and_kind_are_named():
    g, d = _players()
    opts = (optim.SGD(g.parameters(), lr=0.1), optim.SGD(d.parameters(), lr=0.1))
    real, z = np.zeros((2, 2)), np.zeros((2, 3))
    with pytest.raises(TypeError, match="generator must be a dlbook.nn.Module"):
        numpy_gan_update(nn.to_torch(g), d, *opts, real, z)
    with pytest.raises(ValueError, match="kind must be one of"):
        numpy_gan_update(g, d, *opts, real, z, kind="wasserstein")
