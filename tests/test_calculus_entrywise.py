"""Entry-by-entry gradients and Hessians (dlbook.calculus.entrywise)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from dlbook.calculus import gradient, hessian, hessian_matrix, symbol_matrix

shapes = st.tuples(st.integers(1, 3), st.integers(1, 3))


def test_symbol_matrix_has_distinct_named_entries():
    X = symbol_matrix("x", 2, 3)
    assert X.shape == (2, 3)
    assert len(set(X)) == 6
    assert str(X[1, 2]) == "x_{23}"  # 1-based, printed as x_{ij} in LaTeX
    assert str(symbol_matrix("x", 1, 12)[0, 11]) == "x_{1,12}"  # unambiguous once a size exceeds 9


def test_symbol_matrix_accepts_numpy_integers():
    assert symbol_matrix("x", np.int64(2), np.int32(3)).shape == (2, 3)


@pytest.mark.parametrize("args", [("", 2, 2), (3, 2, 2)])
def test_symbol_matrix_rejects_bad_name(args):
    with pytest.raises(TypeError, match="name"):
        symbol_matrix(*args)


@pytest.mark.parametrize("rows, cols", [(0, 2), (2, -1), (2.0, 2), (True, 2)])
def test_symbol_matrix_rejects_bad_size(rows, cols):
    with pytest.raises(ValueError, match="positive int"):
        symbol_matrix("x", rows, cols)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_gradient_has_the_shape_of_x_and_matches_the_quadratic_rule(shape, seed):
    # f = sum c_ij x_ij^2 + sum d_ij x_ij  has  df/dx_ij = 2 c_ij x_ij + d_ij
    rng = np.random.default_rng(seed)
    c, d = rng.integers(-5, 6, shape), rng.integers(-5, 6, shape)
    X = symbol_matrix("x", *shape)
    f = sum(int(c[i, j]) * X[i, j] ** 2 + int(d[i, j]) * X[i, j] for i in range(shape[0]) for j in range(shape[1]))
    G = gradient(f, X)
    assert G.shape == shape
    expected = sp.ImmutableMatrix(*shape, lambda i, j: 2 * int(c[i, j]) * X[i, j] + int(d[i, j]))
    assert sp.simplify(G - expected) == sp.zeros(*shape)


def test_trace_example_partials_are_the_transposed_entries():
    # d tr(AX) / d x_ij = a_ji  (A constant 3x2, X 2x3)
    A = sp.Matrix([[1, 2], [3, 4], [5, 6]])
    X = symbol_matrix("x", 2, 3)
    assert gradient((A * X).trace(), X) == A.T


@settings(max_examples=10, deadline=None)
@given(shape=shapes)
def test_hessian_shapes_and_agreement_with_sympy_hessian(shape):
    m, n = shape
    X = symbol_matrix("x", m, n)
    f = sp.log(sum(sp.exp(x) for x in X)) + X[0, 0] * X[-1, -1] ** 2
    H = hessian(f, X)
    assert H.shape == (m, n, m, n)
    Hm = hessian_matrix(f, X)
    assert Hm.shape == (m * n, m * n)
    assert sp.simplify(Hm - sp.hessian(f, list(X))) == sp.zeros(m * n, m * n)  # X flattened row by row
    assert H[m - 1, n - 1, 0, 0] == sp.diff(f, X[-1, -1], X[0, 0])


def test_one_by_one_matrix_counts_as_scalar():
    X = symbol_matrix("x", 2, 1)
    f = X.T * X  # a 1x1 matrix
    assert gradient(f, X) == 2 * X


@pytest.mark.parametrize("f", [sp.ones(2, 2), sp.Array([1, 2])])
def test_non_scalar_f_is_refused(f):
    with pytest.raises(ValueError, match="scalar"):
        gradient(f, symbol_matrix("x", 2, 2))


@pytest.mark.parametrize("f", [np.ones(3), lambda x: x, "x_11"])
def test_non_sympy_f_is_refused(f):
    with pytest.raises(TypeError, match="scalar sympy expression"):
        gradient(f, symbol_matrix("x", 2, 2))


def test_bad_variables_are_refused():
    x, y = sp.symbols("x y")
    with pytest.raises(TypeError, match="Matrix of symbols"):
        gradient(x, [x, y])
    with pytest.raises(ValueError, match="only symbols"):
        gradient(x, sp.Matrix([[x, 2 * y]]))
    with pytest.raises(ValueError, match="distinct"):
        gradient(x, sp.Matrix([[x, x]]))
    with pytest.raises(TypeError, match="Matrix of symbols"):
        hessian(x, sp.MatrixSymbol("X", 2, 2))
