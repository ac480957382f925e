r"""``SGD`` (momentum, Nesterov, weight decay) and ``Adam``, step for step as in ``torch.optim``.

Written as in torch: ``SGD(model.parameters(), lr=0.1)``, or a list of parameter groups
(``[{"params": [model.weight], "weight_decay": 1e-3}, {"params": [model.bias]}]``), each
group with its own hyper-parameters. A parameter's gradient is its ``.grad`` (see
:class:`dlbook.nn.Parameter`); parameters without one are skipped, as in torch. Parameters
are updated in place, so a parameter shared by two layers is one entry, stepped once.

``weight_decay`` $\lambda$ adds $\lambda p$ to each gradient before the update: the gradient of
the L2 penalty $\frac{\lambda}{2}\lVert p\rVert^2$ (see :mod:`dlbook.nn.regularization`).

Learning-rate schedules, as in ``torch.optim.lr_scheduler``: :class:`StepLR`,
:class:`ExponentialLR` and :class:`CosineAnnealingLR` (also reachable as
``dlbook.optim.lr_scheduler.StepLR``, torch's path). A scheduler writes each group's ``lr`` when
its ``step()`` is called, once per epoch (``dlbook.train.fit(..., scheduler=...)`` does it).
"""

from __future__ import annotations

import math
import sys
import types

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
        """(parameter, its state, gradient + weight_decay * parameter) for each
        parameter with a gradient."""
        decay = group["weight_decay"]
        for p in group["params"]:
            if getattr(p, "replaced_by_to", False):
                raise RuntimeError(f"{type(self).__name__} holds a parameter that "
                                   f"Module.to() has replaced by a cast copy; "
                                   f"build the optimizer after .to()")
            if p.grad is not None:
                # the gradient of the L2 penalty is weight_decay * p
                g = (p.grad + decay * p if decay else p.grad)
                yield p, self.state.setdefault(id(p), {}), g

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
            if not state:  # the first step: both averages start at 0
                zeros = np.zeros_like(np.asarray(p))
                state.update(step=0, exp_avg=zeros.copy(), exp_avg_sq=zeros.copy())
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


class LRScheduler:
    """Base class of the learning-rate schedules, as ``torch.optim.lr_scheduler.LRScheduler``.

    On construction (``last_epoch=-1``) each parameter group remembers its ``lr`` as
    ``initial_lr`` (the ``base_lrs``) and the scheduler takes its first step, to epoch 0, which
    leaves the learning rates as they are. Each later ``step()`` moves to the next epoch and
    writes the new ``lr`` into every group. ``state_dict()`` holds the same entries as torch's,
    so a schedule can be saved and resumed (``load_state_dict``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name} schedules a dlbook.optim optimizer, got {type(optimizer).__name__} "
                            f"(a torch.optim optimizer takes torch.optim.lr_scheduler.{name})")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, (int, np.integer)) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an int >= -1 (-1 starts a new schedule), "
                             f"got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param_groups[{i}] has no 'initial_lr', so the schedule cannot "
                                   f"resume at last_epoch={last_epoch}; start it with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._step_count = 0
        self._is_initial = True  # the first step, from the constructor, keeps the learning rates
        self._get_lr_called_within_step = False
        self.step()
        self._is_initial = False

    @staticmethod
    def _positive_int(name: str, value) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int (a number of epochs), got {value!r}")
        return int(value)

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        """The learning rates of the epoch ``last_epoch`` (just reached), one per group."""
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch; write its learning rate into every parameter group."""
        self._step_count += 1
        self.last_epoch += 1
        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as torch's (the same keys)."""
        return {key: (list(value) if isinstance(value, list) else value)
                for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` epochs:
    $\eta_t = \eta_0\,\gamma^{\lfloor t / \text{step\_size} \rfloor}$ (written as torch does,
    ``lr * gamma`` at each multiple of ``step_size``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = self._positive_int("StepLR: step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every epoch: $\eta_t = \eta_0\,\gamma^t$."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        if not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be > 0, got {gamma}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    r"""$\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t / T_{\max}))$:
    from the initial rate down to ``eta_min`` at epoch ``T_max`` (and back up after it), updated
    recursively from the current ``lr`` exactly as torch does, so the floats agree."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = self._positive_int("CosineAnnealingLR: T_max", T_max)
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min}")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:  # resumed: the closed form
            return [low + (base - low) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # the bottom of a cycle: the ratio below is 0/0
            return [group["lr"] + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (group["lr"] - low) + low for group in groups]


#: ``dlbook.optim.lr_scheduler.StepLR`` etc., the path torch uses (torch.optim.lr_scheduler).
lr_scheduler = types.ModuleType(f"{__name__}.lr_scheduler", "Learning-rate schedules, as torch.optim.lr_scheduler.")
for _cls in (LRScheduler, StepLR, ExponentialLR, CosineAnnealingLR):
    setattr(lr_scheduler, _cls.__name__, _cls)
sys.modules[lr_scheduler.__name__] = lr_scheduler
del _cls
