"""Chapter 2 is a check: run against a deliberately broken copy of dlbook, the page must raise.

Each mutation is a plausible slip in a rule the chapter relies on (a lost transpose, a gradient that
passes where it should not). The intact copy must pass, so a failure is the mutation's doing.
"""

import shutil
from pathlib import Path

import pytest

import pages

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "zh" / "02_backprop.md"
pytestmark = pytest.mark.slow

MUTATIONS = {
    "Jacobi's formula without the transpose": (
        "calculus/matrix_form.py", "return sp.Determinant(X) * X.inv().T", "return sp.Determinant(X) * X.inv()"),
    "matrix-form atom rule transposed": (
        "calculus/matrix_form.py", "    return result\n\n\ndef _gradient", "    return result.T\n\n\ndef _gradient"),
    "chain rule uses G^T": ("calculus/chain.py", "return W.T * G\n", "return W.T * G.T\n"),
    "entrywise partials off by 0.01% off the diagonal": (
        "calculus/entrywise.py", "lambda i, j: sp.diff(f, X[i, j]))",
        "lambda i, j: sp.diff(f, X[i, j]) * (1 if i == j else sp.Rational(10001, 10000)))"),
    "ReLU backward lets every gradient through": (
        "backprop.py", "as torch does).\"\"\"\n    return dy * cache", "as torch does).\"\"\"\n    return dy"),
    "graph multiply gate does not swap its inputs": (
        "backprop.py", "lambda ins, out: (ins[1], ins[0])", "lambda ins, out: (ins[0], ins[1])"),
}


def _run_chapter_2_with(tmp_path: Path, mutation=None):
    copy = tmp_path / "lib" / "dlbook"
    shutil.copytree(ROOT / "dlbook", copy, ignore=shutil.ignore_patterns("__pycache__"))
    if mutation:
        relative, old, new = mutation
        source = (copy / relative).read_text(encoding="utf-8")
        assert source.count(old) == 1, f"mutation target not found once in {relative}: {old}"
        (copy / relative).write_text(source.replace(old, new), encoding="utf-8")
    env = {"PYTHONPATH": str(copy.parent), "DLBOOK_CACHE_DIR": "off"}
    return pages.execute(PAGE, env=env, timeout=600)


def test_chapter_2_passes_with_an_intact_copy_of_the_library(tmp_path):
    result = _run_chapter_2_with(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_chapter_2_fails_with_a_broken_library(tmp_path, name):
    result = _run_chapter_2_with(tmp_path, MUTATIONS[name])
    assert result.returncode != 0, f"chapter 2 did not notice: {name}"
    caught_by = ("AssertionError", "VerificationError", "has X's shape")  # a check on the page, not a crash
    assert any(reason in result.stderr for reason in caught_by), result.stderr[-2000:]
