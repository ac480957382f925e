r"""The losses of a generative adversarial network (Goodfellow et al. 2014), computed
on the discriminator's logits, and the alternating update (:func:`gan_step`) that
:func:`dlbook.train.fit` runs as its ``train_step``.

The discriminator $D$ outputs a logit $a$ per picture, and $D = \sigma(a)$ is its
belief that the picture is real. With real logits $a_r$ (on data) and fake logits
$a_f$ (on $G(z)$), and bars for means over each batch:

* discriminator:
  $L_D = -\overline{\log \sigma(a_r)} - \overline{\log(1 - \sigma(a_f))}$,
  binary cross-entropy with target 1 for real and 0 for fake, the two halves added
  (as torch's DCGAN example adds ``errD_real + errD_fake``);
* generator, ``"minimax"``: $L_G = \overline{\log(1 - \sigma(a_f))}$, the game's own;
* generator, ``"non_saturating"``: $L_G = -\overline{\log \sigma(a_f)}$, what is used.

Per fake logit the generator's gradients are $-\sigma(a_f)/n$ (minimax) and
$(\sigma(a_f) - 1)/n$ (non-saturating). Early in training $D$ rejects the fakes
easily, $\sigma(a_f) \approx 0$: the minimax gradient vanishes, while the
non-saturating one is about $-1/n$, the most it can be. Both push the same way; only
the second still pushes.

Everything is computed from $\log \sigma(a) = \min(a, 0) - \log(1 + e^{-|a|})$ and
$\log(1 - \sigma(a)) = \log \sigma(-a)$, so logits of ±1000 give finite losses and
gradients. The NumPy functions return the gradients with respect to the logits
(derived by hand, above); the ``*_torch`` functions return a loss tensor for
autograd, on any device.
"""

from __future__ import annotations

import numpy as np

from .nn.functional.activation import sigmoid
from .nn.functional.loss import log_sigmoid

GENERATOR_LOSSES = ("non_saturating", "minimax")


def _logits(value, what: str, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        hint = f" (for tensors use {name}_torch)" if hasattr(value, "detach") else ""
        raise TypeError(f"{name}: expected {what} as a numpy.ndarray of logits{hint}, "
                        f"got {type(value).__name__}")
    if value.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected float32 or float64 {what}, "
                        f"got {value.dtype}")
    if value.size == 0:
        raise ValueError(f"{name}: {what} is empty (shape {value.shape}): a mean "
                         f"needs at least one logit")
    return value


def _check_kind(kind, name: str) -> None:
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"{name}: kind must be one of {GENERATOR_LOSSES}, "
                         f"got {kind!r}")


def discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray):
    r"""$L_D = -\mathrm{mean} \log \sigma(a_r) - \mathrm{mean} \log(1 - \sigma(a_f))$.

    real_logits, fake_logits: D's logits on a batch of real and a batch of generated
    pictures, any shapes ((N,) or (N, 1); the batches may differ in size). Returns
    ``(loss, d_real, d_fake)``: the loss as a float and its gradients with respect
    to the logits, $(\sigma(a_r) - 1)/n_r$ and $\sigma(a_f)/n_f$, each of its logits'
    shape and dtype.
    """
    name = "discriminator_loss"
    real = _logits(real_logits, "real_logits", name)
    fake = _logits(fake_logits, "fake_logits", name)
    loss = (-np.mean(log_sigmoid(real), dtype=np.float64)
            - np.mean(log_sigmoid(-fake), dtype=np.float64))
    d_real = (sigmoid(real) - 1) / real.size
    d_fake = sigmoid(fake) / fake.size
    return float(loss), d_real.astype(real.dtype), d_fake.astype(fake.dtype)


