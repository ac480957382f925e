"""Chapter 4's concept diagrams: they draw in both languages, show dlbook's numbers, and
highlight the right cells. Every expected value here is computed independently (plain
NumPy loops, hand arithmetic), never by the dlbook function the diagram calls."""

import math
import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Circle
from matplotlib.text import Text

from dlbook import diagrams, plotting

LANGS = ("zh", "en")
DIAGRAMS = (diagrams.kernel_over_channels, diagrams.padding_and_stride,
            diagrams.max_pool_window, diagrams.receptive_field_growth)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def draw(function, lang="en", **kwargs):
    plotting.setup(lang)          # CJK font; a missing glyph becomes an error
    fig = function(lang, **kwargs)
    fig.canvas.draw()
    return fig


# -- reading a figure back -----------------------------------------------------------
def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def by_gid(fig, gid: str) -> list:
    return [a for a in fig.findobj(lambda a: a.get_gid() == gid)]


def one(fig, gid: str):
    found = by_gid(fig, gid)
    assert len(found) == 1, (gid, found)
    return found[0]


def frame(fig, name: str) -> tuple[float, float, int, int]:
    """(x0, top, rows, cols) of grid ``name``."""
    rect = one(fig, f"grid:{name}")
    return rect.get_x(), rect.get_y() + rect.get_height(), round(rect.get_height()), \
        round(rect.get_width())


def cells(fig, mark, name: str) -> tuple[range, range]:
    """The rows and columns of grid ``name`` that a highlight Rectangle covers."""
    x0, top, _, _ = frame(fig, name)
    eps = 1e-9
    rows = range(math.floor(top - mark.get_y() - mark.get_height() + eps),
                 math.ceil(top - mark.get_y() - eps))
    cols = range(math.floor(mark.get_x() - x0 + eps),
                 math.ceil(mark.get_x() + mark.get_width() - x0 - eps))
    return rows, cols


def cell_of_point(fig, xy, name: str) -> tuple[int, int]:
    x0, top, _, _ = frame(fig, name)
    return math.floor(top - xy[1]), math.floor(xy[0] - x0)


def grid_texts(fig, name: str) -> list[list[str]]:
    """The texts written at the centres of grid ``name``'s cells."""
    x0, top, rows, cols = frame(fig, name)
    out = [[None] * cols for _ in range(rows)]
    for t in fig.findobj(Text):
        x, y = t.get_position()
        c, r = x - x0 - 0.5, top - y - 0.5
        if (abs(c - round(c)) < 1e-9 and abs(r - round(r)) < 1e-9
                and 0 <= round(r) < rows and 0 <= round(c) < cols):
            assert out[round(r)][round(c)] is None, "two texts in one cell"
            out[round(r)][round(c)] = t.get_text()
    assert all(v is not None for row in out for v in row)
    return out


def grid_values(fig, name: str) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in grid_texts(fig, name)])


