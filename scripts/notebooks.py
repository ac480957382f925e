"""Each chapter as a Jupyter notebook to take home: runs against ``pip install dlbook``, outside the book.

    python scripts/notebooks.py en _build/html/en/_notebooks   # one <page-stem>.ipynb per chapter

A page is read with jupytext (its code cells, tags included, stay as they are: the hidden check cells
are the checks), and its markdown is made to read without Sphinx:

- ``{literalinclude}`` of dlbook code becomes a Python code block holding the included code;
- ``{glue:figure}`` becomes a numbered caption ("Figure 3."): outside a book build
  ``dlbook.plotting.figure`` shows the figure under the cell that draws it, just above;
- ``{numref}`fig-x``` becomes "Figure 3", ``{footcite:p}``/``{footcite:t}`` author-year text, and
  ``{footbibliography}`` the list of the works the page cites (from ``book/references.bib``);
- admonitions become quotes, dropdowns ``<details>``, other roles (``{dfn}``...) their text;
- the mirror link to the other edition and ``(label)=`` targets are dropped.

A first markdown cell says which chapter, edition and dlbook version the notebook is, and how to
install what it needs.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("zh", "en")

#: pages of the toc that are not chapters: generated back matter (scripts/backmatter.py)
BACK_MATTER = ("11_errata", "12_glossary", "13_index", "14_bibliography")
#: appendix timing this machine's kernels from book/data (repository files, not in the package):
#: it only makes sense inside the repository
REPOSITORY_ONLY = ("10_performance",)
#: what a chapter needs beyond ``pip install dlbook`` (imports of the page or of the dlbook code it runs)
EXTRA_PACKAGES = {"07_word2vec": ("gensim",), "08_practice": ("keras",)}

_WORDS = {
    "zh": {"figure": "图", "note": "注意", "warning": "警告", "tip": "提示", "erratum": "勘误",
           "and": "和", "et_al": "等", "references": "参考文献", "from": "摘自"},
    "en": {"figure": "Figure", "note": "Note", "warning": "Warning", "tip": "Tip", "erratum": "Erratum",
           "and": "and", "et_al": "et al.", "references": "References", "from": "From"},
}

# a fenced directive: ```{name} argument / :option: value lines / body / closing fence of the same length
_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
                        r"(?P<options>(?::[\w-]+:[^\n]*\n)*)(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
_ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<text>[^`]*)`")
_MIRROR_LINK = re.compile(r"^<a class=\"mirror-link\"[^\n]*</a>\n?", re.M)
_TARGET = re.compile(r"^\([\w:.-]+\)=[ \t]*\n", re.M)


# -- literalinclude ---------------------------------------------------------------------------------
def _options(block: str) -> dict[str, str]:
    found = {}
    for line in block.splitlines():
        name, _, value = line[1:].partition(":")
        found[name] = value.strip()
    return found


def python_object_source(path: Path, dotted: str) -> str:
    """The lines of ``dotted`` (``func`` or ``Class.method``) in the Python file ``path``, decorators
    included, as literalinclude's ``:pyobject:`` shows them (then dedented: a method reads as a def)."""
    source = Path(path).read_text(encoding="utf-8")
    body, node = ast.parse(source).body, None
    for part in dotted.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise ValueError(f"{path}: no function or class {dotted!r} (literalinclude :pyobject:)")
        body = node.body
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = source.splitlines()[start - 1:node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def included_code(page: Path, argument: str, options: dict[str, str]) -> str:
    """The text a ``{literalinclude}`` of ``page`` shows (the options the book's pages use)."""
    path = (Path(page).parent / argument.strip()).resolve()
    known = {"pyobject", "language", "lines", "start-after", "end-before", "dedent", "caption", "name",
             "emphasize-lines", "linenos"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"{page}: literalinclude of {argument} uses options {sorted(unknown)}; "
                         f"scripts/notebooks.py handles {sorted(known)}")
    if "pyobject" in options:
        text = python_object_source(path, options["pyobject"])
    else:
        text = path.read_text(encoding="utf-8")
    if "lines" in options:  # "3-8" or "1,4-6" (1-based, inclusive), as Sphinx
        lines, chosen = text.splitlines(), []
        for span in options["lines"].split(","):
            first, _, last = span.strip().partition("-")
            chosen.extend(lines[int(first) - 1:int(last or first)])
        text = "\n".join(chosen)
    if "start-after" in options:
        text = text.split(options["start-after"], 1)[1].split("\n", 1)[1]
    if "end-before" in options:
        text = text.split(options["end-before"], 1)[0].rsplit("\n", 1)[0]
    if "dedent" in options:
        text = textwrap.dedent(text)
    return text.strip("\n")


# -- citations ----------------------------------------------------------------------------------------
def read_bibliography(path: Path = ROOT / "book" / "references.bib") -> dict[str, dict[str, str]]:
    """``key -> {field: value}`` for each entry of a BibTeX file written one field per line."""
    entries = {}
    for match in re.finditer(r"^@\w+\{([^,\s]+),\n(.*?)^\}", Path(path).read_text(encoding="utf-8"),
                             re.S | re.M):
        fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\},?\s*$", match.group(2), re.M))
        entries[match.group(1)] = {k.lower(): _plain(v) for k, v in fields.items()}
    return entries


