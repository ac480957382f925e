r"""Numeric proof of a symbolic derivative, on random float64 matrices.

A derivative computed by sympy (or written down from a rule or a textbook) is evaluated at a
random point and compared with

1. **central finite differences** of the function itself,
   $\big(f(X + \varepsilon E_{ij}) - f(X - \varepsilon E_{ij})\big)/2\varepsilon$ (relative error
   below 1e-7 for a smooth function, cs231n's bar);
2. **torch autograd** on the same function, built from the same sympy expression;
3. a **closed form** when one is given (a Matrix Cookbook identity);
4. for a matrix-form result, the **entry-by-entry** sympy gradient of the written-out function.

Every expression is first made explicit (matrix symbols replaced by grids of entry symbols,
see :func:`dlbook.calculus.matrix_form.explicit`), so the check does not trust sympy's matrix
algebra either. Errors are normwise relative errors (:func:`dlbook.check.rel_error`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from ..check import MismatchError, numerical_gradient, rel_error
from .entrywise import as_scalar, check_variable, gradient as entrywise_gradient, hessian as entrywise_hessian
from .matrix_form import explicit, matrix_gradient

FD_RTOL = 1e-7       # finite differences: truncation O(eps^2) plus rounding O(1e-16 / eps)
EXACT_RTOL = 1e-9    # two exact formulas evaluated in float64 (autograd, a closed form): rounding only


class VerificationError(MismatchError):
    """A symbolic derivative disagrees with a numeric check beyond its tolerance."""


@dataclass
class Verification:
    """The outcome of a check: relative error per reference, and the tolerances they passed."""

    name: str
    shape: tuple
    derivative: object = None                                   # the sympy result that was checked
    errors: dict[str, float] = field(default_factory=dict)      # reference -> relative error
    tolerances: dict[str, float] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)  # the random point, by variable name

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        rows = [f"  vs {ref:<19} rel. error {err:.1e} (< {self.tolerances[ref]:.0e})" for ref, err in self.errors.items()]
        return f"{self.name or 'derivative'} {self.shape}:\n" + "\n".join(rows)


# -- turning expressions into numbers ---------------------------------------------------------
class _Point:
    """Random float64 values for every variable, and lambdified numpy/torch versions of expressions."""

    def __init__(self, exprs: list, wrt, values: dict | None, seed: int):
        self.entries: dict = {}
        explicit_exprs = []
        for e in exprs:
            value, self.entries = explicit(e, self.entries) if e is not None else (None, self.entries)
            explicit_exprs.append(value)
        self.exprs = explicit_exprs
        if isinstance(wrt, sp.MatrixSymbol):
            if wrt not in self.entries:
                _, self.entries = explicit(wrt, self.entries)
            self.wrt = self.entries[wrt]
        else:
            self.wrt = check_variable(wrt, "wrt")
        # groups of symbols that get one random array each: wrt, each matrix symbol, each loose symbol
        groups = {"wrt": self.wrt}
        names = {"wrt": wrt.name if isinstance(wrt, sp.MatrixSymbol) else _grid_name(self.wrt)}
        for ms, grid in self.entries.items():
            if grid != self.wrt:
                groups[ms], names[ms] = grid, ms.name
        covered = set().union(*(set(g) for g in groups.values()))
        loose = set().union(*(e.free_symbols for e in self.exprs if e is not None)) - covered
        for name, grid in sorted(_grids(loose).items()):  # other symbol_matrix grids: one array each, by name
            groups[name], names[name] = grid, name
            loose -= set(grid)
        for s in sorted(loose, key=lambda s: s.name):
            groups[s], names[s] = sp.ImmutableMatrix([[s]]), s.name
        given = {_key_name(k): v for k, v in (values or {}).items()}
        unknown = set(given) - set(names.values())
        if unknown:
            raise ValueError(f"values given for unknown variables {sorted(unknown)}; expected some of {sorted(names.values())}")
        rng = np.random.default_rng(seed)
        self.arrays = {}
        for key, grid in groups.items():
            if names[key] in given:
                arr = np.array(given[names[key]], dtype=np.float64)
                if arr.shape != grid.shape and not (arr.size == 1 and grid.shape == (1, 1)):
                    raise ValueError(f"value for {names[key]} must have shape {grid.shape}, got {arr.shape}")
            else:
                arr = rng.standard_normal(grid.shape)
            self.arrays[key] = arr.reshape(grid.shape)
        self.names = names
        self.symbols = [s for g in groups.values() for s in g]
        self.n_wrt = len(self.wrt)

    def flat(self) -> np.ndarray:
        return np.concatenate([a.reshape(-1) for a in self.arrays.values()])

    def numpy_fn(self, expr):
        return sp.lambdify(self.symbols, expr, "numpy")

    def torch_fn(self, expr):
        return sp.lambdify(self.symbols, expr, "torch")

    def named_values(self) -> dict[str, np.ndarray]:
        return {self.names[k]: a.copy() for k, a in self.arrays.items()}


_ENTRY = re.compile(r"^(.+)_\{(\d)(\d)\}$|^(.+)_\{(\d+),(\d+)\}$")


def _grids(symbols) -> dict[str, sp.ImmutableMatrix]:
    """Regroup symbols named like symbol_matrix's entries (w_{12}, ...) into complete grids, by prefix."""
    found: dict[str, dict] = {}
    for s in symbols:
        match = _ENTRY.match(s.name)
        if match:
            prefix, i, j = match.groups()[:3] if match.group(1) else match.groups()[3:]
            found.setdefault(prefix, {})[(int(i), int(j))] = s
    grids = {}
    for prefix, cells in found.items():
        rows, cols = max(i for i, _ in cells), max(j for _, j in cells)
        if len(cells) == rows * cols and all((i, j) in cells for i in range(1, rows + 1) for j in range(1, cols + 1)):
            grids[prefix] = sp.ImmutableMatrix(rows, cols, lambda i, j: cells[(i + 1, j + 1)])
    return grids


