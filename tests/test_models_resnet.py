"""ResNet (dlbook.models.resnet): the published parameter counts and multiply-adds, the
design rules, the shortcut options, and the NumPy blocks and networks against their torch
twins (float64, forward and backward, train and eval) and against finite differences."""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import dlbook.nn as nn
from dlbook.check import against_torch, gradcheck
import dlbook.models.resnet as R
from dlbook.models import (BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck,
                           ResNet, ZeroPadShortcut, cifar_resnet, cifar_resnet_torch,
                           imagenet_resnet, imagenet_resnet_torch)

#: torchvision's published parameter counts (1000 classes)
PUBLISHED = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
             152: 60_192_808}
#: torchvision's published multiply-adds ("GFLOPS") of one 224×224 image, v1.5 weights
TORCHVISION_GMACS = {18: 1.81, 34: 3.66, 50: 4.09, 101: 7.80, 152: 11.51}
#: the paper's Table 1 ("FLOPs", i.e. multiply-adds, one decimal) for the bottleneck depths
PAPER_GMACS = {50: 3.8, 101: 7.6, 152: 11.3}
#: the paper's Table 6 (CIFAR-10): n -> parameters in millions, as printed
PAPER_CIFAR_MILLIONS = {3: "0.27", 5: "0.46", 7: "0.66", 9: "0.85", 18: "1.7"}


