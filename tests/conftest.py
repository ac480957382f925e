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


# The broken-library test's records travel as user properties of its test reports, so that they reach
# the summary from pytest-xdist's workers too (each worker is a process of its own; the controller
# that prints the summary receives every report).
SLIP, COVERED = "broken-library slip", "broken-library coverage"
_MUTATIONS: list[tuple[str, str, str, str]] = []
_COVERAGE: dict[str, list[str]] = {}


@pytest.fixture
def mutation_report(record_property):
    """``mutation_report(chapter, slip, page line that raised, error)`` records a slip for the summary."""
    return lambda chapter, name, line, error: record_property(SLIP, [chapter, name, line, error])


@pytest.fixture
def coverage_report(record_property):
    """``coverage_report(chapter, functions)`` records the functions a chapter's slips cover."""
    return lambda chapter, functions: record_property(COVERED, [chapter, list(functions)])


def pytest_runtest_logreport(report):
    """Collect the records (in the controller under xdist, which gets the workers' reports)."""
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == SLIP:
            _MUTATIONS.append(tuple(value))
        elif key == COVERED:
            _COVERAGE[value[0]] = list(value[1])


def pytest_terminal_summary(terminalreporter):
    """Per chapter: each slip and the check on the page that caught it."""
    if not (_MUTATIONS or _COVERAGE):
        return
    terminalreporter.section("broken-library report: the check each slip tripped")
    for chapter in sorted({c for c, *_ in _MUTATIONS} | set(_COVERAGE)):
        rows = sorted(r for r in _MUTATIONS if r[0] == chapter)  # the same order however the tests ran
        covered = _COVERAGE.get(chapter, [])
        terminalreporter.write_line(f"{chapter}: {len(rows)} slips; page coverage {len(covered)} functions: "
                                    + ", ".join(f.split(":")[1] for f in covered))
        for _, name, line, error in rows:
            terminalreporter.write_line(f"  {name[:44]:<44} <- {line[:60]}  [{error.split(':')[0][-20:]}]")


@pytest.fixture
def im2col_calls(monkeypatch):
    """Counts conv2d's calls to im2col (one per block of images and pass); the convolution
    fast-path tests use it to check which path a case took."""
    import dlbook.nn.functional.conv as conv
    from dlbook.nn.im2col import im2col

    calls = []

    def counting(x, geometry, fill=0.0):
        calls.append(x.shape[0])
        return im2col(x, geometry, fill)

    monkeypatch.setattr(conv, "im2col", counting)
    return calls
