r"""The chain rule through a linear layer (section 3 of the notes).

For $g(X) = h(Y)$ with $Y = WX + b$, $W$ n×m, $X$ m×p, $b$ n×p (or an n×1 column added to
every column, as in a network), write $G = \partial h/\partial Y$ (n×p). Then

$$\frac{\partial g}{\partial X} = W^\top G \;(m\times p), \qquad
  \frac{\partial g}{\partial W} = G X^\top \;(n\times m), \qquad
  \frac{\partial g}{\partial b} = G \;\text{ or }\; G\mathbf 1 \;(n\times 1).$$

Why: $dg = \langle G, dY\rangle_F = \mathrm{tr}(G^\top W\,dX) = \langle W^\top G, dX\rangle_F$. The shapes
check themselves: only $W^\top G$ is m×p. :func:`linear_chain` builds all of it with sympy on
explicit entries, so each result can be compared with differentiating $g$ directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .entrywise import as_scalar, check_variable, gradient


def grad_input(W, G):
    r"""$\partial g/\partial X = W^\top G$: (m, n) @ (n, p) -> (m, p)."""
    return W.T * G


def grad_weight(G, X):
    r"""$\partial g/\partial W = G X^\top$: (n, p) @ (p, m) -> (n, m)."""
    return G * X.T


def grad_bias(G, bias_shape):
    r"""$\partial g/\partial b$: G itself for an n×p bias, the row sums $G\mathbf{1}$ for a broadcast n×1 bias."""
    return G if tuple(bias_shape) == tuple(G.shape) else G * sp.ones(G.cols, 1)


@dataclass(frozen=True)
class LinearChain:
    """Everything :func:`linear_chain` derives; matrices are sympy ImmutableMatrix in the entries of W, X, b."""

    g: sp.Expr                 # h(WX + b), a scalar in the entries of W, X, b
    Y: sp.ImmutableMatrix      # WX + b, (n, p)
    dY: sp.ImmutableMatrix     # dh/dY at Y = WX + b, (n, p)
    dX: sp.ImmutableMatrix     # W^T dY, (m, p)
    dW: sp.ImmutableMatrix     # dY X^T, (n, m)
    db: sp.ImmutableMatrix     # dY (n, p) or dY 1 (n, 1)


def linear_chain(h, Y, W, X, b) -> LinearChain:
    r"""Derive $\partial g/\partial X$, $\partial g/\partial W$, $\partial g/\partial b$ for $g = h(WX + b)$ by the chain rule.

    Parameters
    ----------
    h : scalar sympy expression in the entries of Y only.
    Y : (n, p) symbol matrix, the argument of h.
    W : (n, m) symbol matrix.  X : (m, p) symbol matrix.
    b : (n, p) symbol matrix, or (n, 1) added to every column.
    """
    Y, W, X, b = (check_variable(M, name) for M, name in ((Y, "Y"), (W, "W"), (X, "X"), (b, "b")))
    n, p = Y.shape
    if W.rows != n:
        raise ValueError(f"W must have n = {n} rows to match Y {Y.shape}, got W {W.shape}")
    if X.shape != (W.cols, p):
        raise ValueError(f"X must have shape (m, p) = ({W.cols}, {p}) to match W {W.shape} and Y {Y.shape}, got {X.shape}")
    if b.shape not in ((n, p), (n, 1)):
        raise ValueError(f"b must have shape ({n}, {p}) or ({n}, 1), got {b.shape}")
    h = as_scalar(h, "h")
    outside = h.free_symbols & (set(W) | set(X) | set(b))
    if outside:
        raise ValueError(f"h must be a function of Y alone, but it contains {sorted(map(str, outside))}")
    value = W * X + (b if b.shape == (n, p) else b * sp.ones(1, p))
    at_value = dict(zip(Y, value))
    G = gradient(h, Y).xreplace(at_value)
    return LinearChain(g=h.xreplace(at_value), Y=sp.ImmutableMatrix(value), dY=sp.ImmutableMatrix(G),
                       dX=sp.ImmutableMatrix(grad_input(W, G)), dW=sp.ImmutableMatrix(grad_weight(G, X)),
                       db=sp.ImmutableMatrix(grad_bias(G, b.shape)))


def sigmoid_sum(Y) -> sp.Expr:
    r"""$h(Y) = \sum_{ij} \sigma(y_{ij})$ with $\sigma(t) = 1/(1 + e^{-t})$."""
    Y = check_variable(Y, "Y")
    return sp.Add(*[1 / (1 + sp.exp(-y)) for y in Y])


def softmax_cross_entropy(Y, target) -> sp.Expr:
    r"""Mean softmax cross-entropy of the p columns of Y (n classes × p samples, the notes' layout):

    $h(Y) = \frac1p \sum_j \big(\log \sum_k e^{y_{kj}} - y_{t_j j}\big)$, target $t$ of p ints in [0, n).
    """
    Y = check_variable(Y, "Y")
    n, p = Y.shape
    target = list(target)
    if len(target) != p or not all(isinstance(t, int) and 0 <= t < n for t in target):
        raise ValueError(f"target must be {p} class indices in [0, {n}), one per column of Y, got {target}")
    return sp.Add(*[sp.log(sp.Add(*[sp.exp(Y[k, j]) for k in range(n)])) - Y[t, j]
                    for j, t in enumerate(target)]) / p
