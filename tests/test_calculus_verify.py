"""The numeric verifier (dlbook.calculus.verify): it passes right derivatives and catches wrong ones."""

import numpy as np
import pytest
import sympy as sp

from dlbook.calculus import (VerificationError, gradient, hessian, hessian_matrix, symbol_matrix, verify_gradient,
                             verify_hessian)
from dlbook.check import MismatchError

A = sp.MatrixSymbol("A", 3, 3)
X = sp.MatrixSymbol("X", 3, 3)


def test_right_gradient_passes_all_references():
    result = verify_gradient(sp.Trace(A * X), X, A.T, closed_form=A.T, name="tr(AX)")
    assert set(result.errors) == {"finite differences", "torch autograd", "entrywise sympy", "closed form"}
    assert result.errors["finite differences"] < 1e-7
    assert result.max_error < 1e-7
    assert "tr(AX)" in str(result)
    assert set(result.values) == {"X", "A"} and result.values["X"].shape == (3, 3)


def test_transposed_gradient_is_caught():
    with pytest.raises(VerificationError, match="finite differences"):
        verify_gradient(sp.Trace(A * X), X, A)  # the classic slip: A instead of A^T


def test_wrong_closed_form_is_caught():
    with pytest.raises(VerificationError, match="closed form"):
        verify_gradient(sp.Trace(A * X), X, A.T, closed_form=A)


def test_zero_gradient_is_caught():
    f = 3 * sp.Trace(X.T * X) + 5
    with pytest.raises(VerificationError):
        verify_gradient(f, X, sp.ZeroMatrix(3, 3))


def test_verification_error_is_a_mismatch_error():
    assert issubclass(VerificationError, MismatchError)


def test_explicit_entries_route():
    x = symbol_matrix("x", 2, 3)
    f = sp.log(sum(sp.exp(v) for v in x))
    result = verify_gradient(f, x)  # derived entry by entry
    assert result.shape == (2, 3) and result.errors["finite differences"] < 1e-7


def test_loose_scalar_symbols_get_values():
    x = symbol_matrix("x", 2, 2)
    t = sp.Symbol("t")
    result = verify_gradient(t * sum(v ** 2 for v in x), x, values={"t": 2.5})
    assert result.values["t"] == 2.5


def test_hessian_shaped_gradient_is_refused():
    # the notes' "(mn) x (mn)" object is the Hessian; as a gradient it has the wrong shape
    x = symbol_matrix("x", 2, 3)
    f = sum(v ** 3 for v in x)
    with pytest.raises(ValueError, match="X's shape"):
        verify_gradient(f, x, hessian_matrix(f, x))


def test_bad_inputs():
    with pytest.raises(ValueError, match="scalar"):
        verify_gradient(X * A, X, A)
    with pytest.raises(TypeError, match="wrt"):
        verify_gradient(sp.Trace(X), "X", A)
    with pytest.raises(ValueError, match="shape"):
        verify_gradient(sp.Trace(A * X), X, values={"X": np.ones((2, 2))})
    with pytest.raises(ValueError, match="unknown variables"):
        verify_gradient(sp.Trace(A * X), X, values={"Z": np.ones((3, 3))})
    with pytest.raises(TypeError, match="keyed"):
        verify_gradient(sp.Trace(A * X), X, values={3: np.ones((3, 3))})


def test_domain_values_are_used():
    values = {"X": 2 * np.eye(3) + 0.1 * np.arange(9).reshape(3, 3)}
    result = verify_gradient(sp.log(sp.Determinant(X)), X, values=values)
    np.testing.assert_array_equal(result.values["X"], values["X"])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_points_outside_the_domain_are_reported():
    x = symbol_matrix("x", 1, 2)
    with pytest.raises(VerificationError, match="not finite"):  # d sqrt(x)/dx = inf at 0
        verify_gradient(sp.sqrt(x[0, 0]), x, values={"x": [[0.0, 1.0]]})
    with pytest.raises(VerificationError, match="nan"):  # log(-1): the function itself is NaN
        verify_gradient(sp.log(x[0, 0]), x, values={"x": [[-1.0, 1.0]]})


def test_hessian_right_and_wrong():
    x = symbol_matrix("x", 2, 2)
    f = sp.log(sum(sp.exp(v) for v in x)) + x[0, 1] ** 2 * x[1, 0]
    result = verify_hessian(f, x)
    assert result.shape == (2, 2, 2, 2) and result.errors["finite differences"] < 1e-7
    verify_hessian(f, x, hessian_matrix(f, x))  # the (mn, mn) form is accepted too
    wrong = hessian(f, x).applyfunc(lambda e: 1.01 * e)
    with pytest.raises(VerificationError):
        verify_hessian(f, x, wrong)
    with pytest.raises(ValueError, match="Hessian must have shape"):
        verify_hessian(f, x, gradient(f, x))
    with pytest.raises(TypeError, match="Matrix of symbols"):
        verify_hessian(sp.Trace(X), X)


def test_other_symbol_grids_get_one_array_each():
    x, w = symbol_matrix("x", 2, 2), symbol_matrix("w", 2, 3)
    f = sum((w.T * x)[i, j] ** 2 for i in range(3) for j in range(2))
    w_value = np.arange(6.0).reshape(2, 3)
    result = verify_gradient(f, x, values={"w": w_value})
    assert set(result.values) == {"x", "w"}
    np.testing.assert_array_equal(result.values["w"], w_value)


@pytest.mark.parametrize("option", [{"eps": 0.0}, {"eps": -1e-6}, {"rtol": 0}, {"exact_rtol": float("nan")},
                                    {"rtol": 2.0}, {"eps": "1e-6"}])
def test_bad_steps_and_tolerances_are_refused(option):
    # eps = 0 would divide by zero and rtol = 0 can never pass: both are caller mistakes
    with pytest.raises(ValueError, match="must be a number in"):
        verify_gradient(sp.Trace(A * X), X, A.T, **option)
    with pytest.raises(ValueError, match="must be a number in"):
        verify_hessian(sum(v ** 2 for v in symbol_matrix("x", 2, 2)), symbol_matrix("x", 2, 2), **option)


def test_the_closed_form_comparison_can_be_named():
    x = symbol_matrix("x", 2, 2)
    f = sum(v ** 3 for v in x)
    result = verify_gradient(f, x, closed_form=gradient(f, x), closed_form_name="direct")
    assert set(result.errors) == {"finite differences", "torch autograd", "direct"}
    with pytest.raises(VerificationError, match="against direct"):
        verify_gradient(f, x, closed_form=2 * gradient(f, x), closed_form_name="direct")
    for bad in ("", "torch autograd", 3):
        with pytest.raises(ValueError, match="closed_form_name"):
            verify_gradient(f, x, closed_form_name=bad)


def test_closed_form_of_the_wrong_shape_is_refused():
    Y = sp.MatrixSymbol("Y", 3, 2)
    with pytest.raises(ValueError, match="closed form has shape"):
        verify_gradient(sp.Trace(Y.T * Y), Y, 2 * Y, closed_form=2 * Y.T)