def _grid_name(grid) -> str:
    """'x' for a grid made by symbol_matrix('x', ...)."""
    return str(grid[0, 0]).split("_{")[0]


def _key_name(key) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (sp.MatrixSymbol, sp.Symbol)):
        return key.name
    if isinstance(key, sp.MatrixBase):
        return _grid_name(key)
    raise TypeError(f"values must be keyed by a variable or its name, got {type(key).__name__}")


def _as_matrix_value(value, shape, what: str) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.size == 1 and shape == (1, 1):
        arr = arr.reshape(1, 1)
    if arr.shape != shape:
        raise ValueError(f"{what} has shape {arr.shape} but the variable has shape {shape}")
    return arr


def _scalar_fn(point: _Point, f_e):
    fn = point.numpy_fn(f_e)
    return lambda flat: float(fn(*flat))


def _torch_gradient(point: _Point, f_e, flat: np.ndarray, create_graph: bool = False):
    fn = point.torch_fn(f_e)
    leaves = torch.tensor(flat, dtype=torch.float64, requires_grad=True)
    out = fn(*leaves.unbind())
    if not isinstance(out, torch.Tensor) or not out.requires_grad:  # f does not depend on the variables
        return torch.zeros(point.n_wrt, dtype=torch.float64)
    (grad,) = torch.autograd.grad(out, leaves, create_graph=create_graph)
    return grad[:point.n_wrt]


def _compare(result: Verification, ref: str, ours: np.ndarray, theirs: np.ndarray, rtol: float) -> None:
    result.errors[ref] = rel_error(ours, theirs)
    result.tolerances[ref] = rtol
    if not result.errors[ref] <= rtol:  # also catches NaN
        raise VerificationError(f"{result.name or 'derivative'}: relative error {result.errors[ref]:.2e} against "
                                f"{ref} exceeds {rtol:.0e}\n{result}")


_BUILT_IN_REFERENCES = ("finite differences", "torch autograd", "entrywise sympy")