def generator_loss(fake_logits: np.ndarray, kind: str = "non_saturating"):
    r"""The generator's loss on D's logits for generated pictures, and its gradient.

    ``"non_saturating"``: $-\mathrm{mean} \log \sigma(a_f)$, gradient
    $(\sigma(a_f) - 1)/n$; ``"minimax"``: $\mathrm{mean} \log(1 - \sigma(a_f))$,
    gradient $-\sigma(a_f)/n$. Returns ``(loss, d_fake)``, d_fake of fake_logits'
    shape and dtype: backpropagate it through D (whose weights stay) into G.
    """
    name = "generator_loss"
    _check_kind(kind, name)
    fake = _logits(fake_logits, "fake_logits", name)
    if kind == "non_saturating":
        loss = -np.mean(log_sigmoid(fake), dtype=np.float64)
        d_fake = (sigmoid(fake) - 1) / fake.size
    else:
        loss = np.mean(log_sigmoid(-fake), dtype=np.float64)
        d_fake = -sigmoid(fake) / fake.size
    return float(loss), d_fake.astype(fake.dtype)


# -- torch ------------------------------------------------------------------------
def _tensor_logits(value, what: str, name: str):
    import torch

    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        got = getattr(value, "dtype", type(value).__name__)
        raise TypeError(f"{name}: expected {what} as a float torch.Tensor of logits, "
                        f"got {got}")
    if value.numel() == 0:
        raise ValueError(f"{name}: {what} is empty (shape {tuple(value.shape)}): a "
                         f"mean needs at least one logit")
    return value


def discriminator_loss_torch(real_logits, fake_logits):
    """:func:`discriminator_loss` for torch tensors: a 0-d loss tensor."""
    import torch.nn.functional as F

    name = "discriminator_loss_torch"
    real = _tensor_logits(real_logits, "real_logits", name)
    fake = _tensor_logits(fake_logits, "fake_logits", name)
    return -F.logsigmoid(real).mean() - F.logsigmoid(-fake).mean()


def generator_loss_torch(fake_logits, kind: str = "non_saturating"):
    """:func:`generator_loss` for torch tensors: a 0-d loss tensor."""
    import torch.nn.functional as F

    name = "generator_loss_torch"
    _check_kind(kind, name)
    fake = _tensor_logits(fake_logits, "fake_logits", name)
    if kind == "non_saturating":
        return -F.logsigmoid(fake).mean()
    return F.logsigmoid(-fake).mean()


# -- training: alternating updates through dlbook.train.fit -----------------------------
class GANStep:
    """A ``train_step`` for :func:`dlbook.train.fit` that alternates the two players (made by
    :func:`gan_step`; see there)."""

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, *, noise=None,
                 content_loss=None, adversarial_weight: float = 1.0,
                 kind: str = "non_saturating") -> None:
        import torch

        _check_kind(kind, "gan_step")
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, torch.nn.Module):
                raise TypeError(f"gan_step: {name} must be a torch.nn.Module, got {type(net).__name__}")
        if noise is not None and content_loss is not None:
            raise ValueError("gan_step: give noise (an unconditional GAN) or content_loss "
                             "(generator input x, target y), not both")
        if not adversarial_weight >= 0:
            raise ValueError(f"gan_step: adversarial_weight must be >= 0, got {adversarial_weight}")
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.noise, self.content_loss = noise, content_loss
        self.adversarial_weight, self.kind = float(adversarial_weight), kind

    def __call__(self, x, y) -> dict[str, float]:
        import torch

        if self.noise is not None:  # x is a batch of real samples
            real, fake = x, self.generator(self.noise(len(x)))
        else:  # x is the generator's input, y the real counterpart (a high-resolution patch)
            real, fake = y, self.generator(x)
        # 1. the discriminator: real -> 1, fake -> 0; the fakes are constants for it
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake.detach())
        d_loss = discriminator_loss_torch(real_logits, fake_logits)
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        # 2. the generator, against the updated discriminator
        adversarial = generator_loss_torch(self.discriminator(fake), self.kind)
        content = self.content_loss(fake, real) if self.content_loss is not None \
            else torch.zeros((), device=adversarial.device)
        g_loss = content + self.adversarial_weight * adversarial
        self.g_optimizer.zero_grad()
        g_loss.backward()
        self.g_optimizer.step()
        with torch.no_grad():
            return {"d_loss": float(d_loss), "g_adversarial": float(adversarial),
                    "g_content": float(content),
                    "d_real": float(torch.sigmoid(real_logits).mean()),
                    "d_fake": float(torch.sigmoid(fake_logits).mean())}