def _authors(entry: dict[str, str], lang: str) -> str:
    surnames = [name.split(",")[0].strip() for name in entry.get("author", "?").split(" and ")]
    if len(surnames) > 2:
        return f"{surnames[0]} {_WORDS[lang]['et_al']}"
    return f" {_WORDS[lang]['and']} ".join(surnames)


def _cite(role: str, keys: str, bibliography: dict, lang: str, cited: list[str]) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bibliography:
            raise ValueError(f"citation key {key!r} is not in book/references.bib")
        if key not in cited:
            cited.append(key)
        entry = bibliography[key]
        year, comma = entry.get("year", "n.d."), "，" if lang == "zh" else " "
        parts.append(f"{_authors(entry, lang)} ({year})" if role == "footcite:t"
                     else f"{_authors(entry, lang)}{comma}{year}")
    if role == "footcite:t":
        return "; ".join(parts)
    return f"（{'；'.join(parts)}）" if lang == "zh" else f"({'; '.join(parts)})"


_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", "c": "\u0327",
            "v": "\u030c", "r": "\u030a", "u": "\u0306", "H": "\u030b"}
_LETTERS = {"L": "Ł", "l": "ł", "O": "Ø", "o": "ø", "ss": "ß"}


def _plain(text: str) -> str:
    """BibTeX text as plain Unicode: accents (\\'e, \\"o) composed, braces dropped."""
    import unicodedata

    accent = r"\\(['`\"^~]|[cvruH](?=[{\w]))\{?(\w)\}?"
    text = re.sub(accent, lambda m: m.group(2) + _ACCENTS[m.group(1)], text)
    letter = r"\{?\\(ss|[LlOo])\b\}?|\\(ss|[LlOo])(?=[a-z])"
    text = re.sub(letter, lambda m: _LETTERS[m.group(1) or m.group(2)], text)
    return unicodedata.normalize("NFC", text.replace("{", "").replace("}", ""))


def _reference(entry: dict[str, str]) -> str:
    names = [" ".join(reversed([p.strip() for p in name.split(",", 1)]))
             for name in entry.get("author", "").split(" and ")]
    where = entry.get("journal") or entry.get("booktitle") or entry.get("publisher") \
        or entry.get("howpublished") or entry.get("institution") or ""
    link = entry.get("url") or (f"https://doi.org/{entry['doi']}" if "doi" in entry else "")
    text = f"{', '.join(names)}. *{entry.get('title', '')}*."
    text += f" {where}," if where else ""
    text += f" {entry.get('year', '')}."
    return text + (f" <{link}>" if link else "")


# -- one page -------------------------------------------------------------------------------------------
def _figure_numbers(text: str) -> dict[str, int]:
    """Figures are numbered per page in the order they are placed, as the book does."""
    numbers = {}
    for match in _DIRECTIVE.finditer(text):
        if match.group("name") in ("glue:figure", "figure"):
            label = _options(match.group("options")).get("name") or match.group("arg").strip()
            numbers.setdefault(label, len(numbers) + 1)
    return numbers


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip("\n").splitlines())


def markdown_for_notebook(text: str, page: Path, lang: str, figures: dict[str, int],
                          bibliography: dict, cited: list[str]) -> str:
    """One markdown cell of ``page`` rewritten to read in Jupyter (``cited`` collects citation keys)."""
    words = _WORDS[lang]

    def directive(match: re.Match) -> str:
        name, arg = match.group("name"), match.group("arg").strip()
        options, body = _options(match.group("options")), match.group("body")
        if name == "literalinclude":
            where = Path(arg).as_posix().lstrip("./")
            shown = f"`{where}`" + (f", `{options['pyobject']}`" if "pyobject" in options else "")
            code = included_code(page, arg, options)
            return f"*{words['from']} {shown}:*\n\n```{options.get('language', 'python')}\n{code}\n```"
        if name in ("glue:figure", "figure"):
            label = options.get("name") or arg
            caption = body.strip().replace("\n", " ")
            return f"**{words['figure']} {figures[label]}.** {caption}"
        if name == "footbibliography":
            return "\n".join(f"{i}. {_reference(bibliography[key])}" for i, key in enumerate(cited, 1))
        if name == "dropdown":
            inner = _DIRECTIVE.sub(directive, body).strip("\n")
            return f"<details><summary>{arg or words['tip']}</summary>\n\n{inner}\n\n</details>"
        title = arg or words.get(name, name.capitalize())
        return _quote(f"**{title}.** {_DIRECTIVE.sub(directive, body).strip()}")

    def role(match: re.Match) -> str:
        name, inner = match.group("name"), match.group("text")
        if name == "numref":
            explicit = re.fullmatch(r"(.*?)\s*<([^>]+)>", inner)
            label = explicit.group(2) if explicit else inner
            if label not in figures:
                raise ValueError(f"{page}: {{numref}} to {label!r}, not a figure placed on this page")
            return explicit.group(1).replace("%s", str(figures[label])) if explicit \
                else f"{words['figure']} {figures[label]}"
        if name in ("footcite:p", "footcite:t", "footcite", "cite:p", "cite:t", "cite"):
            style = "footcite:t" if name.endswith(":t") else "footcite:p"
            return _cite(style, inner, bibliography, lang, cited)
        if name == "dfn":
            return f"**{inner}**"
        return re.sub(r"\s*<[^>]+>$", "", inner)  # {doc}`text <target>` and the like: the text

    text = _MIRROR_LINK.sub("", text)
    text = _TARGET.sub("", text)
    text = _ROLE.sub(role, text)  # before the directives: a figure caption may cite
    return _DIRECTIVE.sub(directive, text).strip("\n")


