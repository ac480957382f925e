"""pyproject.toml: ranges not pins, the book toolchain only behind an extra, a single version; the
release that ``python -m build`` makes (an sdist that is the package's source, a wheel without the book's
tooling); and a clean install of the wheel provides the ``dlbook`` command and the exercises."""

import email
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import dlbook

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _names(requirements):
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_runtime_dependencies_are_ranges_without_the_book_toolchain():
    deps = PROJECT["dependencies"]
    assert {"numpy", "sympy", "torch", "matplotlib"} <= _names(deps)
    assert not any("==" in d for d in deps), f"pinned runtime dependency in {deps}"
    assert not _names(deps) & {"jupyter-book", "myst-nb", "sphinx", "pytest"}


def test_extras():
    extras = PROJECT["optional-dependencies"]
    assert "jupyter-book>=1.0.4,<2" in extras["book"]
    assert {"pytest", "pytest-xdist", "hypothesis"} <= _names(extras["test"])  # scripts/test.sh runs pytest -n
    # chapter 7 reads gensim's packaged data and compares with its Word2Vec: the book and the tests need it,
    # the core package does not
    assert "gensim" in _names(extras["book"]) and "gensim" in _names(extras["test"])
    assert "gensim" not in _names(PROJECT["dependencies"])
    # chapter 8 checks its Keras-style Dense against Keras itself (torch backend): same split
    assert "keras" in _names(extras["book"]) and "keras" in _names(extras["test"])
    assert "keras" not in _names(PROJECT["dependencies"])


def test_version_and_python():
    assert re.fullmatch(r"\d+\.\d+\.\d+", dlbook.__version__)
    assert PROJECT["requires-python"] == ">=3.10"


def test_the_dlbook_command_is_declared():
    from dlbook.cli import main

    assert PROJECT["scripts"] == {"dlbook": "dlbook.cli:main"}
    assert callable(main)


# -- a clean install: the wheel and its runtime dependencies, nothing else --------------------------
def _runtime_closure(requirements: list[str]) -> list:
    """The installed distributions that ``requirements`` need, transitively, without any extra
    (markers evaluated for this interpreter); fails if one is missing here."""
    import importlib.metadata

    from packaging.requirements import Requirement

    seen, todo, found = set(), list(requirements), []
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{req} is a runtime dependency but is not installed in {sys.prefix}")
        assert dist.version in req.specifier or not req.specifier, f"{req}: installed {dist.version}"
        found.append(dist)
        todo.extend(dist.requires or [])
    return found


def _link_into(site: Path, dists) -> None:
    """Make ``dists`` importable in another environment by linking their top-level files."""
    for dist in dists:
        home = Path(dist.locate_file(""))
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            if (home / top).exists() and not (site / top).exists():
                (site / top).symlink_to(home / top)


# -- the release: `python -m build` on a copy of the sources ------------------------------------------
#: the book's toolchain: none of it may be a runtime requirement of the package
BOOK_TOOLING = {"jupyter-book", "myst-nb", "myst-parser", "sphinx", "jupytext", "selenium", "ipykernel",
                "ipywidgets", "jupyter", "notebook", "nbclient", "nbformat", "jieba", "sphinx-mathjax-offline",
                "sphinxcontrib-bibtex", "pytest", "hypothesis", "gensim", "keras"}


def _run(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def _pip(*args) -> subprocess.CompletedProcess:
    return _run(sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args)


def build_release(folder: Path) -> tuple[Path, Path]:
    """The wheel and the sdist that ``python -m build`` makes from a copy of the repository's sources
    (the build writes build/ and *.egg-info next to them). The copy holds tests/, book/ and scripts/
    too, so that what the sdist leaves out is left out by the packaging settings, not by the copy."""
    source, dist = folder / "source", folder / "dist"
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "_build", "*.egg-info")
    for name in ("dlbook", "tests", "book", "scripts"):
        shutil.copytree(ROOT / name, source / name, ignore=junk)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "_toc.yml", "_config.yml"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source)
    built = _run(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(dist),
                 str(source))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("dlbook-*.whl")
    (sdist,) = dist.glob("dlbook-*.tar.gz")
    return wheel, sdist


def clean_environment(folder: Path, wheel: Path, also: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A new venv holding the wheel and what its metadata requires, plus the distributions ``also``
    names with their closures (linked from this environment, so nothing downloads): its python and
    its site-packages."""
    env = folder / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    installed = _pip("--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    _link_into(site, _runtime_closure(_wheel_metadata(wheel).get_all("Requires-Dist") + list(also)))
    return python, site


def _wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


@dataclass
class Release:
    wheel: Path
    sdist: Path
    python: Path  # the clean environment's interpreter
    site: Path
    folder: Path

    def dlbook(self, *args, module: bool = False) -> subprocess.CompletedProcess:
        """Run the installed command (or ``python -m dlbook``) in a folder outside the repository."""
        command = [str(self.python), "-m", "dlbook"] if module else [str(self.python.parent / "dlbook")]
        return _run(*command, *args, cwd=self.folder, env=_outside_env())


def _outside_env() -> dict:
    """This process's environment without anything that would put the repository's dlbook on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    folder = tmp_path_factory.mktemp("release")
    wheel, sdist = build_release(folder)
    python, site = clean_environment(folder, wheel)
    work = folder / "work"
    work.mkdir()
    return Release(wheel, sdist, python, site, work)


@pytest.mark.slow
def test_the_sdist_is_the_package_source(release):
    """pyproject.toml, README.md, LICENSE and every dlbook/**/*.py; not the book, its tests or its
    scripts (they need the whole repository and ship from git)."""
    with tarfile.open(release.sdist) as archive:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in archive.getnames() if len(Path(n).parts) > 1}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} <= names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dlbook").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sources <= names, f"missing from the sdist: {sorted(sources - names)[:10]}"
    leaked = sorted(n for n in names if n.split("/")[0] in ("tests", "book", "scripts", "_build")
                    or "__pycache__" in n or n.endswith(".pyc"))
    assert not leaked, f"the sdist holds {leaked[:10]}"
    assert (ROOT / "tests" / "test_packaging.py").exists()  # there was something to leave out


