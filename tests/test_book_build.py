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


DEMO = {
    "zh": ("# 1. 演示\n\n<a class=\"mirror-link\" href=\"../en/01_demo.html\">English version</a>\n\n"
           "(demo-kernels)=\n## 1.1 卷积核\n\n{dfn}`卷积核`是一小块权重。卷积核在图像上滑动。\n\n"
           "```{erratum} demo-kernel-size\n:notes: 卷积核总是 3 x 3\n:code: after\n\n卷积核可以是任意大小 $k \\times k$（{ref}`demo-kernels`）。\n```\n\n"
           "```{code-cell} ipython3\nkernel_sizes = [1, 3, 5]\n```\n"),
    "en": ("# 1. Demo\n\n<a class=\"mirror-link\" href=\"../zh/01_demo.html\">中文版</a>\n\n"
           "(demo-kernels)=\n## 1.1 Kernels\n\nA {dfn}`kernel <kernel>` is a small patch of weights. Kernels slide over the image.\n\n"
           "```{erratum} demo-kernel-size\n:notes: a kernel is always 3 x 3\n:code: after\n\nA kernel may have any size $k \\times k$ ({ref}`demo-kernels`).\n```\n\n"
           "```{code-cell} ipython3\nkernel_sizes = [1, 3, 5]\n```\n"),
}
NOTEBOOK_FRONT_MATTER = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                         "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n")
BACK_MATTER = ("11_errata", "12_glossary", "13_index", "14_bibliography")


def _back_matter_book(parent: Path, terms: str) -> Path:
    """The prefaces, one demo chapter and the generated back matter, with a two-term list."""
    book = trimmed_book(parent)
    (book / "book" / "terms.yml").write_text(terms, encoding="utf-8")
    toc = "format: jb-book\nroot: book/index\nparts:\n"
    for lang, caption in (("zh", "中文"), ("en", "English")):
        (book / "book" / lang / "01_demo.md").write_text(NOTEBOOK_FRONT_MATTER + DEMO[lang], encoding="utf-8")
        for name in BACK_MATTER:
            shutil.copy(pages_root() / "book" / lang / f"{name}.md", book / "book" / lang)
        toc += f"  - caption: {caption}\n    chapters:\n" + "".join(
            f"      - file: book/{lang}/{name}\n" for name in ("00_preface", "01_demo", *BACK_MATTER))
    (book / "_toc.yml").write_text(toc, encoding="utf-8")
    return book


def pages_root() -> Path:
    return Path(__file__).resolve().parents[1]


def test_the_back_matter_is_generated_from_the_chapters(tmp_path):
    """Glossary, errata, index and bibliography come from {dfn}, {erratum} and the term list; the
    first use of a term links to the glossary; a term used but never introduced fails the build."""
    import re

    import dlbook

    terms = '- {en: "kernels?", name: "kernel", zh: "卷积核"}\n- {en: "dilation", zh: "空洞"}\n'
    book = _back_matter_book(tmp_path / "good", terms)
    result = build(book)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = book / "_build" / "html"
    for lang in ("zh", "en"):
        chapter = (site / lang / "01_demo.html").read_text(encoding="utf-8")
        assert 'id="dfn-kernel"' in chapter
        links = re.findall(r'class="term-link[^"]*" href="12_glossary.html#term-kernel"', chapter)
        assert len(links) == 1, f"{lang}: the first use links to the glossary, and only the first"
        assert f"dlbook {dlbook.__version__}" in chapter, "the footer shows the version"
        assert (site / lang / "_sources" / "01_demo.ipynb").is_file() and "01_demo.ipynb" in chapter
        glossary = (site / lang / "12_glossary.html").read_text(encoding="utf-8")
        assert 'id="term-kernel"' in glossary and 'href="01_demo.html#dfn-kernel"' in glossary
        assert 'id="term-dilation"' not in glossary, "a term no page uses is left out"
        errata = (site / lang / "11_errata.html").read_text(encoding="utf-8")
        assert 'href="01_demo.html#erratum-demo-kernel-size"' in errata and "kernel_sizes" in errata
        assert 'href="01_demo.html#demo-kernels"' in errata, "a cross-reference in an erratum, resolved again"
        assert "mathjax/tex-chtml.js" in errata, "the errata page's formulas arrive after reading: MathJax loads"
        index = (site / lang / "13_index.html").read_text(encoding="utf-8")
        assert 'id="index-kernel"' in index and 'href="01_demo.html#' in index
        assert "Learning representations by back-propagating errors" in \
            (site / lang / "14_bibliography.html").read_text(encoding="utf-8")

    # the English demo now uses "dilation" without introducing it
    broken = _back_matter_book(tmp_path / "broken", terms)
    page = broken / "book" / "en" / "01_demo.md"
    page.write_text(page.read_text(encoding="utf-8").replace("slide over", "slide with a dilation over"),
                    encoding="utf-8")
    failed = build(broken)
    assert failed.returncode != 0
    assert "'dilation' (空洞) is used but never introduced" in failed.stdout + failed.stderr