# -- all diagrams --------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("function", DIAGRAMS, ids=lambda f: f.__name__)
def test_draws_in_both_languages_without_missing_glyphs(function, lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # any warning while drawing fails
        plotting.setup(lang)
        fig = function(lang)
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.canvas.draw()
    width, height = fig.get_size_inches()
    assert width <= 10 and height <= 8, (width, height)
    chinese = any(CJK.search(t) for t in texts(fig))
    assert chinese == (lang == "zh")             # labels in the page's language


def test_the_glyph_check_can_fail():
    """With a Latin-only font the Chinese labels raise: the test above can fail."""
    plotting.setup("zh")
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        fig = diagrams.max_pool_window("zh")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.canvas.draw()


@pytest.mark.parametrize("function", DIAGRAMS, ids=lambda f: f.__name__)
def test_unknown_language_is_refused(function):
    expected = r"lang must be one of \('zh', 'en'\), got 'fr'"
    with pytest.raises(ValueError, match=expected):
        function("fr")


# -- 1. kernel over channels -----------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kwargs", [
    {},
    {"in_channels": 2, "size": 4, "kernel_size": 2, "position": (2, 0), "seed": 3},
    {"in_channels": 1, "size": 6, "kernel_size": 3, "position": (3, 2), "seed": 1},
    {"in_channels": 4, "size": 5, "kernel_size": 4, "position": (0, 1), "seed": 2},
])
def test_kernel_over_channels_shows_the_convolution(lang, kwargs):
    fig = draw(diagrams.kernel_over_channels, lang, **kwargs)
    channels, size = kwargs.get("in_channels", 3), kwargs.get("size", 5)
    k, (r, c) = kwargs.get("kernel_size", 3), kwargs.get("position", (1, 1))
    x = np.stack([grid_values(fig, f"input{ch}") for ch in range(channels)])
    w = np.stack([grid_values(fig, f"kernel{ch}") for ch in range(channels)])
    y = grid_values(fig, "output")
    (bias,) = {float(m.group(1)) for t in texts(fig)
               for m in [re.search(r"b = (-?\d+)$", t)] if m}
    assert x.shape == (channels, size, size) and w.shape == (channels, k, k)
    out = size - k + 1
    assert y.shape == (out, out)
    # the whole output map is the cross-correlation of the shown input and kernel
    expected = np.array([[(x[:, i:i + k, j:j + k] * w).sum() + bias for j in range(out)]
                         for i in range(out)])
    np.testing.assert_array_equal(y, expected)
    # the written-out sum: per-channel sums, the bias, and the value
    per_channel = [(x[ch, r:r + k, c:c + k] * w[ch]).sum() for ch in range(channels)]
    numbers = [float(v) for v in re.findall(r"-?\d+", one(fig, "text:sum").get_text()
                                           .split("=", 1)[1].replace("(", ""))]
    assert numbers == per_channel + [bias, expected[r, c]]
    # highlights: the window on every channel, the one output value
    for ch in range(channels):
        assert cells(fig, one(fig, f"mark:window{ch}"), f"input{ch}") == (
            range(r, r + k), range(c, c + k))
    assert cells(fig, one(fig, "mark:output"), "output") == (range(r, r + 1),
                                                              range(c, c + 1))


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 6},
     r"kernel_over_channels: kernel spanning 6 pixels .* does not fit"),
    ({"position": (3, 0)}, r"position must be a \(row, col\) pair of ints from 0 to 2 "
                           r"\(the output is 3x3\), got \(3, 0\)"),
    ({"position": (1,)}, r"position must be a \(row, col\) pair"),
    ({"in_channels": 0}, r"in_channels must be an int from 1 to 4, got 0"),
    ({"size": 2.5}, r"size must be an int from 1 to 8, got 2.5"),
])
def test_kernel_over_channels_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diagrams.kernel_over_channels("en", **kwargs)


