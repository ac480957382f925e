r"""Standard matrix-derivative identities (as tabulated in the Matrix Cookbook), each one derivable
by :func:`~dlbook.calculus.matrix_form.matrix_gradient` and checkable by
:func:`~dlbook.calculus.verify.verify_gradient`.

Shapes are small but rectangular where the identity allows, so that a transpose in the wrong
place changes the shape or the numbers and cannot pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .matrix_form import matrix_gradient
from .verify import Verification, verify_gradient


@dataclass(frozen=True)
class Identity:
    r"""$\partial f/\partial X = $ ``closed_form``; ``values`` fixes variables that need a domain (det > 0)."""

    name: str
    f: sp.Basic
    X: sp.MatrixSymbol
    closed_form: sp.MatrixExpr
    values: dict = field(default_factory=dict)

    def derive(self) -> sp.MatrixExpr:
        """sympy's derivation (through :func:`matrix_gradient`)."""
        return matrix_gradient(self.f, self.X)

    def verify(self, seed: int = 0, derivative=None) -> Verification:
        """Derive (unless ``derivative`` is given) and check against finite differences, autograd, the closed form."""
        return verify_gradient(self.f, self.X, self.derive() if derivative is None else derivative,
                               closed_form=self.closed_form, values=self.values, name=self.name, seed=seed)

    def latex(self) -> str:
        r"""``\frac{\partial f}{\partial X} = <closed form>`` for display."""
        return (rf"\frac{{\partial}}{{\partial {self.X.name}}}\left({sp.latex(self.f)}\right) = "
                rf"{sp.latex(self.closed_form)}")


def _identities() -> list[Identity]:
    M = sp.MatrixSymbol
    X33, X32 = M("X", 3, 3), M("X", 3, 2)
    A23, A33, A32 = M("A", 2, 3), M("A", 3, 3), M("A", 3, 2)
    a3, a2, b2, b3 = M("a", 3, 1), M("a", 2, 1), M("b", 2, 1), M("b", 3, 1)
    B22, B32 = M("B", 2, 2), M("B", 3, 2)
    W, X34, B24, Y24 = M("W", 2, 3), M("X", 3, 4), M("B", 2, 4), M("Y", 2, 4)
    residual = W * X34 + B24 - Y24
    # det > 0 and not symmetric, so X^{-1} and X^{-T} differ: 3I plus a perturbation of spectral norm < 3
    invertible = {"X": 3 * np.eye(3) + 0.5 * np.random.default_rng(1).standard_normal((3, 3))}
    tr = sp.Trace
    return [
        Identity("tr(X)", tr(X33), X33, sp.Identity(3)),
        Identity("tr(AX)", tr(A23 * X32), X32, A23.T),
        Identity("tr(X^T A)", tr(X32.T * A32), X32, A32),
        Identity("a^T X b", a3.T * X32 * b2, X32, a3 * b2.T),
        Identity("a^T X^T b", a2.T * X32.T * b3, X32, b3 * a2.T),
        Identity("tr(AXB)", tr(A23 * X32 * B22), X32, A23.T * B22.T),
        Identity("||X||_F^2", tr(X32.T * X32), X32, 2 * X32),
        Identity("||X||_F", sp.sqrt(tr(X32.T * X32)), X32, X32 / sp.sqrt(tr(X32.T * X32))),
        Identity("tr(X^T A X)", tr(X32.T * A33 * X32), X32, (A33 + A33.T) * X32),
        Identity("tr(X^2)", tr(X33 * X33), X33, 2 * X33.T),
        Identity("a^T X^T X b", a2.T * X32.T * X32 * b2, X32, X32 * (a2 * b2.T + b2 * a2.T)),
        Identity("||WX+B-Y||_F^2 (W)", tr(residual.T * residual), W, 2 * residual * X34.T),
        Identity("||WX+B-Y||_F^2 (X)", tr(residual.T * residual), X34, 2 * W.T * residual),
        Identity("log det X", sp.log(sp.Determinant(X33)), X33, X33.inv().T, invertible),
        Identity("det X", sp.Determinant(X33), X33, sp.Determinant(X33) * X33.inv().T, invertible),
        Identity("tr(A X^-1 B)", tr(A23 * X33.inv() * B32), X33,
                 -X33.inv().T * A23.T * B32.T * X33.inv().T, invertible),
    ]


#: The identities the chapter shows and the tests check, keyed by name.
IDENTITIES: dict[str, Identity] = {identity.name: identity for identity in _identities()}


def verify_all(seed: int = 0) -> list[dict]:
    """Derive and check every identity; plain data for :func:`dlbook.cache.cached_call` and the chapter.

    Each row: ``name``, ``f`` (LaTeX of f), ``X`` (its name), ``shape``, ``derived`` (LaTeX of sympy's
    derivation), ``closed_form`` (LaTeX), ``errors`` (reference -> relative error).
    Raises :class:`~dlbook.calculus.verify.VerificationError` on the first identity that fails.
    """
    rows = []
    for identity in IDENTITIES.values():
        derived = identity.derive()
        result = identity.verify(seed=seed, derivative=derived)
        rows.append({"name": identity.name, "f": sp.latex(identity.f), "X": identity.X.name,
                     "shape": tuple(int(d) for d in identity.X.shape), "derived": sp.latex(derived),
                     "closed_form": sp.latex(identity.closed_form), "errors": dict(result.errors)})
    return rows
