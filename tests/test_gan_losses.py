"""The GAN losses (dlbook.gan): the NumPy losses and their hand-derived gradients against the formulas
written out here, torch.nn.BCEWithLogitsLoss, autograd and finite differences; finite at logits
of ±1000; and the saturation fact that motivates the non-saturating generator loss."""

import numpy as np
import pytest
import torch

from dlbook.check import numerical_gradient, rel_error
from dlbook.gan import discriminator_loss, discriminator_loss_torch, generator_loss, generator_loss_torch

RTOL = 1e-12
BCE = torch.nn.BCEWithLogitsLoss()  # mean over the entries


def _logits(n, seed, scale=2.0, shape=None):
    return scale * np.random.default_rng(seed).standard_normal(shape or (n,))


def _close(ours, theirs, rtol=RTOL):
    theirs = theirs.detach().cpu().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert np.shape(ours) == theirs.shape, f"shape {np.shape(ours)} vs {theirs.shape}"
    err = rel_error(ours, theirs)
    assert err <= rtol, f"relative error {err:.3e} > {rtol:.0e}"


def _sigma(a):  # as written: fine for the moderate logits it is used on
    return 1 / (1 + np.exp(-a))


def test_discriminator_loss_equals_the_formula():
    """L_D = -mean log D(x) - mean log(1 - D(G(z))), D = σ(a); dL/da_r = (σ - 1)/n_r, dL/da_f = σ/n_f."""
    real, fake = _logits(8, 0), _logits(5, 1, shape=(5, 1))  # batches of different sizes and shapes
    loss, d_real, d_fake = discriminator_loss(real, fake)
    expected = -np.mean(np.log(_sigma(real))) - np.mean(np.log(1 - _sigma(fake)))
    assert isinstance(loss, float) and abs(loss - expected) <= 1e-13 * abs(expected)
    _close(d_real, (_sigma(real) - 1) / 8, 1e-13)
    _close(d_fake, _sigma(fake) / 5, 1e-13)


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_generator_loss_equals_the_formula(kind):
    fake = _logits(6, 2, shape=(2, 3))
    loss, d_fake = generator_loss(fake, kind)
    if kind == "non_saturating":  # -mean log D(G(z))
        expected, grad = -np.mean(np.log(_sigma(fake))), (_sigma(fake) - 1) / 6
    else:  # mean log(1 - D(G(z)))
        expected, grad = np.mean(np.log(1 - _sigma(fake))), -_sigma(fake) / 6
    assert abs(loss - expected) <= 1e-13 * abs(expected)
    _close(d_fake, grad, 1e-13)


def test_losses_are_binary_cross_entropy():
    """D: BCE with target 1 on real plus BCE with target 0 on fake; G: BCE with target 1 on fake
    (non-saturating), minus BCE with target 0 on fake (minimax)."""
    real, fake = _logits(7, 3), _logits(9, 4)
    rt, ft = torch.tensor(real), torch.tensor(fake)
    bce_real_1, bce_fake_0, bce_fake_1 = BCE(rt, torch.ones(7, dtype=torch.float64)), \
        BCE(ft, torch.zeros(9, dtype=torch.float64)), BCE(ft, torch.ones(9, dtype=torch.float64))
    _close(discriminator_loss(real, fake)[0], bce_real_1 + bce_fake_0)
    _close(generator_loss(fake, "non_saturating")[0], bce_fake_1)
    _close(generator_loss(fake, "minimax")[0], -bce_fake_0)


def test_gradients_match_autograd_and_finite_differences():
    real, fake = _logits(7, 5), _logits(4, 6, shape=(4, 1))
    rt, ft = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
    loss_t = discriminator_loss_torch(rt, ft)
    loss_t.backward()
    loss, d_real, d_fake = discriminator_loss(real, fake)
    _close(loss, loss_t)
    _close(d_real, rt.grad)
    _close(d_fake, ft.grad)
    _close(d_real, numerical_gradient(lambda: discriminator_loss(real, fake)[0], real), 1e-8)
    _close(d_fake, numerical_gradient(lambda: discriminator_loss(real, fake)[0], fake), 1e-8)
    for kind in ("non_saturating", "minimax"):
        ft = torch.tensor(fake, requires_grad=True)
        loss_t = generator_loss_torch(ft, kind)
        loss_t.backward()
        loss, d_fake = generator_loss(fake, kind)
        _close(loss, loss_t)
        _close(d_fake, ft.grad)
        _close(d_fake, numerical_gradient(lambda: generator_loss(fake, kind)[0], fake), 1e-8)


