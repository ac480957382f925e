"""The chain rule through Y = WX + b (dlbook.calculus.chain)."""

import numpy as np
import pytest
import sympy as sp

from dlbook.calculus import VerificationError, chain, gradient, linear_chain, sigmoid_sum, softmax_cross_entropy, \
    symbol_matrix, verify_gradient
from dlbook.nn.functional import cross_entropy_backward


def _vars(n=3, m=4, p=2, bias_cols=None):
    return (symbol_matrix("y", n, p), symbol_matrix("w", n, m), symbol_matrix("x", m, p),
            symbol_matrix("b", n, p if bias_cols is None else bias_cols))


@pytest.mark.parametrize("bias_cols", [None, 1])
@pytest.mark.parametrize("loss", ["sigmoid", "cross_entropy"])
def test_chain_rule_matches_direct_differentiation(loss, bias_cols):
    Y, W, X, b = _vars(bias_cols=bias_cols)
    h = sigmoid_sum(Y) if loss == "sigmoid" else softmax_cross_entropy(Y, [2, 0])
    c = linear_chain(h, Y, W, X, b)
    assert c.dX.shape == X.shape and c.dW.shape == W.shape and c.db.shape == b.shape
    for var, derived in ((X, c.dX), (W, c.dW), (b, c.db)):
        # the chain-rule result vs differentiating g = h(WX+b) directly, FD and autograd
        result = verify_gradient(c.g, var, derived, closed_form=gradient(c.g, var), seed=1)
        assert result.errors["finite differences"] < 1e-7


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    Y = symbol_matrix("y", 3, 2)
    target = [2, 0]
    G = gradient(softmax_cross_entropy(Y, target), Y)
    values = np.random.default_rng(0).standard_normal((3, 2))
    numeric = np.array(sp.lambdify(list(Y), G)(*values.ravel()), dtype=float)
    # chapter 1's rows-are-samples formula, transposed to the notes' columns-are-samples layout
    reference = cross_entropy_backward(values.T.copy(), np.array(target)).T
    np.testing.assert_allclose(numeric, reference, rtol=1e-12, atol=1e-14)


def test_wrong_weight_rule_is_caught(monkeypatch):
    Y, W, X, b = _vars(n=3, m=3, p=3)  # square, so a transposed rule still has the right shape
    monkeypatch.setattr(chain, "grad_weight", lambda G, X: (G * X.T).T)
    c = linear_chain(sigmoid_sum(Y), Y, W, X, b)
    with pytest.raises(VerificationError):
        verify_gradient(c.g, W, c.dW)


def test_wrong_input_rule_is_caught(monkeypatch):
    Y, W, X, b = _vars(n=3, m=3, p=3)
    monkeypatch.setattr(chain, "grad_input", lambda W, G: W * G)  # forgot the transpose
    c = linear_chain(sigmoid_sum(Y), Y, W, X, b)
    with pytest.raises(VerificationError):
        verify_gradient(c.g, X, c.dX)


def test_a_transposed_entrywise_rule_is_caught(monkeypatch):
    Y, W, X, b = _vars(n=3, m=3, p=3)
    original = chain.gradient
    monkeypatch.setattr(chain, "gradient", lambda f, V: original(f, V).T)
    c = linear_chain(sigmoid_sum(Y) + Y[0, 1] ** 2, Y, W, X, b)
    with pytest.raises(VerificationError):
        verify_gradient(c.g, X, c.dX)


def test_shape_errors():
    Y, W, X, b = _vars()
    with pytest.raises(ValueError, match="W must have n = 3 rows"):
        linear_chain(sigmoid_sum(Y), Y, symbol_matrix("w", 2, 4), X, b)
    with pytest.raises(ValueError, match=r"X must have shape \(m, p\) = \(4, 2\)"):
        linear_chain(sigmoid_sum(Y), Y, W, symbol_matrix("x", 4, 3), b)
    with pytest.raises(ValueError, match="b must have shape"):
        linear_chain(sigmoid_sum(Y), Y, W, X, symbol_matrix("b", 1, 2))
    with pytest.raises(ValueError, match="function of Y alone"):
        linear_chain(sigmoid_sum(Y) + X[0, 0], Y, W, X, b)
    with pytest.raises(ValueError, match="scalar"):
        linear_chain(Y, Y, W, X, b)
    with pytest.raises(TypeError, match="Matrix of symbols"):
        linear_chain(sigmoid_sum(Y), Y, np.ones((3, 4)), X, b)


@pytest.mark.parametrize("target", [[0], [0, 3], [0, 1.0], [-1, 0]])
def test_cross_entropy_target_errors(target):
    with pytest.raises(ValueError, match="class indices"):
        softmax_cross_entropy(symbol_matrix("y", 3, 2), target)
