"""Chapter 9's experiments: a GAN learning a ring of Gaussians (small enough to watch), and
super-resolution on offline photos: SRResNet trained on pixel MSE, then fine-tuned as a
GAN (SRGAN), each scored against bicubic interpolation on held-out photos.

Every run goes through :func:`dlbook.train.fit` (the GAN through :func:`dlbook.gan.gan_step`)
on one torch thread on the CPU (two threads on a shared 2-core machine were slower), or on
CUDA when there is one.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import torch

from ..devices import resolve_device
from ..gan import gan_step
from ..models.srgan import Discriminator, SRResNet
from ..superres import compare_with_bicubic, training_pairs
from ..train import fit


@contextmanager
def _cpu_threads(device: torch.device, threads: int = 1):
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- a GAN on a ring of Gaussians ------------------------------------------------------
def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The mixture's means: ``modes`` points evenly spaced on a circle, (modes, 2)."""
    if not (isinstance(modes, int) and modes >= 1) or not radius > 0:
        raise ValueError(f"modes must be a positive int and radius > 0, got {modes!r}, {radius!r}")
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_samples(n: int, modes: int = 8, radius: float = 2.0, sigma: float = 0.05,
                 seed: int = 0) -> np.ndarray:
    """n draws from the equal mixture of N(center, sigma² I) over :func:`ring_centers`,
    float32 (n, 2)."""
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)
    points = centers[rng.integers(0, modes, n)] + sigma * rng.standard_normal((n, 2))
    return points.astype(np.float32)