def _check_tolerances(eps, rtol, exact_rtol) -> None:
    for what, v in (("eps", eps), ("rtol", rtol), ("exact_rtol", exact_rtol)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < 1:
            raise ValueError(f"{what} must be a number in (0, 1), got {v!r}")


def derive_gradient(f, wrt):
    """sympy's gradient of f: :func:`matrix_gradient` for a MatrixSymbol, entry by entry for a symbol grid."""
    return matrix_gradient(f, wrt) if isinstance(wrt, sp.MatrixSymbol) else entrywise_gradient(f, wrt)


def verify_gradient(f, wrt, grad=None, *, closed_form=None, values: dict | None = None, name: str = "",
                    seed: int = 0, eps: float = 1e-6, rtol: float = FD_RTOL, exact_rtol: float = EXACT_RTOL,
                    closed_form_name: str = "closed form") -> Verification:
    r"""Check a gradient $\partial f/\partial X$ three ways; raise :class:`VerificationError` on a mismatch.

    Parameters
    ----------
    f : scalar sympy expression (matrix expression or explicit entries).
    wrt : the variable X: a ``MatrixSymbol`` or a sympy Matrix of symbols, shape (m, n).
    grad : the claimed gradient, shape (m, n); derived with :func:`derive_gradient` when None.
    closed_form : optional known result (a Matrix Cookbook identity), shape (m, n).
    closed_form_name : what the report calls that comparison (e.g. "no chain rule" when the
        reference is a direct derivation rather than a textbook formula).
    values : optional ``{variable or its name: array}`` for variables whose random default
        would leave the domain (e.g. a positive determinant for log det).
    rtol : tolerance against finite differences; ``exact_rtol`` against autograd and the closed form.
    """
    _check_tolerances(eps, rtol, exact_rtol)
    if not isinstance(closed_form_name, str) or not closed_form_name or closed_form_name in _BUILT_IN_REFERENCES:
        raise ValueError(f"closed_form_name must be a non-empty str other than {_BUILT_IN_REFERENCES}, "
                         f"got {closed_form_name!r}")
    f = f if isinstance(f, sp.MatrixExpr) else as_scalar(f)
    if isinstance(f, sp.MatrixExpr) and tuple(f.shape) != (1, 1):
        raise ValueError(f"f must be a scalar (or 1×1 matrix expression), got shape {tuple(f.shape)}")
    if not isinstance(wrt, (sp.MatrixSymbol, sp.MatrixBase)):
        raise TypeError(f"wrt must be a MatrixSymbol or a sympy Matrix of symbols, got {type(wrt).__name__}")
    if grad is None:
        grad = derive_gradient(f, wrt)
    shape = tuple(int(d) for d in wrt.shape)
    for what, g in (("gradient", grad), ("closed form", closed_form)):
        if g is not None and tuple(getattr(g, "shape", ())) != shape and not (shape == (1, 1) and not hasattr(g, "shape")):
            raise ValueError(f"the {what} has shape {tuple(getattr(g, 'shape', ()))} but the variable has shape "
                             f"{shape}: the gradient of a scalar f with respect to X has X's shape")
    point = _Point([f, grad, closed_form], wrt, values, seed)
    f_e, grad_e, closed_e = point.exprs
    result = Verification(name=name, shape=shape, derivative=grad, values=point.named_values())
    flat = point.flat()
    ours = _as_matrix_value(point.numpy_fn(grad_e)(*flat), shape, "the gradient")
    if not np.all(np.isfinite(ours)):
        raise VerificationError(f"{name or 'derivative'}: the gradient is not finite at the random point; pass values=")
    fn, x = _scalar_fn(point, f_e), flat.copy()
    # central differences in the variable's entries (the head of the point), perturbed in place
    numeric = numerical_gradient(lambda: fn(x), x[:point.n_wrt], eps).reshape(shape)
    _compare(result, "finite differences", ours, numeric, rtol)
    autograd = _torch_gradient(point, f_e, flat).numpy().reshape(shape)
    _compare(result, "torch autograd", ours, autograd, exact_rtol)
    if isinstance(wrt, sp.MatrixSymbol):  # the definition itself: section 1's entry-by-entry partials
        by_entries = point.numpy_fn(entrywise_gradient(f_e, point.wrt))(*flat)
        _compare(result, "entrywise sympy", ours, _as_matrix_value(by_entries, shape, "the entrywise gradient"),
                 exact_rtol)
    if closed_e is not None:
        _compare(result, closed_form_name, ours,
                 _as_matrix_value(point.numpy_fn(closed_e)(*flat), shape, f"the {closed_form_name}"), exact_rtol)
    return result


def verify_hessian(f, wrt, hess=None, *, values: dict | None = None, name: str = "", seed: int = 0,
                   eps: float = 1e-6, rtol: float = FD_RTOL, exact_rtol: float = EXACT_RTOL) -> Verification:
    r"""Check a Hessian against finite differences of the autograd gradient and against
    ``torch.autograd.functional.hessian``.

    ``wrt`` is a sympy Matrix of symbols (m, n); ``hess`` has shape (m, n, m, n) or (mn, mn)
    (derived with :func:`dlbook.calculus.hessian` when None). The result's shape is (m, n, m, n).
    """
    _check_tolerances(eps, rtol, exact_rtol)
    if not isinstance(wrt, sp.MatrixBase):
        raise TypeError(f"wrt must be a sympy Matrix of symbols (see symbol_matrix), got {type(wrt).__name__}")
    wrt = check_variable(wrt, "wrt")
    f = as_scalar(f)
    m, n = wrt.shape
    if hess is None:
        hess = entrywise_hessian(f, wrt)
    if tuple(hess.shape) not in ((m, n, m, n), (m * n, m * n)):
        raise ValueError(f"the Hessian must have shape {(m, n, m, n)} or {(m * n, m * n)}, got {tuple(hess.shape)}")
    hess_matrix = sp.ImmutableMatrix(m * n, m * n, list(sp.flatten(hess.tolist())))
    point = _Point([f, hess_matrix], wrt, values, seed)
    f_e, hess_e = point.exprs
    result = Verification(name=name, shape=(m, n, m, n), derivative=hess, values=point.named_values())
    flat = point.flat()
    ours = _as_matrix_value(point.numpy_fn(hess_e)(*flat), (m * n, m * n), "the Hessian")
    k = m * n
    columns = [(_torch_gradient(point, f_e, flat + eps * np.eye(len(flat))[j]) -
                _torch_gradient(point, f_e, flat - eps * np.eye(len(flat))[j])).numpy() / (2 * eps) for j in range(k)]
    _compare(result, "finite differences", ours, np.stack(columns, axis=1), rtol)
    fn = point.torch_fn(f_e)
    rest = torch.tensor(flat[k:], dtype=torch.float64)

    def scalar(head):
        out = fn(*torch.cat([head, rest]).unbind())
        return out if isinstance(out, torch.Tensor) else torch.tensor(float(out), dtype=torch.float64)

    autograd = torch.autograd.functional.hessian(scalar, torch.tensor(flat[:k], dtype=torch.float64)).numpy()
    _compare(result, "torch autograd", ours, autograd, exact_rtol)
    return result
