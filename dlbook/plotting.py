"""Figures in the page's language: a CJK font for Chinese labels, and a few plot helpers."""

from __future__ import annotations

import os
import subprocess
import warnings

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

LANGS = ("zh", "en")
#: CJK fonts we know how to use, best first (Debian: fonts-wqy-microhei, fonts-noto-cjk).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
             "Noto Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC")


def _installed_cjk_font() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    # Fonts installed after matplotlib built its font list: ask fontconfig and register them.
    try:
        listing = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for path in sorted({line.split(":")[0].strip() for line in listing.splitlines() if line.strip()}):
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def setup(lang: str) -> str:
    """Configure matplotlib for a page in ``lang`` ("zh" or "en"); returns the CJK font used.

    Raises RuntimeError when no CJK font is installed, and makes matplotlib's
    "Glyph ... missing from font" warning an error, so Chinese never renders as boxes.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    font = _installed_cjk_font()
    if font is None:
        raise RuntimeError("no CJK font found for Chinese figure labels; install one, e.g. "
                           "`apt-get install fonts-wqy-microhei` (scripts/setup.sh does this)")
    matplotlib.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": [font, "DejaVu Sans"],
        "axes.unicode_minus": False,  # CJK fonts may lack U+2212
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    warnings.filterwarnings("error", message=r"Glyph .* missing from (current )?font")
    return font


def figure(name: str, fig) -> None:
    """Hand a finished figure to the page under ``name`` and close it.

    In a book build MyST-NB's ``glue`` stores it, and the page places it with a numbered caption::

        ```{glue:figure} name
        :name: fig-name

        Caption.
        ```

    Elsewhere (a chapter's notebook opened in Jupyter, a script) the figure is simply shown. A book
    build says so with ``DLBOOK_BOOK_BUILD=1`` (scripts/build-book.sh, scripts/pages.py): having myst_nb
    installed is not enough, since a notebook has no ``{glue:figure}`` to place a glued figure.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(fig, matplotlib.figure.Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    fig.canvas.draw()  # a missing CJK glyph raises here, in the cell that drew it
    if os.environ.get("DLBOOK_BOOK_BUILD") != "1":
        plt.show()
        return
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def plot_curves(curves: dict[str, np.ndarray], xlabel: str, ylabel: str, ax=None, logy: bool = False, **style):
    """Plot several named 1-D curves on one axis with a legend; returns the axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves.items():
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"curve {label!r} must be 1-D, got shape {values.shape}")
        ax.plot(np.arange(1, len(values) + 1), values, label=label, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax


def show_images(images, titles=None, ncols: int = 10, cmap: str = "gray", size: float = 1.2, symmetric: bool = False):
    """A grid of images, shape (K, H, W) or (K, H, W, 3); ``symmetric`` centres the colour map on 0."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (K, H, W) or (K, H, W, 3), got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    if ncols < 1 or len(images) == 0:
        raise ValueError(f"need ncols >= 1 and at least one image, got {ncols} and {len(images)}")
    nrows = int(np.ceil(len(images) / ncols))
    ncols = min(ncols, len(images))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        kwargs = {}
        if symmetric:
            bound = np.abs(image).max() or 1.0
            kwargs = {"vmin": -bound, "vmax": bound}
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None, **kwargs)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    fig.tight_layout()
    return fig
