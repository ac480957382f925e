r"""Concept diagrams of chapter 4 (CNNs), drawn by matplotlib from dlbook's numbers.

Each function takes ``lang`` ("zh" or "en": every label, title and note is in that
language) and returns a matplotlib Figure; the page hands it to
:func:`dlbook.plotting.figure`. Nothing here computes a CNN quantity itself: output
sizes come from :func:`dlbook.cnn_shapes.conv_output_size`, convolution values from
:class:`dlbook.nn.Conv2d` and :func:`dlbook.nn.functional.conv2d`, pooled maxima, their
positions and gradients from :class:`dlbook.nn.MaxPool2d`, receptive fields from
:func:`dlbook.receptive_field.receptive_fields`.

- :func:`kernel_over_channels`: one kernel slice per channel, summed into one value;
- :func:`padding_and_stride`: zero padding, the window's jumps, the output's side;
- :func:`max_pool_window`: pooling windows, their maxima, where the gradient goes;
- :func:`receptive_field_growth`: what one output unit depends on, layer by layer.

Drawing convention (what the tests read): a diagram is drawn in cell units on
equal-aspect axes. A grid whose top-left corner is (x0, y0) puts cell (r, c), row 0 on
top, on [x0 + c, x0 + c + 1] x [y0 - r - 1, y0 - r]; its frame Rectangle has the gid
``grid:<name>``. Highlights are Rectangles or Circles with gids ``mark:<what>``, inset
into their cells, so the cells a highlight covers follow from its position and its
grid's frame.
"""

from __future__ import annotations

import numbers

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from . import nn
from .cnn_shapes import conv_output_size
from .nn import functional as F
from .plotting import LANGS
from .receptive_field import receptive_fields

# The figures keep a white background, so dark text stays readable in both themes.
INK = "#1a1a1a"          # text and frames
MUTED = "#8c8c8c"        # cell borders, side labels
PAD_FACE = "#d4d4d4"     # zero padding
UNREAD = "#c0392b"       # pixels no window reads
#: Okabe-Ito colours (distinguishable with colour-blindness), one per window or channel
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00",
           "#F0E442", "#999999")
HIGHLIGHT = "#D55E00"    # the one output value or unit a diagram is about
DEPENDS = "#0072B2"      # units the output unit depends on
MAX_WIDTH, MAX_HEIGHT, MAX_CELL = 9.5, 7.5, 0.42   # inches


# -- checks at the boundary --------------------------------------------------------
def _check_lang(who: str, lang) -> str:
    if lang not in LANGS:
        raise ValueError(f"{who}: lang must be one of {LANGS}, got {lang!r}")
    return lang


def _int(who: str, name: str, value, lo: int, hi: int) -> int:
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or not lo <= value <= hi):
        raise ValueError(f"{who}: {name} must be an int from {lo} to {hi}, "
                         f"got {value!r}")
    return int(value)


def _output_size(who: str, size: int, kernel: int, stride: int = 1,
                 padding: int = 0) -> int:
    """dlbook's output size, with the caller's name on the error."""
    try:
        return conv_output_size(size, kernel, stride, padding)
    except ValueError as e:
        raise ValueError(f"{who}: {e}") from None


