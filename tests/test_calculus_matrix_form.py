"""Matrix-form gradients (dlbook.calculus.matrix_form)."""

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from dlbook.calculus import UnsupportedExpressionError, explicit, matrix_gradient, symbol_matrix, verify_gradient

X = sp.MatrixSymbol("X", 3, 2)
A = sp.MatrixSymbol("A", 2, 3)
S = sp.MatrixSymbol("S", 3, 3)
a, b = sp.MatrixSymbol("a", 3, 1), sp.MatrixSymbol("b", 2, 1)


@settings(max_examples=8, deadline=None)
@given(c1=st.integers(-3, 3), c2=st.integers(-5, 5), k=st.integers(1, 3), seed=st.integers(0, 1000))
def test_scalar_algebra_around_traces(c1, c2, k, seed):
    # sums with constants, products and powers of traces: where sympy 1.14's own .diff() returns 0
    f = c1 * sp.Trace(X.T * X) + c2 + sp.Trace(A * X) ** k + sp.Trace(A * X) * sp.Trace(a.T * X * b)
    g = matrix_gradient(f, X)
    assert tuple(g.shape) == (3, 2)
    verify_gradient(f, X, g, seed=seed)


@pytest.mark.parametrize("f", [sp.exp(sp.Trace(A * X)), sp.log(1 + sp.Trace(X.T * X)), sp.sqrt(sp.Trace(X.T * X)),
                               1 / (1 + sp.Trace(X.T * X)), sp.sin(sp.Trace(A * X))])
def test_chain_rule_through_smooth_functions(f):
    verify_gradient(f, X, matrix_gradient(f, X))


def test_function_without_x_has_zero_gradient():
    assert matrix_gradient(sp.Trace(S), X) == sp.ZeroMatrix(3, 2)


def test_errors():
    with pytest.raises(TypeError, match="MatrixSymbol"):
        matrix_gradient(sp.Trace(S), symbol_matrix("x", 3, 3))
    with pytest.raises(ValueError, match="scalar"):
        matrix_gradient(X.T * X, X)
    with pytest.raises(TypeError, match="scalar sympy expression"):
        matrix_gradient(lambda x: x, X)
    with pytest.raises(UnsupportedExpressionError, match=r"\[0, 0\]"):
        matrix_gradient((a.T * X * b)[0, 0], X)
    with pytest.raises(UnsupportedExpressionError, match="exponent"):
        matrix_gradient(sp.Trace(A * X) ** sp.Trace(A * X), X)
    with pytest.raises(UnsupportedExpressionError, match="det"):
        matrix_gradient(sp.log(sp.Determinant(S.T * S)), S)
    with pytest.raises(UnsupportedExpressionError):
        matrix_gradient(sp.Trace(sp.HadamardProduct(S, S)), S)
    assert issubclass(UnsupportedExpressionError, ValueError)


def test_explicit_writes_expressions_out_in_their_entries():
    T = sp.MatrixSymbol("T", 2, 2)
    value, entries = explicit(sp.Trace(T * T.T))
    assert value == sum(t ** 2 for t in entries[T])
    inverse, entries = explicit(T.inv(), entries)
    assert sp.simplify(inverse * entries[T]) == sp.eye(2)
    one_by_one, _ = explicit(b.T * b)
    assert isinstance(one_by_one, sp.Expr)  # a 1x1 product becomes a scalar


def test_unsupported_shapes_of_expression_are_named():
    # a determinant inside a trace, and a non-smooth function with two arguments: refused, not answered wrongly
    with pytest.raises(UnsupportedExpressionError, match="determinant or an indexed entry"):
        matrix_gradient(sp.Trace(sp.Determinant(S) * S), S)
    with pytest.raises(UnsupportedExpressionError, match="cannot differentiate Max"):
        matrix_gradient(sp.Max(sp.Trace(S), 0), S)
