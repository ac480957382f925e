"""The lesson shows through the checks: a visible cell is teaching code, the asserts that prove it
sit in a collapsed cell right after it (tag ``hide-input``) that prints one line, starting with ✓,
saying what was checked. Tags mirror each other between the editions like the code does."""

import re

import pytest

import pages

COLLAPSED = {"hide-input", "hide-cell", "remove-input"}
_ASSERT = re.compile(r"^\s*assert\b", re.M)
_CHECKED_LINE = re.compile(r"""print\(\s*["']✓|print\(\s*\{\s*["']zh["']\s*:\s*["']✓""")


def _cells(page):
    return list(zip(pages.code_cell_tags(page), pages.code_cells(page)))


def visible_asserts(page) -> list[str]:
    """The first line of every visible cell that asserts."""
    return [source.splitlines()[0] for tags, source in _cells(page)
            if not COLLAPSED & set(tags) and _ASSERT.search(source)]


def silent_checks(page) -> list[str]:
    """The first line of every collapsed check cell that does not say what it checked."""
    return [source.splitlines()[0] for tags, source in _cells(page)
            if COLLAPSED & set(tags) and _ASSERT.search(source) and not _CHECKED_LINE.search(source)]


@pytest.mark.parametrize("page", pages.chapter_pages("zh") + pages.chapter_pages("en"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_asserts_sit_in_collapsed_cells_that_say_what_they_checked(page):
    assert not visible_asserts(page), f"{page.name}: visible cells that assert: {visible_asserts(page)}"
    assert not silent_checks(page), f"{page.name}: check cells without a ✓ line: {silent_checks(page)}"


@pytest.mark.parametrize("name", [p.name for p in pages.chapter_pages("zh")])
def test_cell_tags_mirror_each_other(name):
    zh, en = pages.code_cell_tags(pages.BOOK / "zh" / name), pages.code_cell_tags(pages.BOOK / "en" / name)
    assert zh == en, f"{name}: cell tags differ between zh and en"


def test_the_structure_checks_can_fail(tmp_path):
    visible = tmp_path / "visible.md"
    visible.write_text("```{code-cell} ipython3\nx = 1\nassert x == 1\n```\n", encoding="utf-8")
    assert visible_asserts(visible) == ["x = 1"]
    silent = tmp_path / "silent.md"
    silent.write_text("```{code-cell} ipython3\n:tags: [hide-input]\nassert 1 == 1\n```\n", encoding="utf-8")
    assert silent_checks(silent) == ["assert 1 == 1"] and not visible_asserts(silent)
    good = tmp_path / "good.md"
    good.write_text('```{code-cell} ipython3\n:tags: [hide-input]\nassert 1 == 1\n'
                    'print("✓", {"zh": "一等于一", "en": "one is one"}[LANG])\n```\n', encoding="utf-8")
    assert not silent_checks(good) and pages.code_cell_tags(good) == [["hide-input"]]


_GLUED = re.compile(r"""plotting\.figure\(\s*["']([\w-]+)["']""")
_PLACED = re.compile(r"^```\{glue:figure\} ([\w-]+)\n:name: ([\w-]+)\n(?::[^\n]*\n)*\n(.+?)^```", re.M | re.S)


def figure_problems(page) -> list[str]:
    """Every figure a cell draws is glued, placed once with a number and a caption, and cited."""
    text = page.read_text(encoding="utf-8")
    problems = [f"cell shows a figure without a caption: {source.splitlines()[0]}"
                for source in pages.code_cells(page) if "plt.show()" in source]
    glued = [name for source in pages.code_cells(page) for name in _GLUED.findall(source)]
    placed = {glue: (label, caption.strip()) for glue, label, caption in _PLACED.findall(text)}
    for name in glued:
        if name not in placed:
            problems.append(f"{name}: glued but not placed with {{glue:figure}}, :name: and a caption")
            continue
        label, caption = placed[name]
        if not caption:
            problems.append(f"{name}: no caption")
        if f"{{numref}}`{label}`" not in text and not re.search(rf"{{numref}}`[^`]*<{label}>`", text):
            problems.append(f"{name}: the text never refers to it ({{numref}}`{label}`)")
    problems += [f"{name}: placed but never glued" for name in placed if name not in glued]
    if len(glued) != len(set(glued)):
        problems.append(f"a figure name is glued twice: {sorted(glued)}")
    return problems


@pytest.mark.parametrize("page", pages.chapter_pages("zh") + pages.chapter_pages("en"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_figures_are_numbered_captioned_and_cited(page):
    assert not figure_problems(page), f"{page.name}:\n" + "\n".join(figure_problems(page))


def test_the_figure_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    cell = '```{code-cell} ipython3\nplotting.figure("fig-a", fig)\n```\n\n'
    placed = "```{glue:figure} fig-a\n:name: fig-a\n\nA caption.\n```\n\n"
    page.write_text(cell, encoding="utf-8")
    assert figure_problems(page) == ["fig-a: glued but not placed with {glue:figure}, :name: and a caption"]
    page.write_text(cell + placed, encoding="utf-8")
    assert figure_problems(page) == ["fig-a: the text never refers to it ({numref}`fig-a`)"]
    page.write_text(cell + placed + "As {numref}`fig-a` shows.\n", encoding="utf-8")
    assert figure_problems(page) == []
    page.write_text("```{code-cell} ipython3\nplt.show()\n```\n", encoding="utf-8")
    assert figure_problems(page) == ["cell shows a figure without a caption: plt.show()"]


def language_dict_problems(page) -> list[str]:
    """Every {"zh": ..., "en": ...} in a cell gives both languages a text of its own."""
    import ast

    problems = []
    for source in pages.code_cells(page):
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Dict):
                continue
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            if sorted(keys) != ["en", "zh"]:
                continue
            texts = {k.value: ast.unparse(v) for k, v in zip(node.keys, node.values)}
            if any(len(t.strip("'\"f")) == 0 for t in texts.values()):
                problems.append(f"an empty text: {texts}")
            elif texts["zh"] == texts["en"]:
                problems.append(f"the same text in both languages: {texts}")
    return problems


@pytest.mark.parametrize("page", pages.chapter_pages("zh"), ids=lambda p: p.name)
def test_every_language_choice_has_two_texts(page):
    assert not language_dict_problems(page), f"{page.name}: {language_dict_problems(page)}"


def test_the_language_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('```{code-cell} ipython3\nprint({"zh": "本章有 4 个练习enthe chapter", "en": ""}[LANG])\n```\n',
                    encoding="utf-8")
    assert language_dict_problems(page)


BIB_KEYS = set(re.findall(r"^@\w+\{([^,]+),", (pages.BOOK / "references.bib").read_text(encoding="utf-8"), re.M))


@pytest.mark.parametrize("page", [p for lang in ("zh", "en") for p in pages.numbered_chapters(lang)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chapters_cite_from_the_bibliography_and_list_their_references(page):
    text = page.read_text(encoding="utf-8")
    cited = {key.strip() for group in re.findall(r"\{footcite:\w+\}`([^`]+)`", text) for key in group.split(",")}
    assert cited, f"{page.name} cites nothing"
    assert cited <= BIB_KEYS, f"{page.name}: keys missing from references.bib: {sorted(cited - BIB_KEYS)}"
    assert "{cite:" not in text, f"{page.name}: use footcite (one reference list per chapter)"
    last = text.rsplit("\n## ", 1)[1]
    assert last.startswith(("参考文献", "References")) and "```{footbibliography}" in last, \
        f"{page.name}: the last section lists the references"
