"""Matrix Cookbook identities, each derived by sympy and checked numerically; a broken rule is caught."""

import pytest
import sympy as sp

from dlbook.calculus import IDENTITIES, VerificationError, matrix_form

NAMES = sorted(IDENTITIES)


def test_at_least_twelve_identities():
    assert len(IDENTITIES) >= 12


@pytest.mark.parametrize("name", NAMES)
def test_identity_derives_and_verifies(name):
    identity = IDENTITIES[name]
    derived = identity.derive()
    assert tuple(derived.shape) == tuple(identity.X.shape)
    result = identity.verify(seed=3)
    assert set(result.errors) == {"finite differences", "torch autograd", "entrywise sympy", "closed form"}
    assert result.errors["finite differences"] < 1e-7
    assert result.errors["closed form"] < 1e-9
    assert identity.latex().startswith(r"\frac{\partial}{\partial")


def _transposed(original):
    def wrong(atom, X):
        return original(atom, X).T
    return wrong


# every identity whose derivation goes through sympy's atom rule and whose answer is not symmetric
ATOM_NAMES = [n for n in NAMES if "det" not in n and n != "tr(X)"]


@pytest.mark.parametrize("name", ATOM_NAMES)
def test_transposing_the_atom_rule_is_caught(name, monkeypatch):
    monkeypatch.setattr(matrix_form, "_atom_gradient", _transposed(matrix_form._atom_gradient))
    identity = IDENTITIES[name]
    with pytest.raises((VerificationError, ValueError)):
        identity.verify(derivative=identity.derive())


@pytest.mark.parametrize("name", ["log det X", "det X"])
def test_forgetting_the_transpose_in_jacobi_formula_is_caught(name, monkeypatch):
    identity = IDENTITIES[name]
    monkeypatch.setattr(matrix_form, "det_gradient", lambda X: sp.Determinant(X) * X.inv())
    with pytest.raises(VerificationError):
        identity.verify()


def test_a_wrong_product_rule_is_caught(monkeypatch):
    X = sp.MatrixSymbol("X", 3, 2)
    A = sp.MatrixSymbol("A", 2, 3)
    f = sp.Trace(A * X) * sp.Trace(X.T * X)
    original = matrix_form._gradient

    def half_product_rule(e, X):  # keeps only the first term of the product rule
        if isinstance(e, sp.Mul) and not isinstance(e, sp.MatrixExpr):
            factors = [f for f in e.args if f.has(X)]
            rest = sp.Mul(*[f for f in e.args if f is not factors[0]])
            return rest * original(factors[0], X)
        return original(e, X)

    monkeypatch.setattr(matrix_form, "_gradient", half_product_rule)
    from dlbook.calculus import matrix_gradient, verify_gradient
    with pytest.raises(VerificationError):
        verify_gradient(f, X, matrix_gradient(f, X))
