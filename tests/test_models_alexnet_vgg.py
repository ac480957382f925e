"""AlexNet and VGG (dlbook.models.alexnet, dlbook.models.vgg): parameter counts against the
published ones and the layer formula, shapes by hand and by a forward pass, the input each
network expects, and torchvision's layouts.

Counts and shapes are checked on torch's "meta" device (no memory, no arithmetic); each
real forward pass at 224×224 (227×227) takes about two seconds on the CPU (build included).
"""

from fractions import Fraction

import numpy as np
import pytest
import torch

from dlbook.check import rel_error
from dlbook.models import (alexnet, alexnet_layers, alexnet_parameter_count, vgg,
                           vgg_layers, vgg_parameter_count)
from dlbook.models.alexnet import PAPER_LRN, unrounded_output_size


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv(c_out, c_in_per_group, k):
    """Weights and biases of a convolution: C_out · (C_in/groups · k · k) + C_out."""
    return c_out * (c_in_per_group * k * k) + c_out


def _dense(n_in, n_out):
    return n_out * n_in + n_out


# -- parameter counts --------------------------------------------------------------------
PAPER_ALEXNET = (_conv(96, 3, 11)          # C1: 96 kernels of 11×11×3
                 + _conv(256, 48, 5)       # C2: 5×5×48, half of C1's maps (one GPU)
                 + _conv(384, 256, 3)      # C3: all of C2's maps
                 + _conv(384, 192, 3)      # C4: half of C3's
                 + _conv(256, 192, 3)      # C5: half of C4's
                 + _dense(6 * 6 * 256, 4096) + _dense(4096, 4096) + _dense(4096, 1000))
PUBLISHED = {  # torchvision's model cards (ImageNet, 1000 classes)
    ("alexnet", "torchvision"): 61_100_840,
    ("vgg", "A", False): 132_863_336, ("vgg", "B", False): 133_047_848,
    ("vgg", "D", False): 138_357_544, ("vgg", "E", False): 143_667_240,
    ("vgg", "D", True): 138_365_992,
}


def test_paper_alexnet_count_is_the_layer_formula():
    assert PAPER_ALEXNET == 60_965_224  # the paper's "60 million parameters"
    assert alexnet_parameter_count("paper") == PAPER_ALEXNET
    assert _count(alexnet("paper", device="meta")) == PAPER_ALEXNET


def test_torchvision_alexnet_count_is_the_published_one():
    expected = PUBLISHED[("alexnet", "torchvision")]
    by_formula = (_conv(64, 3, 11) + _conv(192, 64, 5) + _conv(384, 192, 3)
                  + _conv(256, 384, 3) + _conv(256, 256, 3) + _dense(9216, 4096)
                  + _dense(4096, 4096) + _dense(4096, 1000))
    assert by_formula == expected
    assert alexnet_parameter_count("torchvision") == expected
    assert _count(alexnet("torchvision", device="meta")) == expected


@pytest.mark.parametrize("config, batch_norm", [("A", False), ("B", False), ("D", False),
                                                ("E", False), ("D", True)])
def test_vgg_counts_are_the_published_ones(config, batch_norm):
    expected = PUBLISHED[("vgg", config, batch_norm)]
    assert vgg_parameter_count(config, batch_norm) == expected
    assert _count(vgg(config, batch_norm=batch_norm, device="meta")) == expected


def test_vgg_c_is_b_plus_three_1x1_convolutions_and_d_replaces_them_by_3x3():
    b = PUBLISHED[("vgg", "B", False)]
    c = b + _conv(256, 256, 1) + 2 * _conv(512, 512, 1)
    d = b + _conv(256, 256, 3) + 2 * _conv(512, 512, 3)
    assert d == PUBLISHED[("vgg", "D", False)]
    assert vgg_parameter_count("C") == _count(vgg("C", device="meta")) == c == 133_638_952


def test_the_arithmetic_rows_add_up_and_name_the_weight_shapes():
    rows = {row.name: row for row in alexnet_layers("paper")}
    assert rows["conv1"].weight_shape == (96, 3, 11, 11) and rows["conv1"].weights == 34_848
    assert rows["conv2"].weight_shape == (256, 48, 5, 5)   # groups=2
    assert rows["fc6"].weight_shape == (4096, 9216) and rows["fc6"].biases == 4096
    assert sum(r.weights + r.biases for r in rows.values()) == PAPER_ALEXNET
    vgg16 = {row.name: row for row in vgg_layers("D")}
    assert vgg16["fc6"].params == _dense(7 * 7 * 512, 4096)   # 3/4 of VGG-16's parameters
    assert vgg16["conv5_3"].output_shape == (512, 14, 14)
    bn = {row.name: row for row in vgg_layers("D", batch_norm=True)}
    assert bn["bn1_1"].params == 2 * 64  # gamma and beta