def gan_step(generator, discriminator, g_optimizer, d_optimizer, *, noise=None, content_loss=None,
             adversarial_weight: float = 1.0, kind: str = "non_saturating") -> GANStep:
    """One alternating GAN update, as a ``train_step`` for :func:`dlbook.train.fit`.

    Unconditional (``noise(n) -> z`` given): fit's x are real samples, ``G(z)`` the fakes.
    Conditional (``content_loss`` given, e.g. super-resolution): fit's x are the generator's
    inputs and y the real targets; the generator minimises ``content_loss(G(x), y) +
    adversarial_weight · adversarial`` (SRGAN: MSE + 10⁻³ · adversarial).
    Each call first updates the discriminator (real -> 1, fake -> 0, fakes detached), then
    the generator against the updated discriminator (``kind``: "non_saturating" or
    "minimax"). Returns the batch's losses and the discriminator's mean belief ``d_real``,
    ``d_fake`` (its output on the fakes before its update); fit averages them per epoch
    in ``History.tracked``. Train with ``fit(torch.nn.ModuleDict({"generator": G,
    "discriminator": D}), None, None, X, Y, train_step=step)`` so both move to the device
    and switch modes together.
    """
    return GANStep(generator, discriminator, g_optimizer, d_optimizer, noise=noise,
                   content_loss=content_loss, adversarial_weight=adversarial_weight, kind=kind)


# -- the same update in NumPy, on dlbook.nn modules ------------------------------------
def numpy_gan_update(generator, discriminator, g_optimizer, d_optimizer, real, z,
                     kind: str = "non_saturating") -> dict[str, float]:
    """One alternating update of an unconditional GAN built from :mod:`dlbook.nn`
    layers, :class:`GANStep` by hand: what torch's autograd does there is written out.

    real: (N, ...) real samples; z: (M, ...) the generator's noise; the optimizers are
    :mod:`dlbook.optim` ones over each player's parameters. G runs once; D runs on the
    real and on the fake batch, and its two backward passes come in reverse order (the
    layer contract's stack); nothing flows into G there, which is what ``detach`` does
    in torch. After D's step, D (updated) runs on the same fakes and its input gradient
    goes back through G. D's parameters collect gradients in that pass too; its
    optimizer clears them before its next step, as in torch. Returns GANStep's numbers.
    """
    from . import nn

    _check_kind(kind, "numpy_gan_update")
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(net, nn.Module):
            raise TypeError(f"numpy_gan_update: {name} must be a dlbook.nn.Module, "
                            f"got {type(net).__name__}")
    fake = generator(z)  # saved for the generator's backward pass, at the end
    # 1. the discriminator: real -> 1, fake -> 0
    real_logits = discriminator(real)
    fake_logits = discriminator(fake)
    d_loss, d_real, d_fake = discriminator_loss(real_logits, fake_logits)
    d_optimizer.zero_grad()
    discriminator.backward(d_fake)  # last call first
    discriminator.backward(d_real)
    d_optimizer.step()
    # 2. the generator, against the updated discriminator
    adversarial, d_logits = generator_loss(discriminator(fake), kind)
    g_optimizer.zero_grad()
    generator.backward(discriminator.backward(d_logits))
    g_optimizer.step()
    return {"d_loss": d_loss, "g_adversarial": adversarial,
            "d_real": float(np.mean(sigmoid(real_logits))),
            "d_fake": float(np.mean(sigmoid(fake_logits)))}
