r"""Matrix calculus by sympy, checked by numbers (chapter 2).

=======================  ===============================================================
``symbol_matrix``        an m×n grid of symbols $x_{ij}$
``gradient``             $\partial f/\partial x_{ij}$ entry by entry: shape (m, n), X's shape
``hessian``              $\partial^2 f/\partial x_{ij}\partial x_{kl}$: shape (m, n, m, n)
``hessian_matrix``       the same, reshaped to (mn, mn)
``matrix_gradient``      $\partial f/\partial X$ as a matrix expression (``MatrixSymbol`` inputs)
``explicit``             a matrix expression written out in its entries
``linear_chain``         the chain rule through $Y = WX + b$: $\partial g/\partial X = W^\top \partial h/\partial Y$
``verify_gradient``      a gradient vs finite differences, torch autograd and a closed form
``verify_hessian``       a Hessian vs finite differences of the gradient and torch autograd
``IDENTITIES``           Matrix Cookbook identities, each derivable and checkable (``verify_all``)
=======================  ===============================================================
"""

from .chain import LinearChain, linear_chain, sigmoid_sum, softmax_cross_entropy
from .entrywise import gradient, hessian, hessian_matrix, symbol_matrix
from .identities import IDENTITIES, Identity, verify_all
from .matrix_form import UnsupportedExpressionError, explicit, matrix_gradient
from .verify import Verification, VerificationError, derive_gradient, verify_gradient, verify_hessian

__all__ = ["symbol_matrix", "gradient", "hessian", "hessian_matrix", "matrix_gradient", "explicit",
           "UnsupportedExpressionError", "linear_chain", "LinearChain", "sigmoid_sum", "softmax_cross_entropy",
           "verify_gradient", "verify_hessian", "derive_gradient", "Verification", "VerificationError",
           "IDENTITIES", "Identity", "verify_all"]
