r"""``SGD`` (momentum, Nesterov, weight decay) and ``Adam``, step for step as in ``torch.optim``.

Written as in torch: ``SGD(model.parameters(), lr=0.1)``, or a list of parameter groups
(``[{"params": [model.weight], "weight_decay": 1e-3}, {"params": [model.bias]}]``), each
group with its own hyper-parameters. A parameter's gradient is its ``.grad`` (see
:class:`dlbook.nn.Parameter`); parameters without one are skipped, as in torch. Parameters
are updated in place, so a parameter shared by two layers is one entry, stepped once.

``weight_decay`` $\lambda$ adds $\lambda p$ to each gradient before the update: the gradient of
the L2 penalty $\frac{\lambda}{2}\lVert p\rVert^2$ (see :mod:`dlbook.nn.regularization`).
"""

from __future__ import annotations

import math

import numpy as np

from .nn.module import Module, Parameter


class Optimizer:
    """Base class: ``param_groups`` (lists of parameters with their hyper-parameters) and
    per-parameter ``state``."""

    def __init__(self, params, defaults: dict) -> None:
        if isinstance(params, Module):
            raise TypeError(f"{type(self).__name__} expects parameters, as in torch: pass model.parameters()")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}  # keyed by id(parameter)
        seen: set[int] = set()
        for group in groups:
            self.add_param_group(group, seen)

    def add_param_group(self, group: dict, seen: set[int] | None = None) -> None:
        seen = {id(p) for g in self.param_groups for p in g["params"]} if seen is None else seen
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"a parameter group is a dict with a 'params' list, got {group!r}")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyper-parameters {sorted(unknown)}; "
                             f"expected some of {sorted(self.defaults)}")
        params = list(group["params"])
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__} optimizes dlbook.nn.Parameter arrays, got "
                                f"{type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter appears twice in the parameter groups")
            seen.add(id(p))
        group = {**self.defaults, **group, "params": params}
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group: dict) -> None:
        name = type(self).__name__
        if group["lr"] < 0:
            raise ValueError(f"{name}: lr must be >= 0, got {group['lr']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"{name}: weight_decay must be >= 0, got {group['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def _gradients(self, group: dict):
        """(parameter, its state, gradient + weight_decay * parameter) for each parameter with a gradient."""
        decay = group["weight_decay"]
        for p in group["params"]:
            if getattr(p, "replaced_by_to", False):
                raise RuntimeError(f"{type(self).__name__} holds a parameter that Module.to() has replaced by a "
                                   f"cast copy; build the optimizer after .to()")
            if p.grad is not None:
                yield p, self.state.setdefault(id(p), {}), (p.grad + decay * p if decay else p.grad)

    def step(self) -> None:
        for group in self.param_groups:
            self.step_group(group)

    def step_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    r"""$b \leftarrow \mu b + (1 - \tau) g$ (``b = g`` on the first step), then $p \leftarrow p - \eta b$,
    or $p \leftarrow p - \eta (g + \mu b)$ with ``nesterov``. ``momentum=0`` is plain SGD."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=float(lr), momentum=float(momentum), dampening=float(dampening),
                                      weight_decay=float(weight_decay), nesterov=bool(nesterov)))

    def _check(self, group: dict) -> None:
        super()._check(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and zero dampening (as in torch)")

    def step_group(self, group: dict) -> None:
        momentum, dampening = group["momentum"], group["dampening"]
        for p, state, g in self._gradients(group):
            if momentum:
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += (1 - dampening) * g
                buf = state["momentum_buffer"]
                g = g + momentum * buf if group["nesterov"] else buf
            p -= group["lr"] * g


class Adam(Optimizer):
    r"""$m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$,
    $p \leftarrow p - \eta \,\dfrac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}$.

    ``weight_decay`` here is the coupled L2 term of ``torch.optim.Adam`` (not AdamW's).
    ``amsgrad`` uses the running maximum of $v$.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, dict(lr=float(lr), betas=tuple(float(b) for b in betas), eps=float(eps),
                                      weight_decay=float(weight_decay), amsgrad=bool(amsgrad)))

    def _check(self, group: dict) -> None:
        super()._check(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas}")
        if group["eps"] < 0:
            raise ValueError(f"Adam: eps must be >= 0, got {group['eps']}")

    def step_group(self, group: dict) -> None:
        b1, b2 = group["betas"]
        for p, state, g in self._gradients(group):
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(np.asarray(p)), exp_avg_sq=np.zeros_like(np.asarray(p)))
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = np.zeros_like(np.asarray(p))
            state["step"] += 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            if group["amsgrad"]:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            t = state["step"]
            bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t
            denom = np.sqrt(v) / math.sqrt(bias2) + group["eps"]
            p -= (group["lr"] / bias1) * m / denom
