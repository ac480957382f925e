"""The zh and en editions mirror each other: pages, sections, code cells, links, table of contents.

Documented exception: the first code cell of a page sets the language (LANG = "zh" / "en");
apart from that literal it must match too.
"""

import re
from pathlib import Path

import pytest
import yaml

import pages

ROOT = Path(__file__).resolve().parents[1]
ZH = {p.name for p in pages.chapter_pages("zh")}
EN = {p.name for p in pages.chapter_pages("en")}
MIRROR_TEXT = {"zh": "English version", "en": "中文版"}


def test_same_pages_in_both_languages():
    assert ZH, "no Chinese pages found"
    assert ZH == EN, f"only zh: {sorted(ZH - EN)}, only en: {sorted(EN - ZH)}"


@pytest.mark.parametrize("name", sorted(ZH & EN))
def test_same_section_structure(name):
    zh, en = pages.heading_levels(pages.BOOK / "zh" / name), pages.heading_levels(pages.BOOK / "en" / name)
    assert zh == en, f"{name}: heading levels differ\nzh {zh}\nen {en}"


@pytest.mark.parametrize("name", sorted(ZH & EN))
def test_same_code_cells(name):
    zh, en = pages.code_cells(pages.BOOK / "zh" / name), pages.code_cells(pages.BOOK / "en" / name)
    assert len(zh) == len(en), f"{name}: {len(zh)} zh code cells, {len(en)} en"
    if not zh:
        return
    assert zh[0].splitlines()[0] == 'LANG = "zh"' and en[0].splitlines()[0] == 'LANG = "en"', \
        f"{name}: the first code cell must start by setting LANG"
    assert zh[0].replace('LANG = "zh"', 'LANG = "en"', 1) == en[0], f"{name}: first cells differ beyond LANG"
    for i, (a, b) in enumerate(zip(zh[1:], en[1:]), start=2):
        assert a == b, f"{name}: code cell {i} differs between zh and en"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_links_to_its_mirror(lang):
    other = "en" if lang == "zh" else "zh"
    for page in pages.chapter_pages(lang):
        # a plain relative link: the two editions are separate sites with the same layout
        link = f'<a class="mirror-link" href="../{other}/{page.stem}.html">{MIRROR_TEXT[lang]}</a>'
        text = page.read_text(encoding="utf-8")
        assert link in text, f"{page}: missing the mirror link {link}"
        body = re.sub(r"^---\n.*?\n---\n", "", text, count=1, flags=re.S)
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        assert paragraphs[0].startswith("# ") and paragraphs[1] == link, f"{page}: the mirror link must follow the title"


def test_toc_has_both_parts_with_the_same_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    assert list(parts) == ["中文", "English"]
    zh = [Path(f).name for f in parts["中文"]]
    en = [Path(f).name for f in parts["English"]]
    assert zh == en
    assert all(f.startswith("book/zh/") for f in parts["中文"]) and all(f.startswith("book/en/") for f in parts["English"])
    assert {f"{n}.md" for n in zh} == ZH, "every page is in the table of contents, and nothing else"


def test_parity_checker_notices_a_difference(tmp_path):
    """The checks above can fail: a changed code cell and a missing section are detected."""
    page = pages.BOOK / "en" / "01_basics.md"
    text = page.read_text(encoding="utf-8")
    changed = tmp_path / "changed.md"
    edited = text.replace("assert rel_error(W @ x", "rel_error(W @ x", 1)
    assert edited != text
    changed.write_text(edited, encoding="utf-8")
    assert pages.code_cells(changed) != pages.code_cells(page)
    fewer = tmp_path / "fewer.md"
    fewer.write_text(text.replace("\n## ", "\nSection: ", 1), encoding="utf-8")
    assert pages.heading_levels(fewer) != pages.heading_levels(page)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_code_lines_fit_the_rendered_page(lang):
    """Longer lines scroll sideways in the HTML; 88 characters fit the theme's content column."""
    long = [f"{page.name}: {line}" for page in pages.chapter_pages(lang)
            for cell in pages.code_cells(page) for line in cell.splitlines() if len(line) > 88]
    assert not long, "code lines over 88 characters:\n" + "\n".join(long)


_INCLUDE = re.compile(r"^```\{literalinclude\} (\S+)\n:pyobject: (\S+)", re.M)


def _included_lines(page: Path, target: str, pyobject: str) -> list[str]:
    """The source lines a ``literalinclude`` with ``:pyobject:`` shows (def/class to its end)."""
    import ast

    source = (page.parent / target).resolve().read_text(encoding="utf-8")
    node = ast.parse(source)
    for name in pyobject.split("."):
        node = next(n for n in ast.iter_child_nodes(node)
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name)
    return source.splitlines()[node.lineno - 1:node.end_lineno]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_included_library_code_fits_the_rendered_page(lang):
    """Library code shown with literalinclude scrolls sideways too when its lines are long."""
    long = []
    for page in pages.chapter_pages(lang):
        for target, pyobject in _INCLUDE.findall(page.read_text(encoding="utf-8")):
            lines = _included_lines(page, target, pyobject)
            assert lines, f"{page.name}: {pyobject} not found in {target}"
            long += [f"{page.name} {pyobject}: {line}" for line in lines if len(line) > 88]
    assert not long, "included code lines over 88 characters:\n" + "\n".join(long)
