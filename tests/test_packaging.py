"""pyproject.toml: ranges not pins, the book toolchain only behind an extra, a single version."""

import re
import tomllib
from pathlib import Path

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
    assert {"pytest", "hypothesis"} <= _names(extras["test"])


def test_version_and_python():
    assert re.fullmatch(r"\d+\.\d+\.\d+", dlbook.__version__)
    assert PROJECT["requires-python"] == ">=3.10"
