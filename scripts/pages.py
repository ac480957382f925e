"""Read and run the book's MyST pages without Sphinx: for tests and for writing chapters.

    python scripts/pages.py book/zh/01_basics.md   # execute every code cell, fail on the first error
"""

from __future__ import annotations

import json
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


def numbered_chapters(lang: str) -> list[Path]:
    """The chapters proper (01-09): not the preface (00) and not the appendices and back matter (10 on),
    which teach nothing new (performance, errata, glossary, index, bibliography)."""
    return [page for page in chapter_pages(lang) if 1 <= int(page.name[:2]) <= 9]


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
                 "{glue:figure}", "{figure}", "{hint}", "{seealso}", "{attention}", "{caution}",
                 "{erratum}")
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
    text = re.sub(r"\{dfn\}`([^`]*)`", r"\1", text)  # a term where it is introduced is prose
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


def execute(page: Path, env: dict | None = None, timeout: float = 1800,
            runner: PageRunner | None = None) -> subprocess.CompletedProcess:
    """Run a page's code cells in a fresh interpreter, in the page's folder, as the build would
    (in a child of ``runner`` when one is given: the same, without importing torch & co. each time)."""
    page = Path(page).resolve()
    env = {"DLBOOK_BOOK_BUILD": "1", **(env or {})}  # figures are glued, as in the build
    with tempfile.NamedTemporaryFile("w", prefix="dlbook-page-", suffix=".py", delete=False,
                                     encoding="utf-8") as f:
        f.write(as_script(page))
    try:
        if runner is not None:
            return runner.run(f.name, cwd=page.parent, env=env, timeout=timeout)
        return subprocess.run([sys.executable, f.name], cwd=page.parent, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})})
    finally:
        os.unlink(f.name)


def execute_with_library_copy(page: Path, workdir: Path, mutation: tuple[str, str, str] | None = None,
                              timeout: float = 1800, runner: PageRunner | None = None
                              ) -> subprocess.CompletedProcess:
    """Run a page against a copy of dlbook in ``workdir``, optionally with one edit made to it.

    ``mutation`` is (path inside the package, old text, new text); the old text must occur
    exactly once. The copy shadows the installed package through PYTHONPATH, and the result
    cache is off, so the page really recomputes everything with the copy. The copy keeps the
    compiled modules (their source is unchanged) except the edited one's, which is recompiled.
    """
    import shutil

    copy = Path(workdir) / "lib" / "dlbook"
    shutil.copytree(ROOT / "dlbook", copy)  # copy2 keeps the mtimes that the .pyc files are checked against
    if mutation:
        relative, old, new = mutation
        source = (copy / relative).read_text(encoding="utf-8")
        if source.count(old) != 1:
            raise ValueError(f"mutation target must occur once in {relative}, found {source.count(old)}: {old!r}")
        (copy / relative).write_text(source.replace(old, new), encoding="utf-8")
        edited = copy / relative
        for compiled in (edited.parent / "__pycache__").glob(f"{edited.stem}.*.pyc"):
            compiled.unlink()
    return execute(page, env={"PYTHONPATH": str(copy.parent), "DLBOOK_CACHE_DIR": "off"}, timeout=timeout,
                   runner=runner)


#: third-party modules that the pages and dlbook import, loaded once by a PageRunner (about 3 s a
#: run saved); never dlbook, which each run imports afresh from the PYTHONPATH it is given
PRELOADED = ("numpy", "scipy.signal", "scipy.special", "scipy.stats", "sympy", "torch", "torch.nn.functional",
             "torch.utils.flop_counter", "matplotlib.pyplot", "matplotlib.patches", "sklearn.datasets",
             "sklearn.model_selection", "sklearn.neighbors", "skimage.feature", "IPython.display", "tqdm.auto",
             "threadpoolctl")

#: a PageRunner's runs use one OpenMP/BLAS thread (torch takes OMP_NUM_THREADS as its thread count):
#: two runs side by side on two cores do not oversubscribe them
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class PageRunner:
    """Runs page scripts as a fresh ``python script.py`` would, in children forked from one process
    that has imported PRELOADED (with ONE_THREAD) and nothing of dlbook.

    A child gets the script's folder and the given PYTHONPATH at the front of ``sys.path``, the
    other ``env`` entries in ``os.environ``, the working folder ``cwd`` and its own stdout and
    stderr; an uncaught exception prints its traceback and exits with 1, as the interpreter does
    (atexit handlers do not run). Runs are one at a time; use one runner per test process.
    """

    def __init__(self):
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | ONE_THREAD
        self._process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if self._process.stdout.readline() != "ready\n":
            self.close()
            raise RuntimeError("the page runner did not start (see its error above)")

    def run(self, script: str | Path, cwd: str | Path, env: dict | None = None,
            timeout: float = 1800) -> subprocess.CompletedProcess:
        """Like ``subprocess.run([python, script], cwd=cwd, env=os.environ | env, capture_output=True,
        text=True, timeout=timeout)``; the thread variables in ONE_THREAD cannot be changed."""
        args = [sys.executable, str(script)]
        with tempfile.TemporaryDirectory(prefix="dlbook-run-") as folder:
            request = {"script": str(Path(cwd, script)), "cwd": str(cwd), "env": dict(env or {}),
                       "stdout": str(Path(folder) / "stdout"), "stderr": str(Path(folder) / "stderr"),
                       "timeout": timeout}
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"the page runner exited (status {self._process.wait()})")
            reply = json.loads(line)
            stdout, stderr = (Path(request[name]).read_text(encoding="utf-8", errors="replace")
                              for name in ("stdout", "stderr"))
        if reply["timed_out"]:
            raise subprocess.TimeoutExpired(args, timeout, output=stdout, stderr=stderr)
        return subprocess.CompletedProcess(args, reply["returncode"], stdout, stderr)

    def close(self) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> PageRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    """A PageRunner's process: preload, then for each request on stdin fork a child to run it,
    wait for it (killing it past its timeout) and answer its exit status on stdout."""
    import importlib
    import select
    import signal

    import matplotlib

    matplotlib.use("Agg")
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:  # a run that needs it fails on importing it, as it would without a runner
            pass
    if any(name == "dlbook" or name.startswith("dlbook.") for name in sys.modules):
        raise RuntimeError("a preloaded module imported dlbook: the runs would not use the library they are given")
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_forked(request)
        finished = os.pidfd_open(pid)
        timed_out = not select.select([finished], [], [], request["timeout"])[0]
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(finished)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}), flush=True)


def _run_forked(request: dict) -> None:
    """In the forked child: become ``python script`` with the request's folder, environment and
    output files, run the script, and exit (never returns)."""
    import runpy

    status = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        os.chdir(request["cwd"])
        env = dict(request["env"])
        paths = [p for p in env.pop("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ.update(env)
        sys.path[0:1] = [str(Path(request["script"]).parent), *paths]  # the runner's [0] is scripts/
        sys.argv = [request["script"]]
        runpy.run_path(request["script"], run_name="__main__")
        status = 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            status = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
    except BaseException as error:
        frames = error.__traceback__  # from the script's first frame on, as the interpreter prints it
        while frames is not None and frames.tb_frame.f_code.co_filename != request["script"]:
            frames = frames.tb_next
        error.with_traceback(frames or error.__traceback__)  # the hook prints the exception's own
        sys.excepthook(type(error), error, error.__traceback__)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


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


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
elif __name__ == "__main__":
    status = 0
    for arg in sys.argv[1:]:
        result = execute(Path(arg))
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        print(f"{arg}: {'ok' if result.returncode == 0 else 'FAILED'}")
        status |= result.returncode
    sys.exit(status)
