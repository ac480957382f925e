"""Read and run the book's MyST pages without Sphinx: for tests and for writing chapters.

    python scripts/pages.py book/zh/01_basics.md   # execute every code cell, fail on the first error
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
LANGS = ("zh", "en")

_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.S | re.M)
_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.S | re.M)
_HEADING = re.compile(r"^(#{1,6})\s+\S", re.M)


def chapter_pages(lang: str) -> list[Path]:
    """The pages of one language, in file-name order (chapters are numbered)."""
    return sorted((BOOK / lang).glob("*.md"))


def code_cells(page: Path) -> list[str]:
    """Source of each ``{code-cell}``, without its ``:option:`` lines."""
    cells = []
    for body in _CELL.findall(Path(page).read_text(encoding="utf-8")):
        lines = body.splitlines()
        while lines and lines[0].startswith(":"):
            lines.pop(0)
        cells.append("\n".join(lines).strip("\n"))
    return cells


def code_cell_tags(page: Path) -> list[list[str]]:
    """The ``:tags: [...]`` of each ``{code-cell}``, in order (an empty list for a cell without)."""
    tags = []
    for body in _CELL.findall(Path(page).read_text(encoding="utf-8")):
        found = []
        for line in body.splitlines():
            if not line.startswith(":"):
                break
            if line.startswith(":tags:"):
                found = [t.strip().strip("'\"") for t in line.split(":", 2)[2].strip().strip("[]").split(",")
                         if t.strip()]
        tags.append(found)
    return tags


def heading_levels(page: Path) -> list[int]:
    """The level of each heading in order, ignoring anything inside fenced blocks."""
    text = _FENCE.sub("", Path(page).read_text(encoding="utf-8"))
    text = re.sub(r"^---\n.*?\n---\n", "", text, count=1, flags=re.S)  # front matter
    return [len(m.group(1)) for m in _HEADING.finditer(text)]


#: fenced blocks whose body is prose (admonitions, figure captions, dropdowns); other fences are code
_PROSE_FENCES = ("{note}", "{warning}", "{tip}", "{important}", "{admonition}", "{dropdown}",
                 "{glue:figure}", "{figure}", "{hint}", "{seealso}", "{attention}", "{caution}")
_OPENING_FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})(\S*)")


def prose_sections(page: Path) -> list[str]:
    """The prose of each section (text before the first heading, then one entry per heading), with
    code, math, inline code, roles, HTML and link targets taken out. Admonitions and figure captions
    count as prose; code cells, literal includes and the bibliography do not."""
    text = re.sub(r"^---\n.*?\n---\n", "", Path(page).read_text(encoding="utf-8"), count=1, flags=re.S)
    sections, current, fence = [], [], None
    for line in text.splitlines():
        opening = _OPENING_FENCE.match(line)
        if fence is None and opening:
            fence = (opening.group(1), opening.group(2) in _PROSE_FENCES)
            continue
        if fence is not None:
            if line.strip() == fence[0]:
                fence = None
            elif fence[1] and not line.startswith(":"):
                current.append(line)
            continue
        if _HEADING.match(line):
            sections.append("\n".join(current))
            current = [line.lstrip("#").strip()]
            continue
        current.append(line)
    sections.append("\n".join(current))
    return [_strip_markup(section) for section in sections]


def _strip_markup(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$[^$\n]+\$", " ", text)
    text = re.sub(r"(\{[\w:-]+\})?`[^`]*`", " ", text)  # inline code and roles like {numref}`fig`
    text = re.sub(r"<[^>\n]+>", " ", text)  # HTML tags (the mirror link's text stays out below)
    text = re.sub(r"\]\([^)\s]*\)", "]", text)  # link targets
    text = text.replace("English version", " ").replace("中文版", " ")
    return text


def as_script(page: Path) -> str:
    cells = code_cells(page)
    parts = ["import matplotlib\nmatplotlib.use('Agg')\n"]
    for i, cell in enumerate(cells, 1):
        parts.append(f"# -- cell {i} --\n{cell}\n")
    return "\n".join(parts)


def execute(page: Path, env: dict | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a page's code cells in a fresh interpreter, in the page's folder, as the build would."""
    page = Path(page).resolve()
    with tempfile.NamedTemporaryFile("w", prefix="dlbook-page-", suffix=".py", delete=False,
                                     encoding="utf-8") as f:
        f.write(as_script(page))
    try:
        return subprocess.run([sys.executable, f.name], cwd=page.parent, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})})
    finally:
        os.unlink(f.name)


def execute_with_library_copy(page: Path, workdir: Path, mutation: tuple[str, str, str] | None = None,
                              timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a page against a copy of dlbook in ``workdir``, optionally with one edit made to it.

    ``mutation`` is (path inside the package, old text, new text); the old text must occur
    exactly once. The copy shadows the installed package through PYTHONPATH, and the result
    cache is off, so the page really recomputes everything with the copy.
    """
    import shutil

    copy = Path(workdir) / "lib" / "dlbook"
    shutil.copytree(ROOT / "dlbook", copy, ignore=shutil.ignore_patterns("__pycache__"))
    if mutation:
        relative, old, new = mutation
        source = (copy / relative).read_text(encoding="utf-8")
        if source.count(old) != 1:
            raise ValueError(f"mutation target must occur once in {relative}, found {source.count(old)}: {old!r}")
        (copy / relative).write_text(source.replace(old, new), encoding="utf-8")
    return execute(page, env={"PYTHONPATH": str(copy.parent), "DLBOOK_CACHE_DIR": "off"}, timeout=timeout)


#: exceptions a page's checks raise: asserts and dlbook's comparisons (MismatchError and
#: VerificationError are AssertionErrors)
CHECK_ERRORS = ("AssertionError", "MismatchError", "VerificationError")


def tripped_check(stderr: str) -> tuple[str, str]:
    """(the page line that raised, the exception line) from a failed page run's traceback.

    The page line is the last frame inside the page's own script, i.e. the check on the page
    (or the call on the page that led into the library).
    """
    lines = stderr.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if re.match(r'\s*File ".*dlbook-page-[^"]*\.py", line \d+', line)]
    page_line = lines[frames[-1] + 1].strip() if frames and frames[-1] + 1 < len(lines) else ""
    error = next((line for line in reversed(lines) if re.match(r"^[\w.]+(Error|Exception)\b", line)), "")
    return page_line, error


def caught_by_a_check(stderr: str) -> bool:
    """Whether a failed run ended in one of the page's checks (not a crash elsewhere)."""
    _, error = tripped_check(stderr)
    name = error.split(":", 1)[0].rsplit(".", 1)[-1]
    # ValueErrors that are checks refusing a result of the wrong shape: rel_error's, and the
    # calculus verifier's ("the gradient has shape ... but the variable has shape ...")
    refused_shape = name == "ValueError" and ("shapes differ" in error or "but the variable has shape" in error)
    return name in CHECK_ERRORS or refused_shape


if __name__ == "__main__":
    status = 0
    for arg in sys.argv[1:]:
        result = execute(Path(arg))
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        print(f"{arg}: {'ok' if result.returncode == 0 else 'FAILED'}")
        status |= result.returncode
    sys.exit(status)