def _intro(page: Path, lang: str, title: str) -> str:
    import dlbook

    version = dlbook.__version__
    extras = " ".join(EXTRA_PACKAGES.get(page.stem, ()))
    install = f"pip install dlbook=={version}" + (f" {extras}" if extras else "")
    source = f"book/{lang}/{page.name}"
    if lang == "zh":
        return (f"**{title}**：dlbook 中文版的一章，由 `{source}` 生成，对应 dlbook {version}。\n\n"
                f"运行前先安装 PyTorch（要用 GPU 就装 CUDA 版，见 <https://pytorch.org/get-started/>），"
                f"再安装本书的包：\n\n```bash\n{install}\n```\n\n"
                "然后从头依次运行全部单元格。带 `hide-input` 标签的单元格是检查：它们断言正文所说的结论，"
                "并各打印一行以 ✓ 开头的结果。")
    return (f"**{title}**: a chapter of dlbook's English edition, generated from `{source}` for dlbook "
            f"{version}.\n\nTo run it, install PyTorch first (the CUDA build if you want a GPU, see "
            f"<https://pytorch.org/get-started/>), then the book's package:\n\n```bash\n{install}\n```\n\n"
            "and run all cells from the top. The cells tagged `hide-input` are the checks: they assert "
            "what the text states, and each prints a line starting with ✓.")


def chapter_notebook(page: Path, bibliography: dict | None = None) -> nbformat.NotebookNode:
    """The MyST page ``page`` (``book/<lang>/NN_slug.md``) as a notebook that runs outside the book."""
    page = Path(page).resolve()
    lang = page.parent.name
    if lang not in LANGS:
        raise ValueError(f"a chapter page lives in book/zh/ or book/en/, got {page}")
    if bibliography is None:
        bibliography = read_bibliography(page.parents[1] / "references.bib")
    text = page.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")
    figures, cited = _figure_numbers(text), []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_for_notebook(cell.source, page, lang, figures, bibliography, cited)
    notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]
    title = next((line.lstrip("# ").strip() for c in notebook.cells if c.cell_type == "markdown"
                  for line in c.source.splitlines() if line.startswith("# ")), page.stem)
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(_intro(page, lang, title)))
    notebook.metadata = nbformat.from_dict({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook = nbformat.v4.upgrade(notebook) if notebook.nbformat < 4 else notebook
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{page.stem}-{index}"  # stable ids: two builds write the same file
    nbformat.validate(notebook)
    return notebook


def chapter_pages(book_root: Path, lang: str) -> list[Path]:
    """The chapter pages of ``lang`` in ``_toc.yml`` order, without back matter and repository-only pages."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    book_root = Path(book_root)
    toc = (book_root.parent / "_toc.yml").read_text(encoding="utf-8")
    files = re.findall(rf"^\s*-\s*file:\s*book/{lang}/(\S+)\s*$", toc, re.M)
    pages = [book_root / lang / f"{stem}.md" for stem in files
             if stem not in BACK_MATTER and stem not in REPOSITORY_ONLY]
    missing = [p for p in pages if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"_toc.yml lists pages that do not exist: {missing}")
    return pages


def write_notebooks(book_root: Path, lang: str, out_dir: Path) -> list[Path]:
    """Write ``<page-stem>.ipynb`` into ``out_dir`` for each chapter page of ``lang``; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bibliography = read_bibliography(Path(book_root) / "references.bib")
    written = []
    for page in chapter_pages(book_root, lang):
        target = out_dir / f"{page.stem}.ipynb"
        nbformat.write(chapter_notebook(page, bibliography), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lang", choices=LANGS)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    for path in write_notebooks(ROOT / "book", args.lang, args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
