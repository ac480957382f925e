import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples on every run (a red CI is reproducible); locally, new ones each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # pages.py: the book's page reader


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


_MUTATIONS: list[tuple[str, str, str, str]] = []
_COVERAGE: dict[str, list[str]] = {}


@pytest.fixture
def mutation_report():
    """Where the broken-library test records (chapter, slip, page line that raised, error)."""
    return _MUTATIONS


@pytest.fixture
def coverage_report():
    """Where the broken-library test records, per chapter, the functions its slips cover."""
    return _COVERAGE


def pytest_terminal_summary(terminalreporter):
    """Per chapter: each slip and the check on the page that caught it."""
    if not (_MUTATIONS or _COVERAGE):
        return
    terminalreporter.section("broken-library report: the check each slip tripped")
    for chapter in sorted({c for c, *_ in _MUTATIONS} | set(_COVERAGE)):
        rows = [r for r in _MUTATIONS if r[0] == chapter]
        covered = _COVERAGE.get(chapter, [])
        terminalreporter.write_line(f"{chapter}: {len(rows)} slips; page coverage {len(covered)} functions: "
                                    + ", ".join(f.split(":")[1] for f in covered))
        for _, name, line, error in rows:
            terminalreporter.write_line(f"  {name[:44]:<44} <- {line[:60]}  [{error.split(':')[0][-20:]}]")
