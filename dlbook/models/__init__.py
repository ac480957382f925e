"""Ready-made networks of the book, defined once in NumPy (:mod:`dlbook.nn`) with torch twins."""

from .cnn import digits_cnn, digits_cnn_torch
from .mlp import mlp

__all__ = ["digits_cnn", "digits_cnn_torch", "mlp"]