@pytest.fixture(autouse=True)
def one_thread():
    """Small arrays: on a shared 2-core machine extra threads only add waiting."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


def meta_resnet(depth, **kwargs) -> R.ResNetTorch:
    """The torch network on the meta device: shapes and counts, no memory or time."""
    block, layers = R.DEPTHS[depth]
    with torch.device("meta"):
        return R.ResNetTorch(block, layers, **kwargs)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def randomize_batchnorm(model, seed=0):
    """BN γ, β and running statistics away from 1, 0, 0, 1, so that a check can see them."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias[...] = rng.normal(0, 0.5, m.bias.shape)
            m.running_mean[...] = rng.normal(0, 0.5, m.running_mean.shape)
            m.running_var[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
    return model


# -- counts ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", sorted(PUBLISHED))
def test_published_parameter_counts(depth):
    assert count(meta_resnet(depth)) == PUBLISHED[depth]
    # the paper's v1 puts the stride on the first 1×1: it moves, no parameter changes
    assert count(meta_resnet(depth, stride_on="1x1")) == PUBLISHED[depth]


def test_builders_numpy_and_torch_have_the_published_count_and_the_same_names():
    numpy_model, torch_model = imagenet_resnet(18), imagenet_resnet_torch(18, device="cpu")
    assert numpy_model.parameter_count() == count(torch_model) == PUBLISHED[18]
    ours = {k: v.shape for k, v in numpy_model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in torch_model.state_dict().items()}
    assert ours == theirs  # torchvision's names: conv1.weight, layer2.0.downsample.0.weight
    assert "layer2.0.downsample.0.weight" in ours and "fc.bias" in ours


@pytest.mark.parametrize("depth", sorted(TORCHVISION_GMACS))
def test_multiply_adds_v1_5_is_torchvision_v1_is_the_paper(depth):
    def gmacs(model):
        with torch.device("meta"):
            x = torch.empty(1, 3, 224, 224)
        with FlopCounterMode(display=False) as counter:
            model(x)
        return counter.get_total_flops() / 2e9  # a multiply-add is two FLOPs

    v15 = gmacs(meta_resnet(depth))
    assert round(v15, 2) == TORCHVISION_GMACS[depth]
    if depth in PAPER_GMACS:  # the paper prints one decimal: its count is v1's, not v1.5's
        v1 = gmacs(meta_resnet(depth, stride_on="1x1"))
        assert abs(v1 - PAPER_GMACS[depth]) < 0.1 < abs(v15 - PAPER_GMACS[depth])


def cifar_count(n: int, classes: int = 10, channels: int = 3) -> int:
    """Counted by hand: 3×3 convolutions without bias, BN's γ and β per channel, option-A
    shortcuts (no parameters), one fc with bias."""
    total, c_prev = 9 * channels * 16 + 2 * 16, 16
    for width in (16, 32, 64):
        for j in range(n):
            total += 9 * (c_prev if j == 0 else width) * width + 9 * width * width
            total += 2 * 2 * width
        c_prev = width
    return total + 64 * classes + classes


@pytest.mark.parametrize("n", sorted(PAPER_CIFAR_MILLIONS))
def test_cifar_resnet_counts_and_depth_6n_plus_2(n):
    with torch.device("meta"):
        model = R.ResNetTorch("basic", (n, n, n), 10, widths=(16, 32, 64), stem="cifar",
                              shortcut="A")
    printed = PAPER_CIFAR_MILLIONS[n]
    decimals = len(printed.split(".")[1])
    assert count(model) == cifar_count(n)
    assert f"{count(model) / 1e6:.{decimals}f}" == printed
    weighted = [m for name, m in model.named_modules()
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weighted) == 6 * n + 2  # option A adds no layer


def test_numpy_cifar_resnet_count_with_other_inputs_and_classes():
    model = cifar_resnet(1, num_classes=7, in_channels=1)
    assert model.parameter_count() == cifar_count(1, classes=7, channels=1)
    y = model(np.zeros((2, 1, 8, 8), np.float32))
    assert y.shape == (2, 7) and y.dtype == np.float32


# -- forward at ImageNet size --------------------------------------------------------------
@pytest.mark.parametrize("depth", [18, 34, 50])
def test_forward_224_gives_1000_scores(depth):
    model = imagenet_resnet_torch(depth, device="cpu").eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


# -- design rules ----------------------------------------------------------------------------
def blocks_of(model):
    return [(f"layer{i + 1}.{j}", block) for i, stage in enumerate(model.stages())
            for j, block in enumerate(stage)]


@pytest.mark.parametrize("depth", sorted(PUBLISHED))
def test_design_rules(depth):
    model = meta_resnet(depth)
    expansion = R.EXPANSION[R.DEPTHS[depth][0]]
    shapes = []
    for stage in model.stages():
        stage.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[1:])))
    model(torch.empty(1, 3, 224, 224, device="meta"))
    assert shapes == [(64 * expansion, 56, 56), (128 * expansion, 28, 28),
                      (256 * expansion, 14, 14), (512 * expansion, 7, 7)]
    for (c, h, w), (c2, h2, w2) in zip(shapes, shapes[1:]):
        assert c2 == 2 * c and 2 * h2 == h and 2 * w2 == w  # channels double as map halves
    pools = (torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)
    for stage in model.stages():  # stride-2 convolutions downsample, never pooling
        assert not any(isinstance(m, pools) for m in stage.modules())
    strided = sorted(name for name, m in model.named_modules()
                     if isinstance(m, torch.nn.Conv2d) and m.stride != (1, 1))
    carrier = "conv1" if expansion == 1 else "conv2"  # v1.5: on the bottleneck's 3×3
    assert strided == sorted(["conv1"] + [f"layer{k}.0.{s}" for k in (2, 3, 4)
                                          for s in (carrier, "downsample.0")])
    for name, block in blocks_of(model):
        changes = block.stride != 1 or block.in_channels != block.out_channels
        assert (block.downsample is not None) == changes, name  # option B
        if expansion == 4:
            width = block.conv2.out_channels
            assert width == block.conv1.out_channels == block.conv2.in_channels
            assert width == block.out_channels // 4 == block.conv3.in_channels


def test_the_paper_v1_puts_the_stride_on_the_first_1x1():
    model = meta_resnet(50, stride_on="1x1")
    strided = sorted(name for name, m in model.named_modules()
                     if isinstance(m, torch.nn.Conv2d) and m.stride != (1, 1))
    assert strided == sorted(["conv1"] + [f"layer{k}.0.{s}" for k in (2, 3, 4)
                                          for s in ("conv1", "downsample.0")])
    assert model.layer2[0].conv2.stride == (1, 1) and model.layer2[0].conv2.kernel_size == (3, 3)


@pytest.mark.parametrize("config", [dict(block="basic", layers=(2, 1), widths=(4, 8)),
                                    dict(block="bottleneck", layers=(1, 2), widths=(4, 8),
                                         stride_on="1x1", preact=True),
                                    dict(block="basic", layers=(1, 1, 1), stem="cifar",
                                         widths=(2, 4, 8), shortcut="A"),
                                    dict(block="basic", layers=(2, 1), widths=(4, 8),
                                         plain=True)])