def _tr(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _num(value) -> str:
    """12.0 -> '12', -0.5 -> '-0.5' (an ASCII minus: every font has it)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.3g}"


def _tint(color: str, amount: float = 0.3) -> tuple[float, float, float]:
    """``color`` mixed with white: a light background that keeps dark text readable."""
    return tuple(1 - amount * (1 - v) for v in to_rgb(color))


# -- drawing helpers ---------------------------------------------------------------
def _canvas(xlim: tuple[float, float], ylim: tuple[float, float]):
    """A figure holding one equal-aspect axes in cell units, sized to fit.

    Returns (fig, ax, fontsize); the font size follows the size of a cell.
    """
    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    unit = min(MAX_CELL, MAX_WIDTH / width, MAX_HEIGHT / height)
    fig = plt.figure(figsize=(width * unit, height * unit), facecolor="white")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax, float(np.clip(22 * unit, 6.5, 10))


def _grid(ax, x0: float, y0: float, texts, name: str, fontsize: float, faces=None,
          hatch=None, text_color=INK, scale=None):
    """Cells holding ``texts`` (2-D, strings), top-left corner at (x0, y0).

    ``faces``, ``hatch``, ``scale``: optional per-cell colours, hatch patterns and
    font-size factors (2-D). The frame carries the gid ``grid:<name>``.
    """
    rows, cols = len(texts), len(texts[0])
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle(
                (x0 + c, y0 - r - 1), 1, 1, lw=0.8, edgecolor=MUTED, zorder=1,
                facecolor="white" if faces is None else faces[r][c],
                hatch=None if hatch is None else hatch[r][c]))
            ax.text(x0 + c + 0.5, y0 - r - 0.5, texts[r][c], ha="center",
                    va="center", color=text_color, zorder=5,
                    fontsize=fontsize * (1 if scale is None else scale[r][c]))
    ax.add_patch(Rectangle((x0, y0 - rows), cols, rows, fill=False, edgecolor=INK,
                           lw=1.3, zorder=3, gid=f"grid:{name}"))


def _mark(ax, x0: float, y0: float, r: int, c: int, h: int, w: int, color: str,
          gid: str, inset: float = 0.06, lw: float = 2.6, fill_alpha: float = 0.0,
          zorder: float = 4):
    """Outline cells r..r+h-1, c..c+w-1 of the grid at (x0, y0), maybe tinted."""
    xy = (x0 + c + inset, y0 - r - h + inset)
    width, height = w - 2 * inset, h - 2 * inset
    if fill_alpha:
        ax.add_patch(Rectangle(xy, width, height, facecolor=color, alpha=fill_alpha,
                               lw=0, zorder=2))
    ax.add_patch(Rectangle(xy, width, height, fill=False, edgecolor=color, lw=lw,
                           zorder=zorder, gid=gid))


def _arrow(ax, start, end, color=INK, lw=1.4, style="-|>"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12,
                                 lw=lw, color=color, zorder=6, shrinkA=2, shrinkB=2))


# -- 1. one kernel over all input channels -----------------------------------------
def kernel_over_channels(lang: str, in_channels: int = 3, size: int = 5,
                         kernel_size: int = 3, position=(1, 1), seed: int = 0):
    """A kernel spans every input channel; its slices add up to ONE output value.

    Drawn: the input, ``in_channels`` grids of ``size`` x ``size`` small integers
    stacked down the page, each offset a little to the right; next to each, the
    kernel's slice for that channel (``kernel_size`` x ``kernel_size`` integers); the
    window the kernel covers for output ``position`` (row, col), outlined on every
    channel in its slice's colour; each channel's sum of products; the node that adds
    them and the bias; and the output feature map (stride 1, no padding) with the one
    value they make highlighted, plus the sum written out. Input, kernel and bias are
    small integers drawn with ``seed``; the output comes from
    :class:`dlbook.nn.Conv2d`, each channel's sum from
    :func:`dlbook.nn.functional.conv2d` on that channel alone.

    Gids: ``grid:input<c>``, ``grid:kernel<c>``, ``grid:output``;
    ``mark:window<c>``, ``mark:output``; the written-out sum is the Text ``text:sum``.
    """
    who = "kernel_over_channels"
    _check_lang(who, lang)
    channels = _int(who, "in_channels", in_channels, 1, 4)
    size = _int(who, "size", size, 1, 8)
    k = _int(who, "kernel_size", kernel_size, 1, 8)
    out = _output_size(who, size, k)
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                       and 0 <= v < out for v in position)):
        raise ValueError(f"{who}: position must be a (row, col) pair of ints from 0 "
                         f"to {out - 1} (the output is {out}x{out}), got {position!r}")
    r, c = (int(v) for v in position)

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (1, channels, size, size)).astype(np.float64)
    conv = nn.Conv2d(channels, 1, k, dtype=np.float64, seed=seed)
    conv.weight[...] = rng.integers(-1, 2, conv.weight.shape)
    conv.bias[...] = rng.choice([-2, -1, 1, 2])
    with nn.no_grad():
        y = conv(x)[0, 0]
        partial = [F.conv2d(x[:, ch:ch + 1], conv.weight[:, ch:ch + 1])[0, 0, r, c]
                   for ch in range(channels)]
    bias = float(conv.bias[0])

    gap, shift = 1.0, 0.6              # between channel grids; the stack's offset
    stack_w = size + (channels - 1) * shift
    kx = stack_w + 1.4                 # kernel slices
    label_x = kx + k + 0.35            # per-channel sums
    sx = label_x + 3.3                 # the node that adds them
    ox = sx + 1.6                      # output grid
    bottom = -(channels * size + (channels - 1) * gap)
    mid = bottom / 2
    fig, ax, fs = _canvas((-0.4, ox + max(out, 3.2) + 0.4), (bottom - 2.4, 2.3))

    ax.text(stack_w / 2, 1.5,
            _tr(lang, f"输入：{channels} 个通道，每个 {size}×{size}",
                f"input: {channels} channel{'s' * (channels > 1)}, "
                f"{size}×{size} each"),
            ha="center", va="center", fontsize=fs * 1.05)
    ax.text(kx + k / 2 + 0.9, 0.6,
            _tr(lang, f"卷积核：{channels}×{k}×{k}\n（每个通道一片）",
                f"kernel: {channels}×{k}×{k}\n(one slice per channel)"),
            ha="center", va="center", fontsize=fs)
    for ch in range(channels):
        color = PALETTE[ch]
        top, left = -ch * (size + gap), ch * shift
        ktop = top - (size - k) / 2
        _grid(ax, left, top, [[_num(v) for v in row] for row in x[0, ch]],
              f"input{ch}", fs)
        _mark(ax, left, top, r, c, k, k, color, f"mark:window{ch}", fill_alpha=0.25)
        ax.text(left - 0.15, top - size / 2,
                _tr(lang, f"通道 {ch + 1}", f"channel {ch + 1}"), rotation=90,
                ha="right", va="center", fontsize=fs * 0.9, color=MUTED)
        _grid(ax, kx, ktop, [[_num(v) for v in row] for row in conv.weight[0, ch]],
              f"kernel{ch}", fs, faces=[[_tint(color)] * k for _ in range(k)])
        _arrow(ax, (left + size, top - r - k / 2), (kx, ktop - k / 2), color=color,
               lw=1.2, style="-")
        ax.text((left + size + kx) / 2, (top - r + ktop - k) / 2 + 0.1, "⊙",
                ha="center", va="bottom", fontsize=fs * 1.2, color=color)
        ax.text(label_x, ktop - k / 2, rf"$\Sigma_{ch + 1}$ = {_num(partial[ch])}",
                ha="left", va="center", fontsize=fs)
        _arrow(ax, (label_x + 2.0, ktop - k / 2), (sx - 0.5, mid), color=color)
    ax.add_patch(Circle((sx, mid), 0.5, facecolor="white", edgecolor=INK, lw=1.4,
                        zorder=5))
    ax.text(sx, mid, "+", ha="center", va="center", fontsize=fs * 1.6, zorder=6)
    ax.text(sx, mid - 0.85,
            _tr(lang, f"偏置 b = {_num(bias)}", f"bias b = {_num(bias)}"),
            ha="center", va="top", fontsize=fs * 0.9)

    otop = mid + out / 2
    _grid(ax, ox, otop, [[_num(v) for v in row] for row in y], "output", fs)
    _mark(ax, ox, otop, r, c, 1, 1, HIGHLIGHT, "mark:output", fill_alpha=0.3)
    _arrow(ax, (sx + 0.5, mid), (ox, otop - r - 0.5), color=HIGHLIGHT)
    ax.text(ox + out / 2, otop + 0.5,
            _tr(lang, f"输出特征图\n{out}×{out}，位置 ({r}, {c})",
                f"output feature map\n{out}×{out}, position ({r}, {c})"),
            ha="center", va="bottom", fontsize=fs)

    names = " + ".join(rf"$\Sigma_{ch + 1}$" for ch in range(channels))
    terms = " + ".join(_num(v) if v >= 0 else f"({_num(v)})" for v in partial + [bias])
    ax.text((ox + out) / 2, bottom - 0.7, f"{names} + b = {terms} = {_num(y[r, c])}",
            ha="center", va="center", fontsize=fs * 1.15, gid="text:sum")
    several = channels > 1
    ax.text((ox + out) / 2, bottom - 1.7,
            _tr(lang, "每个通道逐元素相乘再求和，"
                + (f"{channels} 个和相加（再加偏置）" if several else "再加偏置，")
                + "只得到一个输出值",
                "each channel's products are summed, and "
                + (f"the {channels} sums (plus the bias) " if several
                   else "with the bias they ")
                + "make ONE output value"),
            ha="center", va="center", fontsize=fs)
    return fig


# -- 2. padding and stride ---------------------------------------------------------
def _settings(who: str, padding, stride, settings) -> list[tuple[int, int]]:
    if settings is None:
        settings = ((1 if padding is None else padding,
                     2 if stride is None else stride),)
    elif padding is not None or stride is not None:
        raise ValueError(f"{who}: pass padding and stride for one panel, or settings "
                         f"for several, not both (got padding={padding!r}, "
                         f"stride={stride!r}, settings={settings!r})")
    if (not isinstance(settings, (tuple, list)) or not 1 <= len(settings) <= 4
            or not all(isinstance(s, (tuple, list)) and len(s) == 2
                       for s in settings)):
        raise ValueError(f"{who}: settings must be 1 to 4 (padding, stride) pairs, "
                         f"got {settings!r}")
    return [(_int(who, "padding", p, 0, 3), _int(who, "stride", s, 1, 4))
            for p, s in settings]


def padding_and_stride(lang: str, size: int = 5, kernel_size: int = 3, padding=None,
                       stride=None, settings=None):
    r"""Zero padding, how far the window jumps, and the output side they give.

    One panel per (padding, stride) setting: ``padding`` and ``stride`` (default 1
    and 2) for one panel, or ``settings``, e.g. ``((0, 1), (1, 1), (1, 2))``, for a
    row of panels. A panel draws the ``size`` x ``size`` input inside its ring of
    zero padding (gray, hatched, "0"); outlines in different colours the
    ``kernel_size`` x ``kernel_size`` windows of the first (up to three) outputs of
    the top row, with an arrow as long as the stride; puts a red dot on input pixels
    that no window reads (the floor's remainder, or gaps when the stride exceeds the
    kernel); and below, draws the
    output grid, whose side is :func:`dlbook.cnn_shapes.conv_output_size`, with those
    outputs in the windows' colours. Its title is the formula with the numbers,
    $\lfloor (n + 2p - k)/s \rfloor + 1$.

    Gids, for panel i: ``grid:input<i>`` (the padded input), ``grid:output<i>``;
    ``mark:window<i>.<j>`` and ``mark:out<i>.<j>`` for the j-th window and its
    output, ``mark:unread<i>`` on each red dot; the Text ``text:formula<i>``.
    """
    who = "padding_and_stride"
    _check_lang(who, lang)
    panels = _settings(who, padding, stride, settings)
    size = _int(who, "size", size, 1, 8)
    k = _int(who, "kernel_size", kernel_size, 1, 14)
    outs, unread = [], []
    for p, s in panels:
        try:
            out = conv_output_size(size, k, s, p)
        except ValueError as e:
            raise ValueError(f"{who}: padding={p}, stride={s}: {e}") from None
        # padded rows (and columns) some window covers: window o starts at o * s
        read = {o * s + t for o in range(out) for t in range(k)}
        outs.append(out)
        unread.append([(a, b) for a in range(p, p + size) for b in range(p, p + size)
                       if a not in read or b not in read])

    widest = max(size + 2 * p for p, _ in panels)
    width = max(widest, 6.5) + 1.6
    out_top = -(widest + 1.6)
    bottom = out_top - max(outs)
    notes = [_tr(lang, "彩色框：前几个输出位置的窗口（输出中同色）",
                 "coloured frames: windows of the first outputs (same colour below)")]
    if any(p for p, _ in panels):
        notes.insert(0, _tr(lang, "灰色斜线：填充的 0", "gray, hatched: zero padding"))
    if any(unread):
        notes.append(_tr(lang, "红点：没有窗口读到的像素",
                         "red dot: a pixel no window reads"))
    total = max(len(panels) * width, 13.0)       # room for the notes under one panel
    shift = (total - len(panels) * width) / 2
    fig, ax, fs = _canvas((-0.8 - shift, total - 0.8 - shift),
                          (bottom - 0.7 - 0.9 * len(notes), 3.0))
    for i, ((p, s), out) in enumerate(zip(panels, outs)):
        side, centre = size + 2 * p, i * width + widest / 2
        x0 = centre - side / 2
        pad = [[not (p <= a < p + size and p <= b < p + size) for b in range(side)]
               for a in range(side)]
        _grid(ax, x0, 0, [["0" if v else "" for v in row] for row in pad],
              f"input{i}", fs,
              faces=[[PAD_FACE if v else "white" for v in row] for row in pad],
              hatch=[["//" if v else None for v in row] for row in pad])
        for a, b in unread[i]:
            ax.add_patch(Circle((x0 + b + 0.5, -a - 0.5), 0.13, color=UNREAD,
                                zorder=4, gid=f"mark:unread{i}"))
        ox = centre - out / 2
        _grid(ax, ox, out_top, [[""] * out for _ in range(out)], f"output{i}", fs)
        for j in range(min(3, out)):
            _mark(ax, x0, 0, 0, j * s, k, k, PALETTE[j], f"mark:window{i}.{j}",
                  inset=0.06 + 0.11 * j, lw=2.4 - 0.3 * j)
            _mark(ax, ox, out_top, 0, j, 1, 1, PALETTE[j], f"mark:out{i}.{j}", lw=2.4,
                  fill_alpha=0.45)
        if out > 1:
            _arrow(ax, (x0, 0.35), (x0 + s, 0.35), color=PALETTE[1], style="<|-|>")
            ax.text(x0 + s + 0.2, 0.35, _tr(lang, f"步幅 {s}", f"stride {s}"),
                    ha="left", va="center", fontsize=fs * 0.9)
        ax.text(centre, 1.25, _tr(lang, f"填充 {p}，步幅 {s}", f"padding {p}, stride {s}"),
                ha="center", va="center", fontsize=fs)
        ax.text(centre, 2.2,
                rf"$\lfloor ({size} + 2\cdot {p} - {k})\,/\,{s} \rfloor + 1 = {out}$",
                ha="center", va="center", fontsize=fs * 1.15, gid=f"text:formula{i}")
        ax.text(centre, out_top + 0.3,
                _tr(lang, f"输出 {out}×{out}", f"output {out}×{out}"),
                ha="center", va="bottom", fontsize=fs)
    for line, note in enumerate(notes):
        ax.text((len(panels) * width - 1.6) / 2, bottom - 0.7 - 0.9 * line, note,
                ha="center", va="center", fontsize=fs * 0.9)
    return fig


# -- 3. max-pooling windows --------------------------------------------------------
def max_pool_window(lang: str, x=None, kernel_size: int = 2, stride: int = 2,
                    seed: int = 0):
    r"""Max-pooling: each window's largest value, and where backward sends its gradient.

    Drawn, left to right: the input ``x`` (an H x W array, 2 <= H, W <= 8; by default
    a 4x4 shuffle of 1..16 drawn with ``seed``) with each pooling window in its own
    colour (tinted, or only outlined where windows overlap) and the position of its
    maximum framed in black; the output, each cell holding its window's maximum $y_k$
    in the window's colour; and the gradient $\partial L/\partial x$ of the backward
    pass: $g_k = \partial L/\partial y_k$ at the maximum of window k, 0 elsewhere.
    Values and positions come from
    ``dlbook.nn.MaxPool2d(kernel_size, stride, return_indices=True)``, the gradient
    from its ``backward`` (one output at a time, on a batch of copies of ``x``).

    Gids: ``grid:input``, ``grid:output``, ``grid:grad``; ``mark:window<k>``,
    ``mark:argmax<k>`` (on the input), ``mark:out<k>``, ``mark:grad<k>``, where k
    counts the outputs in row-major order.
    """
    who = "max_pool_window"
    _check_lang(who, lang)
    if x is None:
        x = np.random.default_rng(seed).permutation(16).reshape(4, 4) + 1
    x = np.asarray(x)
    if (x.ndim != 2 or not 2 <= min(x.shape) <= max(x.shape) <= 8
            or not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all()):
        raise ValueError(f"{who}: x must be a 2-D array of finite numbers with 2 to 8 "
                         f"rows and columns, got shape {x.shape}")
    x = x.astype(np.float64)
    h, w = x.shape
    k = _int(who, "kernel_size", kernel_size, 1, 8)
    s = _int(who, "stride", stride, 1, 8)
    _output_size(who, min(h, w), k, s)           # the window must fit

    pool = nn.MaxPool2d(k, s, return_indices=True)
    with nn.no_grad():
        y, indices = pool(x[None, None])
    y, indices = y[0, 0], indices[0, 0]
    ho, wo = y.shape
    n = ho * wo
    # backward, one output at a time: batch element m carries output m's gradient only
    pool(np.repeat(x[None, None], n, axis=0))
    routed = pool.backward(np.eye(n).reshape(n, 1, ho, wo))[:, 0] != 0   # (n, H, W)

    gap = 2.4
    ox, otop = w + gap, -(h - ho) / 2
    gx = ox + wo + gap
    fig, ax, fs = _canvas((-0.5, gx + w + 0.5), (-h - 1.3, 1.9))
    _grid(ax, 0, 0, [[_num(v) for v in row] for row in x], "input", fs)
    _grid(ax, ox, otop, [[_num(v) for v in row] for row in y], "output", fs)
    grad = [[[] for _ in range(w)] for _ in range(h)]
    for m in range(n):
        i, j = divmod(m, wo)
        color = PALETTE[m % len(PALETTE)]
        _mark(ax, 0, 0, i * s, j * s, k, k, color, f"mark:window{m}", lw=2.0,
              inset=0.05 + 0.05 * ((i + j) % 2 if s < k else 0),
              fill_alpha=0.3 if s >= k else 0.0)      # overlapping: outlines only
        ar, ac = divmod(int(indices[i, j]), w)
        _mark(ax, 0, 0, ar, ac, 1, 1, INK, f"mark:argmax{m}", inset=0.14, lw=2.2,
              zorder=5)
        _mark(ax, ox, otop, i, j, 1, 1, color, f"mark:out{m}", fill_alpha=0.35, lw=2.0)
        ax.text(ox + j + 0.06, otop - i - 0.06, f"$y_{{{m + 1}}}$", ha="left",
                va="top", fontsize=fs * 0.6, zorder=6)
        for gr, gc in zip(*np.nonzero(routed[m])):
            _mark(ax, gx, 0, gr, gc, 1, 1, color, f"mark:grad{m}", fill_alpha=0.35,
                  lw=2.0)
            grad[gr][gc].append(f"g_{{{m + 1}}}")
    _grid(ax, gx, 0, [[f"${'+'.join(g)}$" if g else "0" for g in row] for row in grad],
          "grad", fs, scale=[[0.7 if len(g) > 1 else 1 for g in row] for row in grad])

    ax.text(w / 2, 0.5, _tr(lang, f"输入 x（{h}×{w}）", f"input x ({h}×{w})"),
            ha="center", va="bottom", fontsize=fs * 1.05)
    ax.text(ox + wo / 2, otop + 0.5,
            _tr(lang, f"最大池化\n{k}×{k}，步幅 {s}", f"max-pooling\n{k}×{k}, stride {s}"),
            ha="center", va="bottom", fontsize=fs * 1.05)
    ax.text(gx + w / 2, 0.5,
            _tr(lang, r"反向传播：$\partial L/\partial x$",
                r"backward: $\partial L/\partial x$"),
            ha="center", va="bottom", fontsize=fs * 1.05)
    _arrow(ax, (w + 0.2, -h / 2), (ox - 0.2, otop - ho / 2))
    _arrow(ax, (ox + wo + 0.2, otop - ho / 2), (gx - 0.2, -h / 2), color=MUTED)
    ax.text((gx + w) / 2, -h - 0.7,
            _tr(lang, r"黑框：每个窗口的最大值。$g_k = \partial L/\partial y_k$ "
                "全部回到该位置，其余像素的梯度为 0",
                r"black frame: each window's maximum. $g_k = \partial L/\partial y_k$ "
                "goes there, every other pixel gets 0"),
            ha="center", va="center", fontsize=fs * 0.9)
    return fig


# -- 4. receptive field growth -----------------------------------------------------
def _layer_modules(who: str, layers) -> list:
    """(kind, kernel_size, stride[, padding]) tuples -> dlbook Conv2d / MaxPool2d."""
    if not isinstance(layers, (tuple, list)) or not 1 <= len(layers) <= 6:
        raise ValueError(f"{who}: layers must be a sequence of 1 to 6 ('conv' or "
                         f"'pool', kernel_size, stride[, padding]) tuples, "
                         f"got {layers!r}")
    modules = []
    for i, spec in enumerate(layers):
        if (not isinstance(spec, (tuple, list)) or len(spec) not in (3, 4)
                or spec[0] not in ("conv", "pool")):
            raise ValueError(f"{who}: layers[{i}] must be ('conv' or 'pool', "
                             f"kernel_size, stride[, padding]), got {spec!r}")
        k = _int(who, f"layers[{i}] kernel_size", spec[1], 1, 7)
        s = _int(who, f"layers[{i}] stride", spec[2], 1, 4)
        p = _int(who, f"layers[{i}] padding", spec[3] if len(spec) == 4 else 0, 0, 3)
        try:
            modules.append(nn.Conv2d(1, 1, k, s, p, seed=0) if spec[0] == "conv"
                           else nn.MaxPool2d(k, s, p))
        except ValueError as e:
            raise ValueError(f"{who}: layers[{i}] = {spec!r}: {e}") from None
    return modules


def _span(field, unit: int) -> range:
    """The units of a lower map that ``unit`` sees: its receptive field in that map."""
    lo, hi = field.bounds(unit, unit)[0]
    return range(int(round(lo)), int(round(hi)) + 1)


def receptive_field_growth(lang: str, layers=(("conv", 3, 1), ("conv", 3, 1),
                                              ("pool", 2, 2), ("conv", 3, 1)),
                           input_size=None, unit=None):
    r"""A 1-D cross-section of a stack of layers: what one output unit depends on.

    ``layers``: ``(kind, kernel_size, stride)`` or ``(kind, kernel_size, stride,
    padding)`` tuples, kind "conv" or "pool" (max-pooling), padding 0 unless given.
    Each becomes a :class:`dlbook.nn.Conv2d` or :class:`dlbook.nn.MaxPool2d`, the
    layers :func:`dlbook.receptive_field.receptive_fields` reads. ``input_size``
    (units in the input row) defaults to the final receptive field plus two jumps
    (three output units when nothing is padded); ``unit`` (default: the middle one)
    is the output unit the figure follows.

    Drawn: one row of units per feature map, the input at the bottom, each unit above
    the centre of its receptive field (``start + i * jump``), padding units dashed.
    The chosen output unit is highlighted; in every row below, the units it depends
    on are filled (found window by window from the top: a padding unit depends on
    nothing), with lines from each to the units it reads one row down.
    Each row is labelled with its layer on the left and, on the right, with its
    receptive field size r (input pixels) and jump j from
    :func:`dlbook.receptive_field.receptive_fields`; a bracket under the input spans
    the r pixels of the output unit's receptive field (at an edge, some of them are
    padding or lie beyond it). Row lengths come from
    :func:`dlbook.cnn_shapes.conv_output_size`.

    Gids: ``mark:unit<l>.<i>`` on the filled Circle of unit i of row l (row 0 is the
    input; i < 0 or past the row's end is a padding unit), ``text:rf<l>`` on the
    label of row l, ``mark:field`` on the bracket (an Annotation from xy to xytext).
    """
    who = "receptive_field_growth"
    _check_lang(who, lang)
    modules = _layer_modules(who, layers)
    table = receptive_fields(modules)            # the input's, then one per layer
    r_top, j_top = table[-1].size[0], table[-1].jump[0]
    n0 = _int(who, "input_size", r_top + 2 * j_top if input_size is None
              else input_size, 1, 48)
    sizes = [n0]
    for i, module in enumerate(modules):
        try:
            sizes.append(conv_output_size(sizes[-1], module.kernel_size[0],
                                          module.stride[0], module.padding[0]))
        except ValueError as e:
            raise ValueError(f"{who}: layers[{i}] = {tuple(layers[i])!r} on a row of "
                             f"{sizes[-1]} units (input_size={n0}): {e}") from None
    top = len(modules)
    unit = sizes[-1] // 2 if unit is None else _int(who, "unit", unit, 0, sizes[-1] - 1)

    # the units of each row the output unit depends on, walking down window by
    # window; a padding unit depends on nothing
    windows = [receptive_fields([module])[-1] for module in modules]
    needed = {top: {unit}}
    for level in range(top - 1, -1, -1):
        needed[level] = {m for i in needed[level + 1] if 0 <= i < sizes[level + 1]
                         for m in _span(windows[level], i)}

    def xpos(level: int, i: int) -> float:
        return table[level].start[0] + i * table[level].jump[0]

    field = _span(table[-1], unit)     # the r input pixels the output unit sees
    pads = [m.padding[0] for m in modules] + [0]   # padding of the layer reading a row
    xs = [xpos(level, i) for level in range(top + 1)
          for i in (-pads[level], sizes[level] - 1 + pads[level])]
    xs += [field.start, field.stop - 1]
    left, right = min(xs) - 0.5, max(xs) + 0.5
    row_gap, radius = 1.9, 0.3
    fig, ax, fs = _canvas((left - 5.2, right + 5.4), (-1.9, top * row_gap + 1.9))
    for level in range(top + 1):
        y = level * row_gap
        for i in range(-pads[level], sizes[level] + pads[level]):
            padding, on = not 0 <= i < sizes[level], i in needed[level]
            face = (HIGHLIGHT if level == top else DEPENDS) if on else "white"
            ax.add_patch(Circle((xpos(level, i), y), radius, facecolor=face,
                                edgecolor=MUTED if padding else INK, lw=1.0,
                                ls="--" if padding else "-", zorder=4,
                                gid=f"mark:unit{level}.{i}" if on else None))
        if level > 0:
            for i in needed[level]:
                if 0 <= i < sizes[level]:
                    for m in _span(windows[level - 1], i):
                        ax.plot([xpos(level, i), xpos(level - 1, m)],
                                [y - radius, y - row_gap + radius], color=DEPENDS,
                                lw=1.0, alpha=0.8, zorder=2)
        if level == 0:
            name = _tr(lang, f"输入（{n0} 像素）", f"input ({n0} px)")
        else:
            kind, k, s = layers[level - 1][:3]
            name = (_tr(lang, "卷积", "conv") if kind == "conv"
                    else _tr(lang, "最大池化", "max-pool")) + f" k={k}, s={s}"
            name += f", p={pads[level - 1]}" if pads[level - 1] else ""
        ax.text(left - 0.3, y, name, ha="right", va="center", fontsize=fs)
        rf = table[level]
        ax.text(right + 0.3, y, f"r = {rf.size[0]},  j = {rf.jump[0]}", ha="left",
                va="center", fontsize=fs, gid=f"text:rf{level}")
    ax.text((left + right) / 2, top * row_gap + 1.2,
            _tr(lang, "一个输出单元依赖哪些单元（一维截面）",
                "what one output unit depends on (a 1-D cross-section)"),
            ha="center", va="center", fontsize=fs * 1.1)
    ax.text(right + 0.3, top * row_gap + 1.1,
            _tr(lang, "感受野 r（输入像素）\n跳步 j",
                "receptive field r\n(input px), jump j"),
            ha="left", va="center", fontsize=fs * 0.85, color=MUTED)
    lo, hi = xpos(0, field.start), xpos(0, field.stop - 1)
    ax.annotate("", xy=(lo - 0.4, -0.55), xytext=(hi + 0.4, -0.55),
                arrowprops=dict(arrowstyle="|-|", color=HIGHLIGHT, lw=1.5,
                                mutation_scale=5), gid="mark:field")
    ax.text((lo + hi) / 2, -0.95,
            _tr(lang, f"输出单元的感受野：{r_top} 个输入像素",
                f"receptive field of the output unit: {r_top} input pixels"),
            ha="center", va="top", fontsize=fs, color=HIGHLIGHT)
    return fig
