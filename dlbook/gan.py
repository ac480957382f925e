r"""The losses of a generative adversarial network (Goodfellow et al. 2014), computed
on the discriminator's logits.

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
