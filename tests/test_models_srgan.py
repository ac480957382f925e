"""SRGAN's generator (SRResNet) and discriminator: shapes, parameter counts from the layer list,
the bicubic residual, and clear errors."""

from __future__ import annotations

import pytest
import torch

from dlbook.models.srgan import Discriminator, SRResNet, bicubic


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("scale", [2, 4])
def test_generator_upsamples_by_the_scale(scale):
    net = SRResNet(scale=scale, in_channels=3, features=8, blocks=2).eval()
    assert net(torch.zeros(2, 3, 5, 7)).shape == (2, 3, 5 * scale, 7 * scale)


def test_paper_sized_generator_parameters_follow_the_layer_list():
    # Ledig et al.: 9x9 head and tail, 16 blocks of two 3x3 convolutions with BatchNorm, two x2 stages
    F, C, B = 64, 3, 16
    head = C * F * 81 + F + F                      # conv + PReLU slopes (one per channel)
    block = 2 * (F * F * 9 + 2 * F) + F            # two bias-free convs with BatchNorm, PReLU
    fuse = F * F * 9 + 2 * F
    stage = F * 4 * F * 9 + 4 * F + F              # conv to 4F channels (bias), PixelShuffle, PReLU
    tail = F * C * 81 + C
    expected = head + B * block + fuse + 2 * stage + tail
    assert _count(SRResNet(scale=4, in_channels=3, features=64, blocks=16)) == expected


def test_discriminator_gives_one_logit_per_image_for_any_patch_size():
    net = Discriminator(in_channels=1, features=8, stages=3, dense=16).eval()
    for size in (16, 24, 96):
        assert net(torch.zeros(5, 1, size, size)).shape == (5,)
    widths = [m.out_channels for m in net.features if isinstance(m, torch.nn.Conv2d)]
    strides = [m.stride[0] for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert widths == [8, 8, 16, 16, 32, 32] and strides == [1, 2, 1, 2, 1, 2]  # doubles as it halves


def test_residual_over_bicubic_starts_from_bicubic():
    torch.manual_seed(0)
    net = SRResNet(scale=2, in_channels=1, features=8, blocks=1, residual_over_bicubic=True).eval()
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    x = torch.rand(2, 1, 6, 6)
    assert torch.equal(net(x), bicubic(x, 2))
    # bicubic keeps a constant image constant (its weights sum to one)
    flat = bicubic(torch.full((1, 1, 6, 6), 0.3, dtype=torch.float64), 2)
    assert torch.allclose(flat, torch.full_like(flat, 0.3), rtol=1e-12, atol=0)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="scale must be 2, 4 or 8"):
        SRResNet(scale=3)
    with pytest.raises(ValueError, match="features must be a positive int"):
        SRResNet(features=0)
    with pytest.raises(ValueError, match="head_kernel must be odd"):
        SRResNet(head_kernel=4)
    with pytest.raises(ValueError, match=r"expects \(N, 1, h, w\)"):
        SRResNet(features=4, blocks=0)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expects \(N, 1, H, W\)"):
        Discriminator(features=4, stages=1)(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="positive ints"):
        Discriminator(stages=0)


@pytest.mark.gpu
def test_both_networks_run_on_cuda():
    gen = SRResNet(scale=2, features=8, blocks=1, residual_over_bicubic=True).cuda()
    disc = Discriminator(features=8, stages=2, dense=8).cuda()
    fake = gen(torch.rand(3, 1, 8, 8, device="cuda"))
    assert fake.shape == (3, 1, 16, 16) and disc(fake).shape == (3,) and fake.device.type == "cuda"
