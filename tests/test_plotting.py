"""Figures: a CJK font is found and Chinese text renders; missing glyphs fail loudly."""

import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlbook import plotting


def test_setup_selects_a_cjk_font_that_renders_chinese():
    font = plotting.setup("zh")
    assert font in plotting.CJK_FONTS
    fig, ax = plt.subplots()
    ax.set_title("卷积神经网络 · 感受野")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()  # would warn "Glyph ... missing" with a Latin-only font
    plt.close(fig)


def test_missing_glyph_is_an_error_after_setup():
    plotting.setup("en")
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("中文")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.canvas.draw()
        plt.close(fig)


def test_setup_fails_without_a_cjk_font(monkeypatch):
    monkeypatch.setattr(plotting, "_installed_cjk_font", lambda: None)
    with pytest.raises(RuntimeError, match="no CJK font"):
        plotting.setup("zh")


def test_setup_rejects_unknown_language():
    with pytest.raises(ValueError, match="lang must be one of"):
        plotting.setup("fr")


def test_plot_curves_draws_each_curve():
    ax = plotting.plot_curves({"a": np.arange(5.0), "b": np.ones(5)}, "x", "y")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert np.array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 6))
    with pytest.raises(ValueError, match="must be 1-D"):
        plotting.plot_curves({"bad": np.ones((2, 2))}, "x", "y")
    plt.close("all")


def test_show_images_grid():
    fig = plotting.show_images(np.zeros((7, 4, 4)), titles=list("abcdefg"), ncols=3)
    assert len(fig.axes) == 9 and fig.axes[6].get_title() == "g"
    with pytest.raises(ValueError, match=r"\(K, H, W\)"):
        plotting.show_images(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="titles"):
        plotting.show_images(np.zeros((2, 4, 4)), titles=["a"])
    plt.close("all")


def test_show_images_symmetric_colour_map_is_centred_on_zero():
    images = np.stack([np.array([[-1.0, 3.0], [0.0, 2.0]]), np.array([[0.5, -2.0], [0.0, 0.0]])])
    fig = plotting.show_images(images, symmetric=True, cmap="bwr")
    limits = [ax.get_images()[0].get_clim() for ax in fig.axes]
    assert limits == [(-3.0, 3.0), (-2.0, 2.0)]
    with pytest.raises(ValueError, match="ncols >= 1"):
        plotting.show_images(images, ncols=0)
    plt.close("all")


def test_figure_glues_under_its_name_and_closes(monkeypatch):
    import sys
    import types

    import matplotlib.pyplot as plt

    from dlbook import plotting

    glued = {}
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, obj, display=True: glued.update({name: (obj, display)})
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    monkeypatch.setenv("DLBOOK_BOOK_BUILD", "1")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plotting.figure("fig-line", fig)
    assert glued == {"fig-line": (fig, False)}
    assert not plt.fignum_exists(fig.number)

    # outside a book build (a chapter's notebook in Jupyter) the figure is shown, even with myst_nb installed
    monkeypatch.delenv("DLBOOK_BOOK_BUILD")
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig, ax = plt.subplots()
    plotting.figure("fig-line-2", fig)
    assert shown == [True] and "fig-line-2" not in glued


def test_figure_rejects_what_is_not_a_figure():
    import matplotlib.pyplot as plt
    import pytest

    from dlbook import plotting

    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match="matplotlib Figure"):
        plotting.figure("fig-axes", ax)
    with pytest.raises(ValueError, match="non-empty string"):
        plotting.figure("", fig)
    plt.close(fig)
