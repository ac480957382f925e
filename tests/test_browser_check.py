"""The browser check (scripts/browser_check.py) passes on an intact site and names what is broken.

A trimmed copy of the book (landing page and prefaces) is built once with scripts/build-book.sh,
which ends with the browser check. Each fault is then put into a copy of the built site by
editing one page's HTML (a formula MathJax cannot typeset, a missing image, a mirror link to a
page that does not exist, ...), and the check must fail that page, with the problem in its words,
and leave the other pages OK. Needs chromium and chromedriver (scripts/setup.sh installs them as
root): skipped without them, except in CI.
"""

import importlib.util
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from trimmed_book import build, trimmed_book

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "scripts" / "browser_check.py"
pytestmark = pytest.mark.slow



def _browser_available() -> bool:
    spec = importlib.util.spec_from_file_location("browser_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.find_browser() is not None and importlib.util.find_spec("selenium") is not None


def _check(site: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(CHECK), str(site), *args], capture_output=True, text=True,
                            timeout=300)
    result.output = result.stdout + result.stderr
    return result


def _line(output: str, page: str) -> str:
    """The check's line for one page ("OK   zh/00_preface.html ..." or "FAIL zh/00_preface.html: ...")."""
    lines = [line for line in output.splitlines()
             if line == f"OK   {page}" or line.startswith((f"OK   {page} (", f"FAIL {page}: "))]
    assert len(lines) == 1, f"expected one line for {page}:\n{output}"
    return lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not _browser_available():
        message = "chromium, chromedriver or selenium missing: run scripts/setup.sh as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    book = trimmed_book(tmp_path_factory.mktemp("browser"))
    result = build(book)
    site = book / "_build" / "html"
    assert (site / "zh" / "00_preface.html").exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return site, result


@pytest.fixture
def site_copy(built, tmp_path):
    site, _ = built
    copy = tmp_path / "html"
    shutil.copytree(site, copy)
    return copy


def _edit(site: Path, page: str, old: str, new: str) -> None:
    path = site / page
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {page}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _inject(site: Path, page: str, html: str) -> None:
    """Put ``html`` into the page's article, right after its title."""
    _edit(site, page, "</h1>", "</h1>\n" + html)


def test_the_build_command_runs_the_browser_check(built):
    _, result = built
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "browser check: all" in result.stdout and "OK   zh/00_preface.html" in result.stdout


def test_intact_site_passes_and_screenshots_are_written(built, tmp_path):
    site, _ = built
    shots = tmp_path / "shots"
    result = _check(site, "--screenshots", str(shots))
    assert result.returncode == 0, result.output
    for page in ("index.html", "zh/00_preface.html", "en/00_preface.html"):
        assert _line(result.output, page).startswith("OK"), result.output
    # the preface has formulas, and MathJax typeset them
    assert "0 formulas" not in _line(result.output, "zh/00_preface.html")
    # without the convolution chapter, each edition's search for its preface lists the preface first
    assert "OK   zh/search.html?q=前言 (" in result.output and "00_preface.html first" in result.output
    assert "OK   en/search.html?q=preface (" in result.output
    assert "browser check: all 5 pages and searches OK" in result.output
    for lang in ("zh", "en"):
        png = shots / f"{lang}_00_preface.png"
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", png
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 800 and height >= 600, (width, height)


def test_default_screenshot_folder_is_next_to_the_site(site_copy):
    result = _check(site_copy)
    assert result.returncode == 0, result.output
    assert (site_copy.parent / "screenshots" / "zh_00_preface.png").is_file()
    assert (site_copy.parent / "screenshots" / "en_00_preface.png").is_file()


# page to break, HTML to inject after its title (or (old, new) to replace), problem text the check must print
FAULTS = {
    "raw-inline-formula": ("zh/00_preface.html", r"<p>一个没有闭合的公式 \(x^2 + 1 留在正文里。</p>",
                           r'raw formula in the text: "一个没有闭合的公式 \(x^2 + 1 留在正文里。"'),
    "raw-display-formula": ("en/00_preface.html", "<p>An escaped display formula $$E = mc^2 stays raw.</p>",
                            'raw formula in the text: "An escaped display formula $$E = mc^2 stays raw."'),
    "tex-error": ("en/00_preface.html", r'<p><span class="math notranslate nohighlight">\(a^b^c\)</span></p>',
                  "MathJax error: Double exponent"),
    "missing-image": ("en/00_preface.html", '<p><img src="missing.png" alt="a figure"></p>',
                      "image not loaded: missing.png"),
    "unnumbered-figure": ("zh/00_preface.html", '<figure id="fig-bare"><p>no caption</p></figure>',
                          "figure without a number: fig-bare"),
    "dangling-reference": ("en/00_preface.html", '<p>See <a href="#fig-gone">Fig. 9</a>.</p>',
                           "link to a missing anchor: #fig-gone"),
    "mirror-to-missing-page": ("zh/00_preface.html",
                               ('href="../en/00_preface.html">', 'href="../en/00_missing.html">'),
                               "mirror link '../en/00_missing.html' leads to en/00_missing.html, "
                               "which does not exist"),
    "mirror-to-another-page": ("en/00_preface.html",
                               ('href="../zh/00_preface.html">', 'href="../zh/index.html">'),
                               "mirror link '../zh/index.html' leads to zh/index.html, "
                               "not to the twin page zh/00_preface.html"),
    "console-error-and-other-host": ("zh/00_preface.html",
                                     '<script>console.error("injected failure")</script>'
                                     '<link rel="stylesheet" href="https://cdn.example.com/style.css">',
                                     "request to another host: https://cdn.example.com/style.css"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_check_fails_the_broken_page_and_names_the_problem(site_copy, fault):
    page, change, problem = FAULTS[fault]
    if isinstance(change, tuple):
        _edit(site_copy, page, *change)
    else:
        _inject(site_copy, page, change)
    result = _check(site_copy)
    assert result.returncode == 1, result.output
    line = _line(result.output, page)
    assert line.startswith(f"FAIL {page}: ") and problem in line, result.output
    if fault == "missing-image":  # the failed request is reported too
        assert f"request failed: HTTP 404 /{page.split('/')[0]}/missing.png" in line
    if fault == "console-error-and-other-host":
        assert "console error: " in line and "injected failure" in line
    other = "en/00_preface.html" if page.startswith("zh/") else "zh/00_preface.html"
    assert _line(result.output, other).startswith(f"OK   {other}"), result.output
    assert "browser check: FAILED: 1 of 5 pages and searches have problems" in result.output


def test_links_to_anchors_on_other_pages_are_checked(tmp_path):
    """The glossary, index and errata link to anchors on other pages: a missing one is reported."""
    import browser_check

    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "04_cnn.html").write_text('<p><em class="dfn" id="dfn-kernel">卷积核</em></p>')
    (tmp_path / "zh" / "12_glossary.html").write_text(
        '<a href="04_cnn.html#dfn-kernel">ok</a> <a href="04_cnn.html#dfn-stride">gone</a> '
        '<a href="05_missing.html#x">no page</a>')
    assert browser_check.cross_page_anchor_problems(tmp_path, "zh/12_glossary.html") == [
        "link to a missing anchor: 04_cnn.html#dfn-stride", "link to a missing page: 05_missing.html#x"]
