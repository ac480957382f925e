r"""Matrix-form gradients: $\partial f/\partial X$ as a matrix expression in $X$ (section 2 of the notes).

Variables are sympy ``MatrixSymbol``\ s, so a result such as $\partial\,\mathrm{tr}(AX)/\partial X = A^\top$
holds for every size. sympy (1.14) differentiates a single trace or a 1×1 product well, but
gets the scalar algebra around them wrong: it returns 0 for ``3*Trace(X.T*X) + 5``, for
``exp(Trace(X))`` and for ``log(Determinant(X))``. So :func:`matrix_gradient` applies the scalar
rules itself (sum, product, power and chain rule, Jacobi's formula for the determinant) and
hands sympy only the *atoms*: traces and 1×1 matrix products. Anything else is refused with
:class:`UnsupportedExpressionError` rather than answered wrongly.

:func:`explicit` turns a matrix expression into ordinary sympy expressions in the entries,
which is how :mod:`dlbook.calculus.verify` evaluates and checks every result.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from .entrywise import as_scalar, symbol_matrix


class UnsupportedExpressionError(ValueError):
    """An expression this module cannot differentiate in matrix form (use the entrywise route)."""


def det_gradient(X: sp.MatrixSymbol) -> sp.MatrixExpr:
    r"""Jacobi's formula: $\partial \det X/\partial X = \det(X)\,X^{-\top}$."""
    return sp.Determinant(X) * X.inv().T


def _atom_gradient(atom, X: sp.MatrixSymbol) -> sp.MatrixExpr:
    """sympy's derivative of a trace or a 1×1 matrix product, checked to be an X-shaped matrix expression."""
    if isinstance(atom, sp.MatrixExpr):  # a 1×1 product equals its trace, and sympy handles traces better
        atom = sp.Trace(atom)
    try:
        result = atom.diff(X)
    except (TypeError, AttributeError, NotImplementedError) as exc:  # sympy fails inside its array code
        raise UnsupportedExpressionError(f"sympy cannot differentiate {atom} with respect to {X}: {exc}") from exc
    if not isinstance(result, sp.MatrixExpr) or tuple(result.shape) != tuple(X.shape) or result.has(sp.Derivative):
        raise UnsupportedExpressionError(
            f"sympy's derivative of {atom} with respect to {X} is not a {X.shape[0]}×{X.shape[1]} matrix "
            f"expression (got {type(result).__name__}: {result})")
    return result


def _gradient(e, X: sp.MatrixSymbol) -> sp.MatrixExpr:
    """Scalar rules on top, sympy's matrix derivative for the atoms."""
    if not e.has(X):
        return sp.ZeroMatrix(*X.shape)
    # atoms first: MatMul and MatAdd are subclasses of Mul and Add
    if isinstance(e, sp.MatMul) and tuple(e.shape) == (1, 1):
        coeff, mats = e.as_coeff_matrices()
        # a scalar factor such as tr(X) * a^T X b: product rule, the 1×1 part as a trace
        if coeff.has(X):
            return _gradient(coeff * sp.Trace(sp.MatMul(*mats)), X)
    if (isinstance(e, sp.Trace)
            or (isinstance(e, sp.MatrixExpr) and tuple(e.shape) == (1, 1))):
        if any(isinstance(node, (sp.Determinant, MatrixElement))
               for node in sp.preorder_traversal(e)):
            raise UnsupportedExpressionError(
                f"a determinant or an indexed entry inside {e} is not supported")
        return _atom_gradient(e, X)
    if isinstance(e, sp.MatrixExpr):
        raise UnsupportedExpressionError(
            f"f must be scalar, but {e} has shape {tuple(e.shape)}")
    if isinstance(e, sp.Add):
        return sp.MatAdd(*[_gradient(t, X) for t in e.args]).doit()
    if isinstance(e, sp.Mul):  # product rule over the scalar factors
        terms = []
        for i, factor in enumerate(e.args):
            if factor.has(X):
                rest = sp.Mul(*(e.args[:i] + e.args[i + 1:]))
                terms.append(rest * _gradient(factor, X))
        return sp.MatAdd(*terms).doit()
    if isinstance(e, sp.Pow):
        base, power = e.args
        if power.has(X):
            raise UnsupportedExpressionError(
                f"an exponent that depends on {X} is not supported: {e}")
        return (power * base ** (power - 1)) * _gradient(base, X)
    # chain rule: f(u)' = f'(u) u'
    if isinstance(e, sp.Function) and len(e.args) == 1:
        return e.fdiff(1) * _gradient(e.args[0], X)
    if isinstance(e, sp.Determinant):
        if e.arg != X:
            raise UnsupportedExpressionError(
                f"only det({X}) itself is supported, got {e}")
        return det_gradient(X)
    if isinstance(e, MatrixElement):
        raise UnsupportedExpressionError(
            f"{e} indexes a matrix expression; write the 1×1 product itself (a.T*X*b), "
            f"not its [0, 0] entry")
    raise UnsupportedExpressionError(
        f"cannot differentiate {type(e).__name__} {e} with respect to {X}")


