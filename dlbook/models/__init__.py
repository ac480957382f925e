"""Ready-made networks of the book, defined once in NumPy (:mod:`dlbook.nn`) with torch twins."""

from .cnn import digits_cnn, digits_cnn_torch, train_digits_cnn, train_digits_cnn_torch

__all__ = ["digits_cnn", "digits_cnn_torch", "train_digits_cnn", "train_digits_cnn_torch"]
