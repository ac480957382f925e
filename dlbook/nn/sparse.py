r"""``Embedding``: a lookup table of learned vectors, laid out like ``torch.nn.Embedding``."""

from __future__ import annotations

import numpy as np

from .module import Module, Parameter, accumulate_grad, as_dtype, as_generator


class Embedding(Module):
    r"""Row $i$ of ``weight`` (num_embeddings, embedding_dim) for each index $i$.

    Looking up index $i$ is the product of the one-hot vector $e_i$ with ``weight``, so the
    gradient of ``weight`` is $\sum e_i^\top dy$: each row collects the upstream gradients of
    every position that looked it up (a repeated index adds up).

    ``weight`` starts N(0, 1) like torch's; with ``padding_idx`` that row starts at zero and
    never receives a gradient (a padding token's vector stays zero). A negative padding_idx
    counts from the end, as in torch. ``dtype``: float32 (default) or float64; ``seed``:
    None, an int or a numpy Generator.

    ``embedding(indices)``: an integer array of any shape (...) with values in
    [0, num_embeddings) -> (..., embedding_dim). ``backward(dy)`` with dy (..., embedding_dim)
    adds to ``weight.grad`` and returns None (indices have no gradient).
    """

    torch_args = ("num_embeddings", "embedding_dim", "padding_idx")

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {value!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) or \
                    not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be an int in [-{self.num_embeddings}, "
                                 f"{self.num_embeddings}) (num_embeddings = {self.num_embeddings}), "
                                 f"got {padding_idx!r}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        rng, dtype = as_generator(seed), as_dtype(dtype)
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    @classmethod
    def from_torch_module(cls, module) -> "Embedding":
        """The layer for a torch Embedding (weights copied by :func:`dlbook.nn.from_torch`);
        refuses the options not implemented here."""
        if module.max_norm is not None or module.scale_grad_by_freq:
            raise NotImplementedError(f"dlbook.nn.Embedding implements neither max_norm nor "
                                      f"scale_grad_by_freq; got max_norm={module.max_norm!r}, "
                                      f"scale_grad_by_freq={module.scale_grad_by_freq!r}")
        return cls(module.num_embeddings, module.embedding_dim, module.padding_idx)

    def forward(self, indices: np.ndarray) -> np.ndarray:
        """indices: integers of any shape (...) -> (..., embedding_dim)."""
        if not isinstance(indices, np.ndarray):
            raise TypeError(f"Embedding expects a numpy.ndarray of integer indices, "
                            f"got {type(indices).__name__}")
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"Embedding expects integer indices (e.g. int64), got {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            bad = indices[(indices < 0) | (indices >= self.num_embeddings)].ravel()[0]
            raise ValueError(f"Embedding: index {bad} out of range: indices must lie in "
                             f"[0, {self.num_embeddings}) (num_embeddings = {self.num_embeddings})")
        self.save_for_backward(indices)
        return np.asarray(self.weight)[indices]

    def backward(self, dy: np.ndarray) -> None:
        """dy (..., embedding_dim) -> None; adds $\\sum e_i^\\top dy$ to ``weight.grad``
        (nothing to the padding row)."""
        indices = self.saved_for_backward()
        self._check_grad_output(dy, indices.shape + (self.embedding_dim,))
        grad = np.zeros(self.weight.shape, self.weight.dtype)
        np.add.at(grad, indices.ravel(), dy.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0
        accumulate_grad(self.weight, grad)
        return None