def mode_coverage(samples: np.ndarray, centers: np.ndarray, sigma: float,
                  min_share: float = 0.02) -> tuple[int, float]:
    """(modes covered, share of good samples). A sample is good when it lies within
    3·sigma of a center (99% of a true mode's draws do); a mode is covered when at least
    ``min_share`` of all samples are good ones near it. The true distribution scores
    (all modes, ≈ 0.99)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must be (n, 2) with n >= 1, got shape {samples.shape}")
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=2)
    good = distances.min(axis=1) < 3 * sigma
    counts = np.bincount(distances.argmin(axis=1)[good], minlength=len(centers))
    return int((counts >= min_share * len(samples)).sum()), float(good.mean())


def toy_players(noise_dim: int = 8, hidden: int = 128, seed: int = 0):
    """A generator z (noise_dim) -> point (2) and a discriminator point -> logit, two
    hidden layers each."""
    torch.manual_seed(seed)
    generator = torch.nn.Sequential(
        torch.nn.Linear(noise_dim, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
    discriminator = torch.nn.Sequential(
        torch.nn.Linear(2, hidden), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(hidden, hidden), torch.nn.LeakyReLU(0.2), torch.nn.Linear(hidden, 1),
        torch.nn.Flatten(0))
    return generator, discriminator


def train_toy_gan(kind: str = "non_saturating", epochs: int = 60, snapshot_epochs=(1, 5, 20, 60),
                  n_data: int = 25_600, batch_size: int = 256, lr: float = 1e-3, noise_dim: int = 8,
                  sigma: float = 0.05, n_eval: int = 2000, seed: int = 0, device=None) -> dict:
    """Train the toy GAN with Adam (lr, betas (0.5, 0.999), as DCGAN) and measure it after
    every epoch on ``n_eval`` fresh samples. Returns ``history`` (the step's losses and D's
    beliefs per epoch), ``covered`` and ``quality`` per epoch (:func:`mode_coverage`),
    ``snapshots`` {epoch: (n_eval, 2) samples}, ``data`` (the first n_eval training points),
    ``centers`` and ``seconds``."""
    device = resolve_device(device)
    data = ring_samples(n_data, sigma=sigma, seed=seed)
    centers = ring_centers()
    generator, discriminator = toy_players(noise_dim, seed=seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    probe = torch.randn(n_eval, noise_dim, generator=torch.Generator().manual_seed(seed + 2))
    covered, quality, snapshots = [], [], {}

    def measure(players) -> float:
        with torch.no_grad():
            points = players["generator"](probe.to(device)).cpu().numpy()
        modes, good = mode_coverage(points, centers, sigma)
        covered.append(modes)
        quality.append(good)
        if len(covered) in snapshot_epochs:
            snapshots[len(covered)] = points
        return float(modes)

    step = gan_step(generator, discriminator,
                    torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999)),
                    torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
                    noise=lambda n: torch.randn(n, noise_dim, generator=noise, device=device),
                    kind=kind)
    players = torch.nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    start = time.perf_counter()
    with _cpu_threads(device):
        history = fit(players, None, None, data, np.zeros(len(data), dtype=np.float32),
                      epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                      train_step=step, track={"modes": measure}, desc=f"toy GAN ({kind})")
    return {"history": history, "covered": covered, "quality": quality, "snapshots": snapshots,
            "data": data[:n_eval], "centers": centers, "seconds": time.perf_counter() - start}


# -- super-resolution ----------------------------------------------------------------
def _generator(scale: int, features: int, blocks: int, seed: int) -> SRResNet:
    torch.manual_seed(seed)
    return SRResNet(scale=scale, in_channels=1, features=features, blocks=blocks,
                    batchnorm=False, head_kernel=5, residual_over_bicubic=True)


def _held_out_gain(scale: int):
    """A ``track`` function: the mean PSNR gain over bicubic on the held-out photos."""
    def gain(model) -> float:
        table = compare_with_bicubic(model, scale=scale)
        return float(np.mean([r["model_psnr"] - r["bicubic_psnr"] for r in table.values()]))
    return gain


def train_srresnet(epochs: int = 3, patches: int = 4096, patch_size: int = 48, scale: int = 2,
                   features: int = 32, blocks: int = 4, batch_size: int = 16, lr: float = 1e-3,
                   seed: int = 0, device=None) -> dict:
    """SRResNet trained on pixel MSE (Adam) over random patches of the training photos.
    Returns ``state_dict`` (CPU tensors), ``history`` (training loss and the held-out
    PSNR gain over bicubic, ``tracked["psnr_gain"]``, per epoch), ``settings`` and
    ``seconds``. The network has no BatchNorm and adds its output to the bicubic
    upsampling (see :class:`~dlbook.models.srgan.SRResNet`)."""
    device = resolve_device(device)
    settings = dict(scale=scale, features=features, blocks=blocks)
    lr_patches, hr_patches = training_pairs(patch_size, patches, scale, seed)
    model = _generator(scale, features, blocks, seed)
    start = time.perf_counter()
    with _cpu_threads(device):
        history = fit(model, torch.nn.MSELoss(), torch.optim.Adam(model.parameters(), lr=lr),
                      lr_patches, hr_patches, epochs=epochs, batch_size=batch_size, seed=seed,
                      device=device, track={"psnr_gain": _held_out_gain(scale)},
                      desc="SRResNet (MSE)")
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "history": history, "settings": settings, "seconds": time.perf_counter() - start}


def load_generator(result: dict, device=None) -> SRResNet:
    """The trained generator of a :func:`train_srresnet` or :func:`train_srgan` result."""
    s = result["settings"]
    model = _generator(s["scale"], s["features"], s["blocks"], seed=0)
    model.load_state_dict(result["state_dict"])
    return model.to(resolve_device(device)).eval()


def train_srgan(pretrained: dict, epochs: int = 2, patches: int = 4096, patch_size: int = 48,
                adversarial_weight: float = 1e-3, d_features: int = 32, d_stages: int = 3,
                batch_size: int = 16, lr: float = 1e-4, seed: int = 1, device=None) -> dict:
    """SRGAN: start from a trained SRResNet (``pretrained``, a :func:`train_srresnet`
    result) and fine-tune it against a discriminator, minimising MSE +
    ``adversarial_weight`` · the non-saturating generator loss (Adam at ``lr`` for both
    players, as the paper's 10⁻⁴). Fresh patches (``seed``). Returns the generator's
    ``state_dict``, ``history`` (per epoch: D's and G's losses, D's mean belief on real and
    fake patches, the held-out PSNR gain), ``settings`` and ``seconds``."""
    device = resolve_device(device)
    scale = pretrained["settings"]["scale"]
    lr_patches, hr_patches = training_pairs(patch_size, patches, scale, seed)
    generator = load_generator(pretrained, device).train()
    torch.manual_seed(seed)
    discriminator = Discriminator(in_channels=1, features=d_features, stages=d_stages, dense=4 * d_features)
    step = gan_step(generator, discriminator, torch.optim.Adam(generator.parameters(), lr=lr),
                    torch.optim.Adam(discriminator.parameters(), lr=lr),
                    content_loss=torch.nn.MSELoss(), adversarial_weight=adversarial_weight)
    players = torch.nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    gain = _held_out_gain(scale)
    start = time.perf_counter()
    with _cpu_threads(device):
        history = fit(players, None, None, lr_patches, hr_patches, epochs=epochs,
                      batch_size=batch_size, seed=seed, device=device, train_step=step,
                      track={"psnr_gain": lambda players: gain(players["generator"])},
                      desc="SRGAN (MSE + adversarial)")
    return {"state_dict": {k: v.cpu() for k, v in generator.state_dict().items()},
            "history": history, "settings": dict(pretrained["settings"]),
            "seconds": time.perf_counter() - start}


def train_srresnet_and_srgan(srresnet: dict, srgan: dict) -> dict:
    """Both super-resolution runs in one call with plain settings, so that
    :func:`dlbook.cache.cached_call` can key it: ``train_srresnet(**srresnet)``, then
    ``train_srgan(that result, **srgan)``. Returns ``{"srresnet": ..., "srgan": ...}``."""
    pretrained = train_srresnet(**srresnet)
    return {"srresnet": pretrained, "srgan": train_srgan(pretrained, **srgan)}
