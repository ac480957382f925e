"""The chapters as notebooks to take home (scripts/notebooks.py): what the conversion keeps and
rewrites, and one generated notebook executed against a clean install of the wheel."""

import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import notebooks  # noqa: E402
import pages  # noqa: E402

nbformat = pytest.importorskip("nbformat")

#: executed end to end in the slow test: the quickest chapter that has checks and runs standalone
#: (no cached training run of minutes, no extra package)
CHAPTER = "02_backprop"
LANG = "en"


def _chapter_pages():
    return [p for lang in notebooks.LANGS for p in notebooks.chapter_pages(ROOT / "book", lang)]


@pytest.fixture(scope="module")
def converted():
    bibliography = notebooks.read_bibliography()
    return {page: notebooks.chapter_notebook(page, bibliography) for page in _chapter_pages()}


def test_every_chapter_of_the_toc_becomes_a_notebook_and_back_matter_does_not():
    for lang in notebooks.LANGS:
        stems = [p.stem for p in notebooks.chapter_pages(ROOT / "book", lang)]
        listed = re.findall(rf"file:\s*book/{lang}/(\S+)", (ROOT / "_toc.yml").read_text(encoding="utf-8"))
        expected = [s for s in listed if s not in notebooks.BACK_MATTER + notebooks.REPOSITORY_ONLY]
        assert stems == expected and "01_basics" in stems
    with pytest.raises(ValueError, match="lang must be one of"):
        notebooks.chapter_pages(ROOT / "book", "fr")


def test_code_cells_and_their_tags_are_kept_in_order(converted):
    """Every code cell of the page, character for character, in the same order, with its tags: the
    hidden check cells are the checks."""
    for page, notebook in converted.items():
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        assert [c.source for c in cells] == pages.code_cells(page), page
        assert [c.metadata.get("tags", []) for c in cells] == pages.code_cell_tags(page), page
        assert notebook.metadata.kernelspec.name == "python3"
        nbformat.validate(notebook)


def test_no_sphinx_markup_is_left_in_the_markdown(converted):
    for page, notebook in converted.items():
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        left = re.findall(r"```\{[\w:-]+\}|:::\{[\w:-]+\}|\{(?:numref|footcite:[pt]|dfn|glue:figure)\}`"
                          r"|mirror-link|^:::$", text, re.M)
        assert not left, f"{page.name}: {left[:5]}"


def test_the_first_cell_says_what_the_notebook_is_and_how_to_install_it(converted):
    import dlbook

    for page, notebook in converted.items():
        first = notebook.cells[0]
        assert first.cell_type == "markdown"
        assert f"pip install dlbook=={dlbook.__version__}" in first.source
        assert f"book/{page.parent.name}/{page.name}" in first.source
        title = next(line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        assert title[2:] in first.source
        assert ("中文版" in first.source) == (page.parent.name == "zh")


def test_a_literalinclude_becomes_the_code_of_the_object_it_names(converted):
    """Against inspect.getsource (Python's own reading of the object, not the ast walk the script does)."""
    import importlib
    import textwrap

    include = re.compile(r"```\{literalinclude\} \.\./\.\./(\S+)\.py\n:pyobject: (\S+)\n(?::[^\n]*\n)*```")
    checked = 0
    for page, notebook in converted.items():
        includes = include.findall(page.read_text(encoding="utf-8"))
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        blocks = re.findall(r"^\*\S+ `(\S+)\.py`, `(\S+)`:\*\n\n```python\n(.*?)\n```$", text, re.S | re.M)
        assert [(path, name) for path, name, _ in blocks] == includes, page
        for path, name, code in blocks:
            obj = importlib.import_module(path.replace("/", "."))
            for part in name.split("."):
                obj = getattr(obj, part)
            obj = inspect.unwrap(obj) if not isinstance(obj, type) else obj
            assert code == textwrap.dedent(inspect.getsource(obj)).strip("\n"), f"{page.name}: {name}"
            checked += 1
    assert checked >= 100  # 54 per edition when this was written


def test_figures_are_numbered_and_references_become_text():
    page = ROOT / "book" / LANG / "04_cnn.md"
    text = page.read_text(encoding="utf-8")
    labels = list(dict.fromkeys(re.findall(r"```\{glue:figure\} (\S+)", text)))
    notebook = notebooks.chapter_notebook(page)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    captions = re.findall(r"^\*\*Figure (\d+)\.\*\* ", markdown, re.M)
    assert captions == [str(i) for i in range(1, len(labels) + 1)]
    # the first reference to the third figure placed on the page reads "Figure 3"
    third = labels[2]
    assert f"{{numref}}`{third}`" in text and "Figure 3" in markdown
    assert "(LeCun et al. 1998)" in markdown  # {footcite:p}`lecun1998gradient`: LeCun, Bottou, Bengio, Haffner
    references = markdown[markdown.rindex("## References"):]
    assert "Gradient-based learning applied to document recognition" in references


def test_write_notebooks_writes_one_file_per_chapter(tmp_path):
    written = notebooks.write_notebooks(ROOT / "book", "zh", tmp_path)
    assert [p.name for p in written] == [f"{p.stem}.ipynb" for p in notebooks.chapter_pages(ROOT / "book", "zh")]
    again = notebooks.write_notebooks(ROOT / "book", "zh", tmp_path / "again")
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in again]  # deterministic
    assert nbformat.read(written[1], as_version=4).cells[1].source.startswith("# 1.")


# -- one chapter, executed against the installed wheel ------------------------------------------------
@pytest.mark.slow
def test_a_chapter_notebook_runs_against_a_clean_install(tmp_path):
    """The wheel plus its runtime closure plus ipykernel's (what a reader has after
    ``pip install dlbook`` in Jupyter), the kernel started in a temporary folder outside the repository."""
    import json
    import os

    from nbclient import NotebookClient
    from test_packaging import build_release, clean_environment

    import dlbook

    wheel, _ = build_release(tmp_path)
    python, site = clean_environment(tmp_path, wheel, also=("ipykernel",))
    kernels = tmp_path / "jupyter" / "kernels" / "clean"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clean dlbook", "language": "python"}))
    work = tmp_path / "work"
    work.mkdir()

    notebook = notebooks.chapter_notebook(ROOT / "book" / LANG / f"{CHAPTER}.md")
    n_cells = len(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell("import dlbook; print(dlbook.__file__, dlbook.__version__)"))
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment.update(JUPYTER_PATH=str(tmp_path / "jupyter"), DLBOOK_CACHE_DIR=str(tmp_path / "cache"),
                       MPLBACKEND="module://matplotlib_inline.backend_inline")
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)  # the kernel process inherits this environment
    try:
        NotebookClient(notebook, kernel_name="clean", timeout=900, resources={"metadata": {"path": str(work)}}
                       ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)

    code = [c for c in notebook.cells[:n_cells] if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "a cell did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[:1]
    printed = lambda cell: "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")  # noqa: E731
    checks = [c for c in code if "hide-input" in c.metadata.get("tags", [])]
    assert checks and all(re.search(r"^✓ ", printed(c), re.M) for c in checks), \
        [printed(c)[-300:] for c in checks if not re.search(r"^✓ ", printed(c), re.M)][:3]
    shown = printed(notebook.cells[-1]).split()
    assert shown == [str(site / "dlbook" / "__init__.py"), dlbook.__version__]
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.outputs), "no figure was shown"