# -- 2. padding and stride -------------------------------------------------------------
def _windows_by_hand(size, k, p, s):
    """Top-left corners (padded coordinates) of every window, by walking the input."""
    return [start for start in range(0, size + 2 * p - k + 1, s)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size, k, settings", [
    (5, 3, ((0, 1), (1, 1), (1, 2))),
    (6, 3, ((0, 2), (2, 3))),
    (7, 2, ((0, 3),)),
    (4, 4, ((1, 1), (0, 1))),
])
def test_padding_and_stride_panels(lang, size, k, settings):
    fig = draw(diagrams.padding_and_stride, lang, size=size, kernel_size=k,
               settings=settings)
    for i, (p, s) in enumerate(settings):
        starts = _windows_by_hand(size, k, p, s)
        out = len(starts)
        side = size + 2 * p
        assert frame(fig, f"input{i}")[2:] == (side, side)
        assert frame(fig, f"output{i}")[2:] == (out, out)
        formula = one(fig, f"text:formula{i}").get_text()
        assert re.search(rf"\({size} \+ 2\\cdot {p} - {k}\)\\,/\\,{s} .*= {out}\$$",
                         formula), formula
        padding = [v for row in grid_texts(fig, f"input{i}") for v in row]
        assert padding.count("0") == side * side - size * size
        for j in range(min(3, out)):
            assert cells(fig, one(fig, f"mark:window{i}.{j}"), f"input{i}") == (
                range(0, k), range(starts[j], starts[j] + k))
            assert cells(fig, one(fig, f"mark:out{i}.{j}"), f"output{i}") == (
                range(0, 1), range(j, j + 1))
        read = {(a + da, b + db) for a in starts for b in starts
                for da in range(k) for db in range(k)}
        unread = {(a, b) for a in range(p, p + size) for b in range(p, p + size)} - read
        dots = {cell_of_point(fig, dot.center, f"input{i}")
                for dot in by_gid(fig, f"mark:unread{i}")}
        assert dots == unread and len(by_gid(fig, f"mark:unread{i}")) == len(unread)


def test_padding_and_stride_default_title_states_the_formula():
    fig = draw(diagrams.padding_and_stride)
    assert one(fig, "text:formula0").get_text() == (
        r"$\lfloor (5 + 2\cdot 1 - 3)\,/\,2 \rfloor + 1 = 3$")   # (5 + 2 - 3) // 2 + 1
    assert frame(fig, "output0")[2:] == (3, 3)
    assert not by_gid(fig, "mark:unread0")
    fig = draw(diagrams.padding_and_stride, padding=0, stride=2, size=6)
    assert frame(fig, "output0")[2:] == (2, 2)              # (6 - 3) // 2 + 1
    assert len(by_gid(fig, "mark:unread0")) == 11            # last row and column


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": 1, "settings": ((0, 1),)}, r"pass padding and stride .* not both"),
    ({"size": 3, "kernel_size": 7, "padding": 1},
     r"padding=1, stride=2: kernel spanning 7 pixels .* does not fit an input of size "
     r"3 padded to 5"),
    ({"stride": 0}, r"stride must be an int from 1 to 4, got 0"),
    ({"settings": ((1,),)}, r"settings must be 1 to 4 \(padding, stride\) pairs"),
    ({"settings": ()}, r"settings must be 1 to 4 \(padding, stride\) pairs"),
    ({"settings": ((-1, 1),)}, r"padding must be an int from 0 to 3, got -1"),
])
def test_padding_and_stride_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diagrams.padding_and_stride("en", **kwargs)


# -- 3. max-pooling --------------------------------------------------------------------
def _pool_by_hand(x, k, s):
    """(maxima, argmax (row, col) per window), first maximum in row-major order."""
    h, w = x.shape
    maxima, where = [], []
    for i in range(0, h - k + 1, s):
        row_max, row_where = [], []
        for j in range(0, w - k + 1, s):
            window = x[i:i + k, j:j + k]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            row_max.append(window[a, b])
            row_where.append((i + a, j + b))
        maxima.append(row_max)
        where.append(row_where)
    return np.array(maxima), where


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("x, k, s", [
    (None, 2, 2),
    (np.arange(36).reshape(6, 6) * 7 % 37, 3, 3),
    (np.array([[1, 9, 2, 8], [7, 3, 6, 4], [5, 0, 1, 2], [2, 3, 9, 9]]), 3, 1),
    (np.array([[0.5, -1, 2, 3, 4], [1, 1, 1, 1, 1], [-2, 7, 0, 0, 8]]), 2, 2),
])
def test_max_pool_window_shows_maxima_and_their_positions(lang, x, k, s):
    fig = draw(diagrams.max_pool_window, lang, x=x, kernel_size=k, stride=s)
    shown = grid_values(fig, "input")
    if x is None:
        assert sorted(shown.ravel()) == list(range(1, 17))   # a shuffle of 1..16
    else:
        np.testing.assert_array_equal(shown, x)
    maxima, where = _pool_by_hand(shown, k, s)
    np.testing.assert_array_equal(grid_values(fig, "output"), maxima)
    ho, wo = maxima.shape
    grad = grid_texts(fig, "grad")
    expected_grad = [["0"] * shown.shape[1] for _ in range(shown.shape[0])]
    for m in range(ho * wo):
        i, j = divmod(m, wo)
        assert cells(fig, one(fig, f"mark:window{m}"), "input") == (
            range(i * s, i * s + k), range(j * s, j * s + k))
        a, b = where[i][j]
        assert cells(fig, one(fig, f"mark:argmax{m}"), "input") == (
            range(a, a + 1), range(b, b + 1))
        assert cells(fig, one(fig, f"mark:out{m}"), "output") == (
            range(i, i + 1), range(j, j + 1))
        assert cells(fig, one(fig, f"mark:grad{m}"), "grad") == (
            range(a, a + 1), range(b, b + 1))
        term = f"g_{{{m + 1}}}"
        expected_grad[a][b] = (f"${term}$" if expected_grad[a][b] == "0"
                               else expected_grad[a][b][:-1] + f"+{term}$")
    assert grad == expected_grad