def matrix_gradient(f, X) -> sp.MatrixExpr:
    r"""$\partial f/\partial X$ as a matrix expression with X's shape.

    Parameters
    ----------
    f : a scalar built from traces, determinants and 1×1 products of matrix symbols
        (``Trace(A*X)``, ``a.T*X*b``, ``log(Determinant(X))``, their sums, products, powers
        and smooth functions of them).
    X : sympy ``MatrixSymbol`` of shape (m, n).

    Raises
    ------
    TypeError : X is not a MatrixSymbol, or f is not a sympy expression.
    ValueError : f is not scalar (a matrix larger than 1×1).
    UnsupportedExpressionError (a ValueError) : f is outside what the rules above cover.
    """
    if not isinstance(X, sp.MatrixSymbol):
        raise TypeError(f"X must be a sympy MatrixSymbol, got {type(X).__name__}")
    if isinstance(f, sp.MatrixExpr):
        if tuple(f.shape) != (1, 1):
            raise ValueError(f"f must be a scalar (or 1×1 matrix expression), got shape {tuple(f.shape)}")
        return _gradient(f, X)
    return _gradient(as_scalar(f), X)


def matrix_symbols(*exprs) -> list[sp.MatrixSymbol]:
    """The matrix symbols that occur in the given expressions, sorted by name."""
    found = set()
    for e in exprs:
        if e is not None:
            found |= {s for s in sp.sympify(e).free_symbols if isinstance(s, sp.MatrixSymbol)}
    return sorted(found, key=lambda s: s.name)


def _evaluate(e, entries: dict):
    """The value of a matrix expression once every MatrixSymbol is an explicit grid (plain linear algebra).

    Written out here rather than left to ``doit()``, which simplifies as it goes and is ~100× slower
    on inverses; the inverse is the adjugate over the determinant.
    """
    if isinstance(e, sp.MatrixSymbol):
        return entries[e]
    if isinstance(e, sp.MatrixBase) or not e.args:
        return e
    if isinstance(e, sp.Identity):
        return sp.eye(int(e.rows))
    if isinstance(e, sp.ZeroMatrix):
        return sp.zeros(*map(int, e.shape))
    if isinstance(e, sp.OneMatrix):
        return sp.ones(*map(int, e.shape))
    args = [_evaluate(a, entries) for a in e.args]
    if isinstance(e, sp.Transpose):
        return args[0].T
    if isinstance(e, sp.Inverse):
        return args[0].adjugate() / args[0].det(method="berkowitz")
    if isinstance(e, sp.Trace):
        return args[0].trace()
    if isinstance(e, sp.Determinant):
        return args[0].det(method="berkowitz")
    if isinstance(e, MatrixElement):
        return args[0][int(args[1]), int(args[2])]
    if isinstance(e, sp.MatMul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(e, sp.MatAdd):
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if isinstance(e, sp.MatPow):
        base, power = args
        return base ** int(power) if power >= 0 else (base.adjugate() / base.det(method="berkowitz")) ** int(-power)
    if isinstance(e, sp.MatrixExpr):  # anything rarer (Kronecker products, ...): sympy's own evaluation
        return e.func(*args).doit()
    return e.func(*args)


def explicit(expr, entries: dict | None = None):
    """Replace every MatrixSymbol by a matrix of entry symbols and evaluate.

    Returns ``(value, entries)``: ``value`` is a scalar sympy expression (for a scalar or 1×1 input)
    or an ImmutableMatrix; ``entries`` maps each MatrixSymbol to its :func:`symbol_matrix`
    (pass it back in so several expressions share the same entry symbols).
    """
    entries = dict(entries or {})
    expr = sp.sympify(expr)
    for s in matrix_symbols(expr):
        if s not in entries:
            entries[s] = symbol_matrix(s.name, *map(int, s.shape))
    value = _evaluate(expr, entries)
    if isinstance(value, sp.MatrixExpr) and not isinstance(value, sp.MatrixBase):
        value = value.as_explicit()
    if isinstance(value, sp.MatrixBase):
        value = sp.ImmutableMatrix(value)
        if value.shape == (1, 1) and not (isinstance(expr, sp.MatrixExpr) and tuple(expr.shape) != (1, 1)):
            value = value[0, 0]
    return value, entries
