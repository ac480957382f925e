r"""``SGD`` (momentum, Nesterov, weight decay) and ``Adam``, step for step as in ``torch.optim``.

torch writes ``SGD(model.parameters(), lr)``; a NumPy array has no ``.grad``, so here the
optimizer takes the model itself and reads ``named_parameters()`` and ``named_grads()`` at
each step. Parameters are updated in place; per-parameter state is keyed by name.

``weight_decay`` $\lambda$ adds $\lambda p$ to each gradient before the update: the gradient of
the L2 penalty $\frac{\lambda}{2}\lVert p\rVert^2$ (see :mod:`dlbook.nn.regularization`).
"""

from __future__ import annotations

import math

import numpy as np

from .nn.module import Module


class Optimizer:
    """Base class: holds the model, the hyper-parameters, and per-parameter ``state``."""

    def __init__(self, model: Module, lr: float, weight_decay: float) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"{type(self).__name__} expects a dlbook.nn.Module (whose parameters it updates), "
                            f"got {type(model).__name__}")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        self.model, self.lr, self.weight_decay = model, float(lr), float(weight_decay)
        self.state: dict[str, dict] = {}

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def _gradients(self):
        """(name, parameter, gradient + weight_decay * parameter) for every parameter."""
        grads = self.model.named_grads()
        for name, p in self.model.named_parameters().items():
            g = grads[name]
            yield name, p, (g + self.weight_decay * p if self.weight_decay else g)

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    r"""$b \leftarrow \mu b + (1 - \tau) g$ (``b = g`` on the first step), then $p \leftarrow p - \eta b$,
    or $p \leftarrow p - \eta (g + \mu b)$ with ``nesterov``. ``momentum=0`` is plain SGD."""

    def __init__(self, model: Module, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(model, lr, weight_decay)
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and zero dampening (as in torch)")
        self.momentum, self.dampening, self.nesterov = float(momentum), float(dampening), bool(nesterov)

    def step(self) -> None:
        for name, p, g in self._gradients():
            if self.momentum:
                state = self.state.setdefault(name, {})
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    buf = state["momentum_buffer"]
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                buf = state["momentum_buffer"]
                g = g + self.momentum * buf if self.nesterov else buf
            p -= self.lr * g


class Adam(Optimizer):
    r"""$m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$,
    $p \leftarrow p - \eta \,\dfrac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}$.

    ``weight_decay`` here is the coupled L2 term of ``torch.optim.Adam`` (not AdamW's).
    ``amsgrad`` uses the running maximum of $v$.
    """

    def __init__(self, model: Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(model, lr, weight_decay)
        if not all(0 <= b < 1 for b in betas) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas}")
        if eps < 0:
            raise ValueError(f"Adam: eps must be >= 0, got {eps}")
        self.betas, self.eps, self.amsgrad = (float(betas[0]), float(betas[1])), float(eps), bool(amsgrad)

    def step(self) -> None:
        b1, b2 = self.betas
        for name, p, g in self._gradients():
            state = self.state.setdefault(name, {})
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
                if self.amsgrad:
                    state["max_exp_avg_sq"] = np.zeros_like(p)
            state["step"] += 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            if self.amsgrad:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            t = state["step"]
            bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t
            denom = np.sqrt(v) / math.sqrt(bias2) + self.eps
            p -= (self.lr / bias1) * m / denom
