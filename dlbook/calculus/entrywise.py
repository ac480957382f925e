r"""Derivatives of a scalar function of a matrix, one entry at a time (section 1 of the notes).

A matrix variable is an explicit grid of sympy symbols $x_{ij}$; a scalar function $f$
of it is an ordinary sympy expression in those symbols. Then

* the **gradient** $\nabla f$ has the shape of $X$: entry $(i, j)$ is $\partial f/\partial x_{ij}$;
* the **Hessian** has four indices, $H_{ijkl} = \partial^2 f / \partial x_{ij}\,\partial x_{kl}$,
  shape (m, n, m, n); flattening $X$ row by row turns it into an (mn)×(mn) matrix.

Nothing here knows matrix algebra: it is the definition, and the reference that the
matrix-form rules of :mod:`dlbook.calculus.matrix_form` are checked against.
"""

from __future__ import annotations

import numbers

import sympy as sp


def symbol_matrix(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    r"""A rows×cols matrix of distinct real symbols, printed $x_{ij}$ with 1-based indices.

    Indices are separated by a comma when either dimension exceeds 9 (so $x_{1,12}$ is not $x_{11,2}$).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"symbol_matrix: name must be a non-empty str, got {name!r}")
    for what, size in (("rows", rows), ("cols", cols)):
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"symbol_matrix: {what} must be a positive int, got {size!r}")
    rows, cols = int(rows), int(cols)
    sep = "," if max(rows, cols) > 9 else ""
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{{{i + 1}{sep}{j + 1}}}", real=True))


def check_variable(X, who: str = "variable") -> sp.ImmutableMatrix:
    """X must be a sympy matrix whose entries are distinct symbols (what :func:`symbol_matrix` makes)."""
    if not isinstance(X, sp.MatrixBase):
        raise TypeError(f"{who} must be a sympy Matrix of symbols (see symbol_matrix), got {type(X).__name__}")
    if not all(isinstance(x, sp.Symbol) for x in X):
        bad = next(x for x in X if not isinstance(x, sp.Symbol))
        raise ValueError(f"{who} must contain only symbols, but has entry {bad}")
    if len(set(X)) != len(X):
        raise ValueError(f"{who} must contain {len(X)} distinct symbols; some repeat")
    return sp.ImmutableMatrix(X)


def as_scalar(f, who: str = "f") -> sp.Expr:
    """f as a scalar sympy expression; a 1×1 matrix is unwrapped, anything larger is refused."""
    if isinstance(f, (sp.MatrixBase, sp.MatrixExpr)) or getattr(f, "is_Matrix", False):
        if tuple(f.shape) != (1, 1):
            raise ValueError(f"{who} must be a scalar (or 1×1 matrix), got a matrix of shape {tuple(f.shape)}")
        return sp.sympify(f[0, 0])
    if isinstance(f, sp.NDimArray):
        raise ValueError(f"{who} must be a scalar, got an array of shape {f.shape}")
    if isinstance(f, sp.Expr):
        return f
    if isinstance(f, (int, float)):
        return sp.sympify(f)
    raise TypeError(f"{who} must be a scalar sympy expression, got {type(f).__name__}")


def gradient(f, X) -> sp.ImmutableMatrix:
    r"""$\nabla_X f$: the matrix of partials $\partial f/\partial x_{ij}$, same shape
    as X (m, n).

    Parameters
    ----------
    f : scalar sympy expression (or 1×1 matrix) in the entries of X (and any other
        symbols).
    X : (m, n) sympy Matrix of distinct symbols, e.g. from :func:`symbol_matrix`.
    """
    X = check_variable(X, "X")
    f = as_scalar(f)
    return sp.ImmutableMatrix(X.rows, X.cols, lambda i, j: sp.diff(f, X[i, j]))


def hessian(f, X) -> sp.ImmutableDenseNDimArray:
    r"""The fourth-order tensor $H_{ijkl} = \partial^2 f/\partial x_{ij}\partial x_{kl}$, shape (m, n, m, n).

    ``hessian(f, X).reshape(m*n, m*n)`` (or :func:`hessian_matrix`) is the (mn)×(mn) matrix
    of second derivatives with respect to the row-major flattening of X.
    """
    X = check_variable(X, "X")
    grad = gradient(f, X)
    m, n = X.shape
    entries = [sp.diff(grad[i, j], X[k, l]) for i in range(m) for j in range(n) for k in range(m) for l in range(n)]
    return sp.ImmutableDenseNDimArray(entries, (m, n, m, n))


def hessian_matrix(f, X) -> sp.ImmutableMatrix:
    """:func:`hessian` reshaped to (mn, mn): rows and columns follow X flattened row by row."""
    H = hessian(f, X)
    m, n = X.shape
    return sp.ImmutableMatrix(m * n, m * n, list(sp.flatten(H.tolist())))