def test_num_classes_changes_only_the_last_layer():
    assert alexnet_parameter_count("paper", 10) == PAPER_ALEXNET - _dense(4096, 1000) \
        + _dense(4096, 10)
    assert _count(vgg("A", num_classes=10, device="meta")) == \
        PUBLISHED[("vgg", "A", False)] - _dense(4096, 1000) + _dense(4096, 10)


# -- shapes ----------------------------------------------------------------------------------
def test_224_does_not_tile_and_227_does():
    assert unrounded_output_size(224, 11, 4) == Fraction(217, 4)  # 54.25
    assert unrounded_output_size(227, 11, 4) == 55
    assert unrounded_output_size(224, 11, 4, padding=2) == Fraction(221, 4)  # torchvision: 55
    with_224 = {row.name: row.output_shape for row in alexnet_layers("paper", input_size=224)}
    assert with_224["conv1"] == (96, 54, 54) and with_224["pool5"] == (256, 5, 5)


def test_paper_alexnet_shapes_by_hand():
    shapes = {row.name: row.output_shape for row in alexnet_layers("paper")}
    assert shapes == {
        "conv1": (96, 55, 55), "norm1": (96, 55, 55), "pool1": (96, 27, 27),
        "conv2": (256, 27, 27), "norm2": (256, 27, 27), "pool2": (256, 13, 13),
        "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13),
        "pool5": (256, 6, 6), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}


@pytest.mark.parametrize("build", [
    lambda: alexnet("paper", device="meta"), lambda: alexnet("torchvision", device="meta"),
    *[lambda c=c: vgg(c, device="meta") for c in "ABCDE"],
    lambda: vgg("D", batch_norm=True, device="meta")])
def test_meta_forward_gives_1000_scores(build):
    model = build()
    assert model(torch.zeros((2, *model.input_shape), device="meta")).shape == (2, 1000)


def test_the_hand_arithmetic_matches_the_torch_layers():
    """Each row of alexnet_layers has the output shape torch computes for that layer."""
    model = alexnet("paper", device="meta")
    x = torch.zeros((1, 3, 227, 227), device="meta")
    shapes = {}
    for name, layer in model.named_children():
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    for row in alexnet_layers("paper"):
        assert shapes[row.name] == row.output_shape, row.name


def test_paper_alexnet_layers_in_the_papers_order():
    model = alexnet("paper", device="meta")
    names = [name for name, _ in model.named_children()]
    assert names[:8] == ["conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2"]
    assert names[-7:] == ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    assert [model.conv2.groups, model.conv3.groups, model.conv4.groups, model.conv5.groups] \
        == [2, 1, 2, 2]
    assert (model.pool1.kernel_size, model.pool1.stride) == (3, 2)  # overlapping pooling
    assert model.drop6.p == model.drop7.p == 0.5


