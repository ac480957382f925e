"""The package's layers: the library never imports chapter code, and each concept has one home."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dlbook"
#: what each layer may not import (the layers above it)
FORBIDDEN = {"library": ("dlbook.models", "dlbook.experiments"), "models": ("dlbook.experiments",)}


def _layer(path: Path) -> str:
    part = path.relative_to(PACKAGE).parts[0]
    return part if part in ("models", "experiments") else "library"


def _imported_modules(source: str, where: Path) -> set[str]:
    """Absolute names of every module a file at ``where`` imports, relative imports resolved."""
    package = ["dlbook", *where.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path):
    forbidden = FORBIDDEN.get(_layer(path), ())
    bad = sorted(name for name in _imported_modules(path.read_text(encoding="utf-8"), path)
                 if any(name == f or name.startswith(f + ".") for f in forbidden))
    assert not bad, f"{path.relative_to(PACKAGE)} ({_layer(path)}) imports {bad}"


def test_the_check_resolves_relative_imports():
    where = PACKAGE / "nn" / "functional" / "loss.py"
    names = _imported_modules("from ...experiments import basics\nfrom ..module import Module\n", where)
    assert "dlbook.experiments" in names and "dlbook.nn.module" in names


def test_every_concept_has_one_home():
    """Definitions that were once written twice are defined once."""
    definitions: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                definitions.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    # (chapter 2's cs231n-style linear_forward/linear_backward are wrappers that show the caches
    # and call nn.functional.linear/linear_backward; the names repeat, the arithmetic does not)
    for name in ("WindowGeometry", "numerical_gradient", "default_uniform_", "fit", "evaluate", "History",
                 "calculate_fan_in_and_fan_out", "pair", "conv_output_size"):
        assert len(definitions.get(name, [])) == 1, (name, definitions.get(name))
    assert "finite_difference_gradient" not in definitions
    assert not (PACKAGE / "linear.py").exists()  # one linear.py (nn/), not two meaning different things