@pytest.mark.slow
def test_the_sdist_builds_the_same_wheel(release, tmp_path):
    """The sdist is complete: the wheel built from it holds the same files, byte for byte."""
    built = _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(release.sdist))
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (again,) = tmp_path.glob("dlbook-*.whl")
    with zipfile.ZipFile(release.wheel) as first, zipfile.ZipFile(again) as second:
        package = lambda archive: {n: archive.read(n) for n in archive.namelist() if n.startswith("dlbook/")}  # noqa: E731
        assert package(first) == package(second)


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_no_book_tooling(release):
    with zipfile.ZipFile(release.wheel) as archive:
        names = set(archive.namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dlbook").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)[:10]}"  # non-.py files too
    assert {n.split("/")[0] for n in names} == {"dlbook", f"dlbook-{dlbook.__version__}.dist-info"}, names
    assert f"dlbook-{dlbook.__version__}.dist-info/licenses/LICENSE" in names
    metadata = _wheel_metadata(release.wheel)
    assert metadata["Version"] == dlbook.__version__
    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert _names(required) == _names(PROJECT["dependencies"])
    assert not _names(required) & BOOK_TOOLING, required
    assert "jupytext" in _names(r for r in metadata.get_all("Requires-Dist") if 'extra == "book"' in r)


@pytest.mark.slow
def test_a_clean_install_provides_the_dlbook_command(release):
    """The wheel in a new venv that holds only what its metadata requires: ``dlbook info`` runs and
    reports this dlbook, and nothing of the test or book extras is importable there."""
    consistent = _pip("--python", str(release.python), "check")
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
    for extra in ("pytest", "myst_nb", "jupytext", "sphinx", "ipykernel", "gensim"):
        seen = _run(str(release.python), "-c", f"import {extra}", env=_outside_env())
        assert seen.returncode != 0, f"the clean environment sees {extra}"

    info = release.dlbook("info")
    assert info.returncode == 0, info.stderr[-3000:]
    assert f"dlbook: {dlbook.__version__} ({release.site / 'dlbook'})" in info.stdout, info.stdout
    import numpy
    import sympy
    import torch

    for line in (f"numpy: {numpy.__version__}", f"torch: {torch.__version__}", f"sympy: {sympy.__version__}",
                 "torch device: ", "scikit-learn data: "):
        assert line in info.stdout, info.stdout
    version = _run(str(release.python), "-c", "import importlib.metadata as m, dlbook; "
                   "print(dlbook.__version__, m.version('dlbook'), dlbook.__file__)",
                   cwd=release.folder, env=_outside_env())
    assert version.stdout.split() == [dlbook.__version__, dlbook.__version__,
                                      str(release.site / "dlbook" / "__init__.py")], version.stdout + version.stderr


#: one exercise of two chapters: a solution written here by hand, and one with the slip the checker names
EXERCISE_SOLUTIONS = {
    "linear_scores": (  # chapter 1
        "def linear_scores(X, W, b):\n    return X @ W.T + b\n",
        "def linear_scores(X, W, b):\n    return X @ W + b\n",
        {"en": "transposed weight", "zh": "转置"}),
    "conv_output_size": (  # chapter 4
        "def conv_output_size(size, kernel_size, stride=1, padding=0):\n"
        "    return (size + 2 * padding - kernel_size) // stride + 1\n",
        "def conv_output_size(size, kernel_size, stride=1, padding=0):\n"
        "    return (size + 2 * padding - kernel_size) // stride\n",
        {"en": "add 1", "zh": "加 1"}),
}


@pytest.mark.slow
def test_the_exercises_work_from_the_clean_install(release):
    listed = release.dlbook("list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    from dlbook import exercises

    chapters = set()
    for exercise_id, (good, bad, hints) in EXERCISE_SOLUTIONS.items():
        assert exercise_id in listed.stdout
        chapters.add(exercises.get(exercise_id).chapter)
        starter = release.dlbook("starter", exercise_id)
        assert starter.returncode == 0 and starter.stdout.startswith(f"def {exercise_id}("), starter.stdout
        assert starter.stdout.strip() == exercises.starter(exercise_id, lang="en").strip()
        (release.folder / "good.py").write_text(good)
        (release.folder / "bad.py").write_text(bad)
        passed = release.dlbook("check", exercise_id, "good.py")
        assert passed.returncode == 0 and "cases passed" in passed.stdout, passed.stdout + passed.stderr[-3000:]
        for lang, hint in hints.items():
            failed = release.dlbook("check", "--lang", lang, exercise_id, "bad.py", module=True)
            assert failed.returncode == 1 and hint in failed.stdout, failed.stdout + failed.stderr[-3000:]
    assert len(chapters) == 2