def test_paper_lrn_is_the_papers_formula_in_torchs_convention():
    """torch divides alpha by size; PAPER_LRN gives the paper's (2 + 1e-4 Σ x²)^0.75."""
    x = torch.randn(1, 9, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.nn.LocalResponseNorm(**PAPER_LRN)(x)
    squares = torch.nn.functional.pad(x ** 2, (0, 0, 0, 0, 2, 2))
    energy = sum(squares[:, i:i + 9] for i in range(5))
    assert rel_error(y.numpy(), (x / (2 + 1e-4 * energy) ** 0.75).numpy()) < 1e-14


def test_torchvision_layouts_give_torchvisions_state_dict_keys():
    keys = list(alexnet("torchvision", device="meta").state_dict())
    layers = [f"features.{i}" for i in (0, 3, 6, 8, 10)] + [f"classifier.{i}" for i in (1, 4, 6)]
    assert keys == [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")]
    keys = list(vgg("D", device="meta").state_dict())
    convs = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
    layers = [f"features.{i}" for i in convs] + [f"classifier.{i}" for i in (0, 3, 6)]
    assert keys == [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")]


# -- the input each network expects -------------------------------------------------------
def test_each_model_states_its_input():
    assert alexnet("paper", device="meta").input_shape == (3, 227, 227)
    assert alexnet("torchvision", device="meta").input_shape == (3, 224, 224)
    assert vgg("E", device="meta").input_shape == (3, 224, 224)


def test_paper_alexnet_refuses_224_and_says_why():
    model = alexnet("paper", device="meta")
    with pytest.raises(ValueError, match=r"\(N, 3, 227, 227\).*54\.25"):
        model(torch.zeros((1, 3, 224, 224), device="meta"))


@pytest.mark.parametrize("build, shape, match", [
    (lambda: alexnet("torchvision", device="meta"), (1, 3, 32, 32), "too small"),
    (lambda: vgg("A", device="meta"), (1, 3, 16, 16), "too small"),
    (lambda: vgg("A", device="meta"), (3, 224, 224), r"\(N, 3, H, W\)"),
    (lambda: vgg("A", device="meta"), (1, 1, 224, 224), r"\(N, 3, H, W\)"),
    (lambda: alexnet("paper", device="meta"), (1, 1, 227, 227), r"\(N, 3, 227, 227\)"),
])
def test_bad_images_are_refused_with_the_expected_shape(build, shape, match):
    with pytest.raises(ValueError, match=match):
        build()(torch.zeros(shape, device="meta"))


def test_adaptive_models_take_other_sizes():
    assert alexnet("torchvision", device="meta")(torch.zeros((1, 3, 100, 130), device="meta")) \
        .shape == (1, 1000)
    assert vgg("A", device="meta")(torch.zeros((1, 3, 32, 64), device="meta")).shape == (1, 1000)


@pytest.mark.parametrize("call, match", [
    (lambda: alexnet("caffe"), "variant must be one of"),
    (lambda: alexnet("paper", 0), "num_classes must be a positive int"),
    (lambda: alexnet("paper", dropout=1.0), r"dropout must be in \[0, 1\)"),
    (lambda: alexnet_layers("paper", input_size=0), "input_size must be a positive int"),
    (lambda: vgg("F"), "config must be one of"),
    (lambda: vgg("vgg16", num_classes=-1), "num_classes"),
    (lambda: vgg_layers("D", input_size=2.5), "input_size"),
    (lambda: unrounded_output_size(224, 11, 0), "stride must be a positive int"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_vgg_accepts_torchvisions_names():
    assert _count(vgg("vgg19", device="meta")) == PUBLISHED[("vgg", "E", False)]


# -- weights ----------------------------------------------------------------------------------
def test_paper_initialization():
    model = alexnet("paper", device="cpu", seed=0)
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        assert torch.all(getattr(model, name).bias == 1), name
    for name in ("conv1", "conv3", "fc8"):
        assert torch.all(getattr(model, name).bias == 0), name
    std = model.fc6.weight.std().item()  # 37.7 million draws of N(0, 0.01²)
    assert abs(std - 0.01) < 1e-4


def test_the_seed_fixes_the_weights():
    a, b = alexnet("torchvision", device="cpu", seed=1), alexnet("torchvision", device="cpu", seed=1)
    c = alexnet("torchvision", device="cpu", seed=2)
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)


# -- real forward passes ------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["paper", "torchvision"])
def test_alexnet_forward_on_cpu(variant):
    model = alexnet(variant, device="cpu").eval()
    x = torch.randn((1, *model.input_shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


def test_vgg11_forward_on_cpu():
    model = vgg("A", device="cpu").eval()
    with torch.no_grad():
        y = model(torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(0)))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


@pytest.mark.parametrize("config, batch_norm", [("B", False), ("C", False), ("D", False),
                                                ("E", False), ("D", True)])
def test_vgg_forward_on_cpu(config, batch_norm):
    model = vgg(config, batch_norm=batch_norm, device="cpu").eval()
    with torch.no_grad():
        y = model(torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(0)))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


@pytest.mark.gpu
@pytest.mark.parametrize("build", [lambda **kw: alexnet("paper", **kw),
                                   lambda **kw: alexnet("torchvision", **kw),
                                   lambda **kw: vgg("D", **kw),
                                   lambda **kw: vgg("D", batch_norm=True, **kw)],
                         ids=["alexnet-paper", "alexnet-torchvision", "vgg16", "vgg16_bn"])
def test_cuda_forward_matches_the_cpu_in_float64(build):
    """The same seed gives the same weights on both devices, and the same scores."""
    cpu = build(device="cpu", dtype=torch.float64).eval()
    cuda = build(device="cuda", dtype=torch.float64).eval()
    assert all(p.device.type == "cuda" for p in cuda.parameters())
    for (name, p), q in zip(cpu.named_parameters(), cuda.parameters()):
        assert torch.equal(p, q.cpu()), name
    x = torch.randn((2, *cpu.input_shape), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y_cpu, y_cuda = cpu(x), cuda(x.cuda()).cpu()
    assert y_cuda.shape == (2, 1000)
    assert rel_error(y_cuda.numpy(), y_cpu.numpy()) < 1e-10
    assert np.isfinite(y_cuda.numpy()).all()