def test_numpy_network_has_the_torch_twins_modules(config):
    numpy_model, torch_model = ResNet(**config), R.ResNetTorch(**config)

    def layout(model, conv):
        """Every submodule's path, class name and (for convolutions) stride."""
        return {name: (type(m).__name__.removesuffix("Torch"),
                       tuple(m.stride) if isinstance(m, conv) else None)
                for name, m in model.named_modules() if name}

    assert layout(numpy_model, nn.Conv2d) == layout(torch_model, torch.nn.Conv2d)


# -- shortcuts -----------------------------------------------------------------------------
def test_option_a_pads_exact_zeros_and_has_no_parameters():
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5))
    block = BasicBlock(4, 8, 2, "A", dtype=np.float64, seed=0)
    assert isinstance(block.downsample, ZeroPadShortcut)
    assert block.downsample.parameter_count() == 0 and not list(block.downsample.buffers())
    assert block.parameter_count() == 9 * 4 * 8 + 9 * 8 * 8 + 2 * 2 * 8
    s = block.downsample(x)
    assert s.shape == (2, 8, 3, 3)
    assert np.all(s[:, 4:] == 0.0)  # exactly zero, not small
    np.testing.assert_array_equal(s[:, :4], x[:, :, ::2, ::2])  # subsampled by the stride

    # inside the torch twin's forward: what the addition receives from the shortcut
    twin = nn.to_torch(block)
    seen = []
    twin.downsample.register_forward_hook(lambda m, i, out: seen.append(out))
    xt = torch.tensor(x)
    with torch.no_grad():
        y = twin(xt)
        residual = twin.bn2(twin.conv2(twin.relu(twin.bn1(twin.conv1(xt)))))
    (shortcut,) = seen
    assert torch.all(shortcut[:, 4:] == 0) and torch.equal(shortcut[:, :4], xt[:, :, ::2, ::2])
    assert torch.equal(y, torch.relu(residual + shortcut))


def test_option_b_projects_only_where_the_shape_changes():
    block = BasicBlock(4, 8, 2, "B")
    proj = block.downsample
    assert isinstance(proj, nn.Sequential) and len(proj) == 2
    conv, bn = proj
    assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and conv.bias is None
    assert proj.parameter_count() == 4 * 8 + 2 * 8
    for cls in (BasicBlock, PreActBasicBlock):  # same shape: identity, for A and B
        assert cls(8, 8, 1, "B").downsample is None and cls(8, 8, 1, "A").downsample is None
    assert isinstance(BasicBlock(8, 8, 1, "C").downsample, nn.Sequential)  # C: always
    assert isinstance(Bottleneck(16, 16, 1, "C").downsample, nn.Sequential)
    # pre-activation: the projection is a bare 1×1 conv (BN-ReLU came before the fork)
    assert isinstance(PreActBasicBlock(4, 8, 2, "B").downsample, nn.Conv2d)
    assert isinstance(PreActBottleneck(4, 16, 1, "A").downsample, ZeroPadShortcut)


def test_zero_pad_shortcut_backward_drops_the_padded_channels():
    shortcut = ZeroPadShortcut(3, 5, 2)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    y = shortcut(x)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx = shortcut.backward(dy)
    expected = np.zeros_like(x)
    expected[:, :, ::2, ::2] = dy[:, :3]
    np.testing.assert_array_equal(dx, expected)


