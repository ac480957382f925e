"""The build is a check: a raising cell fails the real build command, which names the page.

It runs scripts/build-book.sh on a trimmed copy of the book (landing page and prefaces), so the
mechanism is tested in seconds, and checks that each edition is a site in its own language; tests/test_pages_catch_broken_library.py covers the chapters.
"""

import json
import shutil
from pathlib import Path

import pytest
from trimmed_book import build, trimmed_book

pytestmark = pytest.mark.slow

RAISING_CELL = "\n```{code-cell} ipython3\nraise RuntimeError('injected failure')\n```\n"


def _search_terms(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])["terms"]


def _assert_each_edition_in_its_language(site: Path) -> None:
    """Each edition has its own search index and interface: jieba segments the Chinese one, the
    English one is stemmed; the interface strings follow the edition's language."""
    zh_terms, en_terms = _search_terms(site / "zh" / "searchindex.js"), _search_terms(site / "en" / "searchindex.js")
    assert "教材" in zh_terms and "深度" in zh_terms, "Chinese words are not segmented in the zh search index"
    assert "execut" in en_terms and "textbook" in en_terms, "English words are missing from the en search index"
    zh_page = (site / "zh" / "00_preface.html").read_text(encoding="utf-8")
    en_page = (site / "en" / "00_preface.html").read_text(encoding="utf-8")
    assert "搜索" in zh_page and "搜索" not in en_page and "Search" in en_page
    assert 'href="../en/00_preface.html"' in zh_page and 'href="../zh/00_preface.html"' in en_page
    assert (site / "zh" / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not served locally"
    assert "cdn.jsdelivr" not in zh_page and "mathjax/tex-chtml.js" in zh_page


def test_build_command_fails_on_a_raising_cell_and_names_the_page(tmp_path):
    book = trimmed_book(tmp_path)
    clean = build(book)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]
    assert (book / "_build" / "html" / "index.html").exists()  # the landing page
    _assert_each_edition_in_its_language(book / "_build" / "html")

    page = book / "book" / "zh" / "00_preface.md"
    page.write_text(page.read_text(encoding="utf-8") + RAISING_CELL, encoding="utf-8")
    shutil.rmtree(book / "_build")
    broken = build(book)
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0
    assert "book/zh/00_preface" in output and "injected failure" in output
