"""pyproject.toml: ranges not pins, the book toolchain only behind an extra, a single version;
and a clean install from the package metadata provides the ``dlbook`` command."""

import re
import sys
import tomllib
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


@pytest.mark.slow
def test_a_clean_install_provides_the_dlbook_command(tmp_path):
    """Build the wheel, install it into a new venv that holds only what its metadata requires
    (linked from this environment, so no download), and run ``dlbook info`` and ``dlbook check``."""
    import email
    import shutil
    import subprocess
    import venv
    import zipfile

    source = tmp_path / "source"  # a copy: the build writes build/ and *.egg-info next to the sources
    shutil.copytree(ROOT / "dlbook", source / "dlbook", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run = lambda *cmd, **kw: subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # noqa: E731
    built = run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(source))
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = tmp_path.glob("dlbook-*.whl")

    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    installed = run(*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(archive.read(f"dlbook-{dlbook.__version__}.dist-info/METADATA"))
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    _link_into(site, _runtime_closure(metadata.get_all("Requires-Dist")))

    consistent = run(*pip, "--python", str(python), "check")
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
    no_extras = run(str(python), "-c", "import pytest")
    assert no_extras.returncode != 0, "the clean environment sees the test extra"

    dlbook_command = env / "bin" / "dlbook"
    info = run(str(dlbook_command), "info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr[-3000:]
    assert f"dlbook: {dlbook.__version__} ({site / 'dlbook'})" in info.stdout, info.stdout
    import numpy
    import sympy
    import torch

    for line in (f"numpy: {numpy.__version__}", f"torch: {torch.__version__}", f"sympy: {sympy.__version__}",
                 "torch device: ", "scikit-learn data: "):
        assert line in info.stdout, info.stdout
    (tmp_path / "good.py").write_text("def conv_output_size(size, kernel_size, stride=1, padding=0):\n"
                                      "    return (size + 2 * padding - kernel_size) // stride + 1\n")
    (tmp_path / "bad.py").write_text("def conv_output_size(size, kernel_size, stride=1, padding=0):\n"
                                     "    return (size + 2 * padding - kernel_size) // stride\n")
    good = run(str(dlbook_command), "check", "conv_output_size", "good.py", cwd=tmp_path)
    assert good.returncode == 0 and "all 20 cases passed" in good.stdout, good.stdout + good.stderr[-3000:]
    bad = run(str(python), "-m", "dlbook", "check", "conv_output_size", "bad.py", cwd=tmp_path)
    assert bad.returncode == 1 and "add 1" in bad.stdout, bad.stdout + bad.stderr[-3000:]