def test_extreme_logits_give_finite_exact_values():
    """A discriminator certain and right costs 0; certain and wrong costs |logit| per sample."""
    sure_right = discriminator_loss(np.array([1000.0]), np.array([-1000.0]))
    sure_wrong = discriminator_loss(np.array([-1000.0]), np.array([1000.0]))
    assert sure_right[0] == 0.0
    np.testing.assert_array_equal(sure_right[1:], [[0.0], [0.0]])
    assert sure_wrong[0] == 2000.0
    np.testing.assert_array_equal(sure_wrong[1:], [[-1.0], [1.0]])
    for logit in (1000.0, -1000.0):
        fake = np.array([logit])
        ns, minimax = generator_loss(fake, "non_saturating"), generator_loss(fake, "minimax")
        assert ns[0] == max(-logit, 0.0) and minimax[0] == -max(logit, 0.0)
        assert np.isfinite([ns[0], minimax[0], *ns[1], *minimax[1]]).all()
        ft = torch.tensor(fake, requires_grad=True)
        generator_loss_torch(ft, "non_saturating").backward()
        assert torch.isfinite(ft.grad).all() and ft.grad.item() == ns[1][0]
    rt, ft = torch.tensor([-1000.0], requires_grad=True), torch.tensor([1000.0], requires_grad=True)
    loss = discriminator_loss_torch(rt, ft)
    loss.backward()
    assert loss.item() == 2000.0 and rt.grad.item() == -1.0 and ft.grad.item() == 1.0


def test_minimax_generator_gradient_saturates_where_non_saturating_does_not():
    """Early in training D rejects the fakes: D(G(z)) = σ(a) ≈ 0. Per sample (n = 1), the minimax
    gradient -σ(a) is then ≈ 0 and G learns nothing, while the non-saturating σ(a) - 1 is ≈ -1."""
    fake = np.array([-15.0])  # D(G(z)) = σ(-15) ≈ 3.1e-7
    d_minimax = generator_loss(fake, "minimax")[1][0]
    d_non_saturating = generator_loss(fake, "non_saturating")[1][0]
    assert abs(d_minimax) < 1e-6 and abs(d_non_saturating + 1) < 1e-6
    assert d_minimax < 0 and d_non_saturating < 0  # both push the fake logit up, towards "real"
    # where D is fooled (σ(a) ≈ 1) it is the other way round: minimax ≈ -1, non-saturating ≈ 0
    fooled = np.array([15.0])
    assert abs(generator_loss(fooled, "minimax")[1][0] + 1) < 1e-6
    assert abs(generator_loss(fooled, "non_saturating")[1][0]) < 1e-6
    # the same numbers from autograd
    ft = torch.tensor(fake, requires_grad=True)
    generator_loss_torch(ft, "minimax").backward()
    _close(ft.grad.numpy(), np.array([d_minimax]))


def test_float32_logits_keep_their_dtype():
    real, fake = _logits(4, 7).astype(np.float32), _logits(4, 8).astype(np.float32)
    _, d_real, d_fake = discriminator_loss(real, fake)
    assert d_real.dtype == d_fake.dtype == np.float32
    assert generator_loss(fake)[1].dtype == np.float32
    _close(d_real, discriminator_loss(real.astype(np.float64), fake.astype(np.float64))[1], 1e-6)


@pytest.mark.parametrize("call, error, message", [
    (lambda: generator_loss(np.zeros(3), "wasserstein"), ValueError, "kind must be one of"),
    (lambda: generator_loss_torch(torch.zeros(3), "saturating"), ValueError, "kind must be one of"),
    (lambda: discriminator_loss([1.0], np.zeros(2)), TypeError, "real_logits as a numpy.ndarray"),
    (lambda: discriminator_loss(torch.zeros(2), np.zeros(2)), TypeError, "discriminator_loss_torch"),
    (lambda: discriminator_loss(np.zeros(2), np.zeros(2, np.int64)), TypeError,
     "float32 or float64 fake_logits"),
    (lambda: generator_loss(np.zeros((0, 1))), ValueError, "empty"),
    (lambda: discriminator_loss_torch(np.zeros(2), torch.zeros(2)), TypeError, "float torch.Tensor"),
    (lambda: generator_loss_torch(torch.zeros(0)), ValueError, "empty"),
])
def test_bad_input_names_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_torch_losses_on_cuda_match_numpy(kind):
    real, fake = _logits(16, 9, scale=5.0), _logits(16, 10, scale=5.0)
    rt = torch.tensor(real, device="cuda", requires_grad=True)
    ft = torch.tensor(fake, device="cuda", requires_grad=True)
    loss = discriminator_loss_torch(rt, ft)
    loss.backward()
    ours, d_real, d_fake = discriminator_loss(real, fake)
    assert loss.device.type == "cuda"
    _close(ours, loss)
    _close(d_real, rt.grad)
    _close(d_fake, ft.grad)
    ft = torch.tensor(fake, device="cuda", requires_grad=True)
    g = generator_loss_torch(ft, kind)
    g.backward()
    ours, d_fake = generator_loss(fake, kind)
    _close(ours, g)
    _close(d_fake, ft.grad)