# -- NumPy blocks against torch and finite differences ----------------------------------------
#: (class, constructor arguments): every block kind with an identity, a zero-padding
#: (A) and a projection (B; C where the shape stays) shortcut, both stride placements
BLOCK_CASES = [
    (BasicBlock, (4, 4, 1, "B")), (BasicBlock, (2, 4, 2, "A")), (BasicBlock, (2, 4, 2, "B")),
    (BasicBlock, (4, 4, 1, "C")),
    (Bottleneck, (8, 8, 1, "B")), (Bottleneck, (4, 8, 2, "B", "3x3")),
    (Bottleneck, (4, 8, 2, "A", "1x1")),
    (PreActBasicBlock, (4, 4, 1, "B")), (PreActBasicBlock, (2, 4, 2, "A")),
    (PreActBasicBlock, (2, 4, 2, "B")),
    (PreActBottleneck, (4, 8, 2, "B", "1x1")), (PreActBottleneck, (4, 8, 1, "A")),
    # plain blocks (no addition): where the shape changes and where it stays
    (BasicBlock, (2, 4, 2, "A", True)), (BasicBlock, (4, 4, 1, "A", True)),
    (Bottleneck, (4, 8, 2, "A", "1x1", True)), (PreActBasicBlock, (2, 4, 2, "A", True)),
    (PreActBottleneck, (8, 8, 1, "B", "3x3", True)),
]
CASE_IDS = [f"{cls.__name__}{args}" for cls, args in BLOCK_CASES]


def make_block(cls, args, seed=0):
    return randomize_batchnorm(cls(*args, dtype=np.float64, seed=seed), seed)


def block_input(args, seed=0):
    return np.random.default_rng(seed + 100).standard_normal((3, args[0], 5, 5))


@pytest.mark.parametrize("cls, args", BLOCK_CASES, ids=CASE_IDS)
def test_block_matches_torch_float64_train_and_eval(cls, args):
    block, x = make_block(cls, args), block_input(args)
    report = against_torch(block, x, device="cpu")  # raises beyond 1e-10 (float64)
    assert "dconv1.weight" in report.errors and "dbn1.weight" in report.errors
    if block.downsample is not None and block.downsample.parameter_count():
        assert any(k.startswith("ddownsample.") for k in report.errors)
    block.eval()
    against_torch(block, x, device="cpu")


@pytest.mark.parametrize("cls, args", BLOCK_CASES, ids=CASE_IDS)
def test_block_backward_matches_finite_differences(cls, args):
    block, x = make_block(cls, args, seed=1), block_input(args, seed=1)
    errors = gradcheck(block, x)  # train mode: BN's batch statistics depend on x
    assert set(errors) >= {"dx", "dconv1.weight", "dbn1.bias"}
    if cls in (BasicBlock, PreActBottleneck):
        gradcheck(block.eval(), x)


