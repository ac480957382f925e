"""Chapter 9's experiments on tiny settings: the ring of Gaussians and its coverage measure,
and the SRResNet / SRGAN training functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.experiments import gan as exp


def test_the_true_distribution_covers_every_mode_with_the_expected_quality():
    samples = exp.ring_samples(20_000, sigma=0.05, seed=0)
    modes, quality = exp.mode_coverage(samples, exp.ring_centers(), 0.05)
    # a 2-D Gaussian puts 1 - exp(-9/2) of its mass within 3 sigma
    assert modes == 8 and np.isclose(quality, 1 - np.exp(-4.5), rtol=0.005, atol=0)


def test_a_collapsed_generator_covers_one_mode():
    centers = exp.ring_centers()
    collapsed = np.repeat(centers[:1], 100, axis=0) + 0.01
    assert exp.mode_coverage(collapsed, centers, 0.05) == (1, 1.0)
    far = np.zeros((50, 2))  # the ring's centre is 2 away from every mode
    assert exp.mode_coverage(far, centers, 0.05) == (0, 0.0)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        exp.mode_coverage(np.zeros((3, 3)), exp.ring_centers(), 0.05)
    with pytest.raises(ValueError, match="modes must be a positive int"):
        exp.ring_centers(0)


def test_toy_gan_records_every_epoch():
    result = exp.train_toy_gan(epochs=2, snapshot_epochs=(2,), n_data=512, batch_size=128, n_eval=200,
                               device="cpu")
    assert len(result["covered"]) == len(result["quality"]) == 2 and set(result["snapshots"]) == {2}
    assert result["snapshots"][2].shape == (200, 2)
    assert {"d_loss", "g_adversarial", "d_real", "d_fake", "modes"} <= set(result["history"].tracked)


def test_srresnet_then_srgan_on_tiny_settings():
    pre = exp.train_srresnet(epochs=1, patches=32, patch_size=24, features=4, blocks=1, batch_size=16,
                             device="cpu")
    assert len(pre["history"].tracked["psnr_gain"]) == 1 and len(pre["history"].train_loss) == 1
    gan = exp.train_srgan(pre, epochs=1, patches=32, patch_size=24, d_features=4, d_stages=2, batch_size=16,
                          device="cpu")
    assert {"d_loss", "g_content", "psnr_gain"} <= set(gan["history"].tracked)
    generator = exp.load_generator(gan, "cpu")
    assert generator(torch.zeros(1, 1, 5, 6)).shape == (1, 1, 10, 12)
    # fine-tuning moved the weights away from the pre-trained ones
    assert not torch.equal(gan["state_dict"]["tail.weight"], pre["state_dict"]["tail.weight"])