def test_max_pool_window_default_values():
    fig = draw(diagrams.max_pool_window)
    x = grid_values(fig, "input")
    by_hand = x.reshape(2, 2, 2, 2).max(axis=(1, 3))   # 2x2 blocks
    np.testing.assert_array_equal(grid_values(fig, "output"), by_hand)
    assert {f"{v:g}" for v in by_hand.ravel()} <= set(texts(fig))


@pytest.mark.parametrize("kwargs, message", [
    ({"x": np.arange(4)}, r"x must be a 2-D array of finite numbers with 2 to 8 rows "
                          r"and columns, got shape \(4,\)"),
    ({"x": np.ones((9, 4))}, r"x must be a 2-D array"),
    ({"x": [[1, np.nan], [2, 3]]}, r"x must be a 2-D array of finite numbers"),
    ({"kernel_size": 5}, r"max_pool_window: kernel spanning 5 pixels .* does not fit"),
    ({"stride": 0}, r"stride must be an int from 1 to 8, got 0"),
])
def test_max_pool_window_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diagrams.max_pool_window("en", **kwargs)


# -- 4. receptive field growth ---------------------------------------------------------
def _dependencies_by_hand(layers, sizes, unit, through_padding=False):
    """Per row, the unit indices the output unit depends on, walking windows down.

    A padding unit depends on nothing, unless ``through_padding`` (the receptive
    field's arithmetic, which extends every window as if the padding were pixels)."""
    needed = [None] * len(layers) + [{unit}]
    for level in range(len(layers) - 1, -1, -1):
        _, k, s, *pad = layers[level]
        p = pad[0] if pad else 0
        above = [i for i in needed[level + 1]
                 if through_padding or 0 <= i < sizes[level + 1]]
        needed[level] = {i * s - p + t for i in above for t in range(k)}
    return needed