def test_blocks_take_many_calls_before_backward():
    block = make_block(Bottleneck, (8, 16, 2, "B"))
    x1, x2 = block_input((8,), 1), block_input((8,), 2)
    g1, g2 = (np.random.default_rng(s).standard_normal((3, 16, 3, 3)) for s in (3, 4))
    alone = []
    for x, g in ((x1, g1), (x2, g2)):
        block.zero_grad()
        block(x)
        alone.append((block.backward(g), block.conv1.weight.grad.copy()))
    block.zero_grad()
    block(x1)
    block(x2)
    dx2, dx1 = block.backward(g2), block.backward(g1)  # last in, first out
    np.testing.assert_allclose(dx1, alone[0][0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(dx2, alone[1][0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(block.conv1.weight.grad, alone[0][1] + alone[1][1],
                               rtol=1e-12, atol=1e-15)
    assert all(m.saved_count == 0 for m in block.modules())


def test_backward_needs_its_forward_and_the_output_shape():
    block = BasicBlock(4, 8, 2, "A", dtype=np.float64)
    with pytest.raises(RuntimeError, match="nothing saved"):
        block.backward(np.zeros((1, 8, 3, 3)))
    block(np.zeros((2, 4, 6, 6)))
    with pytest.raises(ValueError, match=r"dy of shape \(2, 8, 3, 3\)"):
        block.backward(np.zeros((2, 8, 6, 6)))


# -- small NumPy networks against torch --------------------------------------------------------
NETWORKS = {
    "cifar n=1, 1×8×8": (lambda: cifar_resnet(1, 10, 1, dtype=np.float64, seed=0), (4, 1, 8, 8)),
    "cifar n=1 pre-activation": (lambda: cifar_resnet(1, 10, 1, preact=True, dtype=np.float64,
                                                      seed=1), (4, 1, 8, 8)),
    "cifar n=1 plain": (
        lambda: cifar_resnet(1, 10, 1, plain=True, dtype=np.float64, seed=4),
        (4, 1, 8, 8)),
    "imagenet stem, bottleneck v1.5": (lambda: ResNet("bottleneck", (1, 1), 5, 3, widths=(4, 8),
                                                      dtype=np.float64, seed=2), (2, 3, 16, 16)),
    "imagenet stem, bottleneck v1, option A": (
        lambda: ResNet("bottleneck", (1, 1), 5, 3, widths=(4, 8), stride_on="1x1",
                       shortcut="A", dtype=np.float64, seed=3), (2, 3, 16, 16)),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_small_numpy_resnet_matches_its_torch_twin(name):
    build, shape = NETWORKS[name]
    model = randomize_batchnorm(build())
    x = np.random.default_rng(5).standard_normal(shape)
    report = against_torch(model, x, device="cpu")
    assert {"dconv1.weight", "dfc.weight", "dlayer2.0.conv1.weight"} <= set(report.errors)
    model.eval()
    against_torch(model, x, device="cpu")


def test_tiny_numpy_resnet_backward_matches_finite_differences():
    model = randomize_batchnorm(ResNet("basic", (1, 1), 3, 1, widths=(2, 4), stem="cifar",
                                       shortcut="A", dtype=np.float64, seed=0))
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    errors = gradcheck(model, x)
    assert {"dx", "dconv1.weight", "dlayer2.0.conv2.weight", "dfc.weight"} <= set(errors)


def test_cifar_resnet_torch_has_the_numpy_weights_and_converts_back():
    model = cifar_resnet(1, 10, 1, seed=3)
    twin = cifar_resnet_torch(1, 10, 1, seed=3, device="cpu")
    assert isinstance(twin, R.ResNetTorch)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, twin.state_dict()[k].numpy())
    back = nn.from_torch(twin.double().eval())
    assert isinstance(back, ResNet) and back.dtype == np.float64 and not back.training
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    with torch.no_grad():
        np.testing.assert_allclose(back(x), twin(torch.tensor(x)).numpy(), rtol=1e-12,
                                   atol=1e-12)


def test_seeds():
    a, b, c = (imagenet_resnet_torch(18, seed=s, device="cpu") for s in (1, 1, 2))
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    imagenet_resnet_torch(18, seed=0, device="cpu")
    assert torch.equal(torch.rand(3), expected)  # the global generator was left alone
    # He initialization (fan_out) on the convolutions, as the paper and torchvision
    w = a.layer4[1].conv2.weight
    assert abs(w.std().item() / (2 / (512 * 9)) ** 0.5 - 1) < 0.01


# -- plain networks (no shortcuts) -----------------------------------------------------
@pytest.mark.parametrize("n", [1, 3])
def test_plain_cifar_net_has_the_residual_nets_layers_parameters_and_initial_weights(n):
    """Option A's shortcuts have no parameters: dropping them removes nothing but the
    additions. Same seed, same initial weights: a comparison is of architectures."""
    plain = cifar_resnet(n, 10, 1, plain=True, seed=5)
    residual = cifar_resnet(n, 10, 1, seed=5)
    assert plain.plain and not residual.plain
    assert plain.parameter_count() == residual.parameter_count()
    assert plain.parameter_count() == cifar_count(n, channels=1)
    ours, theirs = plain.state_dict(), residual.state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)
    assert all(b.plain and b.downsample is None for _, b in blocks_of(plain))
    zero_pads = [b for _, b in blocks_of(residual)
                 if isinstance(b.downsample, ZeroPadShortcut)]
    assert len(zero_pads) == 2
    twin = cifar_resnet_torch(n, 10, 1, plain=True, seed=5, device="cpu")
    assert twin.plain and count(twin) == cifar_count(n, channels=1)
    weighted = [m for m in twin.modules()
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weighted) == 6 * n + 2
    assert not any(isinstance(m, R.ZeroPadShortcutTorch) for m in twin.modules())
    for k, v in ours.items():
        np.testing.assert_array_equal(v, twin.state_dict()[k].numpy(), err_msg=k)


def block_by_hand(block, x, add_shortcut: bool):
    """A torch BasicBlock's output from its layers: relu(F(x) [+ shortcut(x)])."""
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    if add_shortcut:
        out = out + (x if block.downsample is None else block.downsample(x))
    return torch.relu(out)


def network_by_hand(model, x, add_shortcut: bool):
    x = model.relu(model.bn1(model.conv1(x)))
    for stage in model.stages():
        for block in stage:
            x = block_by_hand(block, x, add_shortcut)
    return model.fc(torch.flatten(model.avgpool(x), 1))


@pytest.mark.parametrize("train", [True, False])
def test_plain_forward_is_the_residual_forward_without_the_shortcuts(train):
    """With the same weights, the plain network computes the residual network's layers
    with every addition left out; the same hand-written forward with the additions gives
    the residual network's output (so the comparison can tell the two apart)."""
    residual = randomize_batchnorm(cifar_resnet(2, 10, 1, dtype=np.float64, seed=6))
    plain = cifar_resnet(2, 10, 1, plain=True, dtype=np.float64, seed=0)
    plain.load_state_dict(residual.state_dict())
    residual_t, plain_t = nn.to_torch(residual), nn.to_torch(plain)
    x = torch.tensor(np.random.default_rng(7).standard_normal((5, 1, 8, 8)))
    for m in (residual_t, plain_t):
        m.train(train)
    with torch.no_grad():
        y_plain, y_residual = plain_t(x), residual_t(x)
        by_hand_plain = network_by_hand(residual_t, x, add_shortcut=False)
        by_hand_residual = network_by_hand(residual_t, x, add_shortcut=True)
    torch.testing.assert_close(y_plain, by_hand_plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y_residual, by_hand_residual, rtol=1e-12, atol=1e-12)
    assert (y_plain - y_residual).abs().max() > 1e-3  # the shortcuts change the output
    # and the NumPy networks agree with their twins
    plain.train(train)
    np.testing.assert_allclose(plain(x.numpy()), y_plain.numpy(), rtol=1e-10,
                               atol=1e-12)


def test_plain_block_backward_has_no_shortcut_gradient():
    """dx of a plain block is the gradient through its layers alone, as the residual
    block's dx minus the identity shortcut's share relu'(sum) * dy."""
    x = np.random.default_rng(8).standard_normal((3, 4, 5, 5))
    residual = make_block(BasicBlock, (4, 4, 1, "A"), seed=2)
    plain = BasicBlock(4, 4, 1, "A", True, dtype=np.float64)
    plain.load_state_dict(residual.state_dict())
    y = residual(x)
    dy = np.random.default_rng(9).standard_normal(y.shape)
    d_sum = dy * (y > 0)  # through the ReLU after the addition
    dx_residual = residual.backward(dy)
    # the plain block's output differs, so compare through its own ReLU mask
    xt = torch.tensor(x, requires_grad=True)
    twin = nn.to_torch(residual)
    branch = twin.bn2(twin.conv2(twin.relu(twin.bn1(twin.conv1(xt)))))
    (torch.tensor(d_sum) * branch).sum().backward()
    np.testing.assert_allclose(dx_residual - d_sum, xt.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    y_plain = plain(x)
    dx_plain = plain.backward(dy)
    xt.grad = None
    branch = twin.bn2(twin.conv2(twin.relu(twin.bn1(twin.conv1(xt)))))
    (torch.tensor(dy * (y_plain > 0)) * branch).sum().backward()
    np.testing.assert_allclose(dx_plain, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_plain_networks_convert_both_ways_and_plain_34_lacks_only_the_projections():
    twin = nn.to_torch(cifar_resnet(1, 10, 1, plain=True))
    assert twin.plain and all(b.plain for stage in twin.stages() for b in stage)
    back = nn.from_torch(twin)
    assert isinstance(back, ResNet) and back.plain
    assert all(b.plain for _, b in blocks_of(back))
    # the paper's plain-34 (Table 2): ResNet-34 without its three 1×1 projections + BN
    projections = sum(c * 2 * c + 2 * 2 * c for c in (64, 128, 256))
    plain_34 = count(meta_resnet(34, plain=True))
    assert plain_34 == PUBLISHED[34] - projections == 21_623_848
    with torch.device("meta"):
        plain_18 = imagenet_resnet_torch(18, plain=True, device="meta")
    assert count(plain_18) == PUBLISHED[18] - projections


# -- bad inputs ---------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unknown ResNet depth 20.*\[18, 34, 50, 101, 152\]"):
        imagenet_resnet(20)
    with pytest.raises(ValueError, match="unknown ResNet depth 20"):
        imagenet_resnet_torch(20)
    with pytest.raises(ValueError, match="unknown shortcut option 'D'.*'A'.*'B'.*'C'"):
        BasicBlock(4, 8, 2, "D")
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        R.ResNetTorch(shortcut="D")
    with pytest.raises(ValueError, match="stride_on must be '3x3'.*or '1x1'.*got '2x2'"):
        Bottleneck(8, 16, 2, stride_on="2x2")
    with pytest.raises(ValueError, match="multiple of 4"):
        Bottleneck(8, 10)
    with pytest.raises(ValueError, match="out_channels >= in_channels"):
        BasicBlock(8, 4, 2, "A")
    with pytest.raises(ValueError, match="block must be 'basic' or 'bottleneck'"):
        ResNet("wide")
    with pytest.raises(ValueError, match="one width per stage"):
        ResNet("basic", (2, 2), widths=(4, 8, 16))
    with pytest.raises(ValueError, match="stem must be 'imagenet'"):
        ResNet(stem="tiny")
    with pytest.raises(ValueError, match="n must be a positive int"):
        cifar_resnet(0)
    with pytest.raises(ValueError, match="plain must be True or False, got 'yes'"):
        cifar_resnet(1, plain="yes")
    with pytest.raises(ValueError, match="BasicBlock: plain must be True or False"):
        R.BasicBlockTorch(4, 4, 1, "A", plain=1)
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        BasicBlock(4, 4, 1, "D", plain=True)  # a plain block still checks the option
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"BasicBlock\(4 -> 8, stride 2\) expects input of "
                                         r"shape \(N, 4, H, W\), got \(1, 3, 5, 5\)"):
        BasicBlock(4, 8, 2, dtype=np.float64)(x)
    with pytest.raises(ValueError, match=r"BasicBlock\(4 -> 8, stride 2\) expects input of "
                                         r"shape \(N, 4, H, W\)"):
        R.BasicBlockTorch(4, 8, 2)(torch.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"ResNet expects images of shape \(N, 1, H, W\), "
                                         r"got \(2, 3, 8, 8\)"):
        cifar_resnet(1, in_channels=1)(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"expects images of shape \(N, 3, H, W\)"):
        meta_resnet(18)(torch.empty(1, 1, 224, 224, device="meta"))


# -- CUDA --------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_torch_resnets_train_on_cuda():
    for depth in (18, 50):
        model = imagenet_resnet_torch(depth, device="cuda")
        x = torch.randn(2, 3, 224, 224, device="cuda")
        y = model(x)
        y.sum().backward()
        assert y.shape == (2, 1000) and y.device.type == "cuda"
        assert all(p.grad is not None and p.grad.device.type == "cuda"
                   for p in model.parameters())


@pytest.mark.gpu
def test_numpy_resnet_and_blocks_match_torch_on_cuda():
    model = randomize_batchnorm(cifar_resnet(1, 10, 1, dtype=np.float64, seed=0))
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8))
    against_torch(model, x, device="cuda")  # raises beyond 1e-10 (float64)
    for cls, args in BLOCK_CASES:
        against_torch(make_block(cls, args), block_input(args), device="cuda")
    twin = cifar_resnet_torch(1, 10, 1, device="cuda")
    assert all(p.device.type == "cuda" for p in twin.parameters())


def test_registered_twins_convert_inside_containers():
    from dlbook.nn.bridge import register_twin

    stack = nn.Sequential(BasicBlock(2, 4, 2, "A", dtype=np.float64, seed=0),
                          PreActBasicBlock(4, 4, dtype=np.float64, seed=1))
    twin = nn.to_torch(stack)
    assert [type(m).__name__ for m in twin] == ["BasicBlockTorch", "PreActBasicBlockTorch"]
    against_torch(stack, np.random.default_rng(0).standard_normal((2, 2, 6, 6)), device="cpu")
    back = nn.from_torch(twin)
    assert [type(m) for m in back] == [BasicBlock, PreActBasicBlock]
    with pytest.raises(TypeError, match="dlbook.nn.Module subclass"):
        register_twin(int, torch.nn.Linear)