def _sizes_by_hand(n, layers):
    sizes = [n]
    for _, k, s, *pad in layers:
        p = pad[0] if pad else 0
        sizes.append(len(range(0, sizes[-1] + 2 * p - k + 1, s)))
    return sizes


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("layers, input_size, unit, fields, jumps", [
    # the default stack: 3, 5, then pooling adds 1 and doubles the jump, then 3x3 adds 4
    ((("conv", 3, 1), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)), None, None,
     [1, 3, 5, 6, 10], [1, 1, 1, 2, 2]),
    ((("conv", 3, 1, 1), ("pool", 2, 2), ("conv", 3, 1, 1), ("pool", 2, 2)), 16, 0,
     [1, 3, 4, 8, 10], [1, 1, 2, 2, 4]),
    ((("conv", 5, 2, 2), ("conv", 3, 2)), 12, 1, [1, 5, 9], [1, 2, 4]),
    ((("pool", 3, 1, 1),), 5, 4, [1, 3], [1, 1]),
])
def test_receptive_field_growth(lang, layers, input_size, unit, fields, jumps):
    fig = draw(diagrams.receptive_field_growth, lang, layers=layers,
               input_size=input_size, unit=unit)
    if input_size is None:
        input_size = fields[-1] + 2 * jumps[-1]
    sizes = _sizes_by_hand(input_size, layers)
    unit = sizes[-1] // 2 if unit is None else unit
    for level, (r, j) in enumerate(zip(fields, jumps)):
        assert one(fig, f"text:rf{level}").get_text() == f"r = {r},  j = {j}"
    assert any(f"{fields[-1]}" in t and ("像素" in t or "pixels" in t)
               for t in texts(fig))
    needed = _dependencies_by_hand(layers, sizes, unit)
    marked = {}
    for patch in fig.findobj(Circle):
        m = re.fullmatch(r"mark:unit(\d+)\.(-?\d+)", patch.get_gid() or "")
        if m:
            marked.setdefault(int(m.group(1)), {})[int(m.group(2))] = patch
    for level in range(len(layers) + 1):
        assert set(marked[level]) == needed[level], level
    # the bracket spans the receptive field: r pixels, some of them padding at an edge
    field = _dependencies_by_hand(layers, sizes, unit, through_padding=True)[0]
    assert len(field) == fields[-1] == max(field) - min(field) + 1
    bracket = one(fig, "mark:field")
    assert (bracket.xy[0] + 0.4, bracket.xyann[0] - 0.4) == (min(field), max(field))
    inside = set(range(input_size))
    assert set(marked[0]) & inside == field & inside   # the pixels that matter
    if all(0 <= i < input_size for i in field):         # away from the edges:
        assert len(marked[0]) == fields[-1]             # all r pixels are filled
    # each unit sits above the centre of its receptive field
    for level in range(1, len(layers) + 1):
        for i, patch in marked[level].items():
            if 0 <= i < sizes[level]:
                seen = _dependencies_by_hand(layers[:level], sizes[:level + 1], i,
                                             through_padding=True)[0]
                assert patch.center[0] == pytest.approx((min(seen) + max(seen)) / 2)


def test_receptive_field_growth_would_catch_a_wrong_field(monkeypatch):
    """A slip in the receptive fields (the jump not multiplied by the stride) shows."""
    from dlbook import receptive_field as rf_module
    real = rf_module.receptive_fields

    def slipped(layers):
        table = real(layers)
        return [rf_module.ReceptiveField(f.size, (1, 1), f.start) for f in table]

    monkeypatch.setattr(diagrams, "receptive_fields", slipped)
    fig = draw(diagrams.receptive_field_growth)
    assert one(fig, "text:rf4").get_text() != "r = 10,  j = 2"


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": (("fc", 3, 1),)},
     r"layers\[0\] must be \('conv' or 'pool', kernel_size, stride\[, padding\]\), "
     r"got \('fc', 3, 1\)"),
    ({"layers": ()}, r"layers must be a sequence of 1 to 6"),
    ({"layers": (("conv", 3, 0),)}, r"layers\[0\] stride must be an int from 1 to 4"),
    ({"layers": (("pool", 2, 2, 2),)}, r"layers\[0\] = \('pool', 2, 2, 2\): .*padding "
                                       r"must be between 0 and half the kernel size"),
    ({"layers": (("conv", 3, 1),), "input_size": 2},
     r"layers\[0\] = \('conv', 3, 1\) on a row of 2 units \(input_size=2\): kernel "
     r"spanning 3 pixels"),
    ({"unit": 3}, r"unit must be an int from 0 to 2, got 3"),
])
def test_receptive_field_growth_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diagrams.receptive_field_growth("en", **kwargs)
