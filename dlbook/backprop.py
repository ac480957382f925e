r"""Backpropagation written by hand from the chain rule (chapter 2).

Two pieces:

* a **computational graph** of scalars (:class:`Graph`): each node keeps its value from the forward
  pass; :meth:`Graph.backward` walks the nodes in reverse and multiplies each upstream gradient by
  the node's local derivative — the chain rule, one gate at a time (cs231n's circuit diagrams);
  :func:`symbolic_grads` recomputes every node's gradient with sympy, as an independent check;
* a **2-layer MLP** ``Linear -> activation -> Linear -> cross-entropy`` as functional forward/backward
  pairs with explicit caches (cs231n style). Layouts follow ``torch.nn.Linear``: samples are rows,
  ``weight`` is (out_features, in_features), so a layer computes $y = x W^\top + b$ and its backward
  pass is the transpose of the chapter's column form $\partial g/\partial X = W^\top\,\partial h/\partial Y$:
  ``dx = dy @ W``, ``dW = dy.T @ x``, ``db = dy.sum(0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .nn.functional import cross_entropy, cross_entropy_backward


# -- a scalar computational graph ----------------------------------------------------------------
#: op -> (forward(*inputs), local derivatives d out / d input_k given (inputs, out), symbol drawn)
OPS = {
    "add": (lambda a, b: a + b, lambda ins, out: (1.0, 1.0), "+"),
    "mul": (lambda a, b: a * b, lambda ins, out: (ins[1], ins[0]), "×"),
    "neg": (lambda a: -a, lambda ins, out: (-1.0,), "×(−1)"),
    "exp": (math.exp, lambda ins, out: (out,), "exp"),
    "add1": (lambda a: a + 1.0, lambda ins, out: (1.0,), "+1"),
    "inv": (lambda a: 1.0 / a, lambda ins, out: (-1.0 / ins[0] ** 2,), "1/x"),
}


@dataclass
class Node:
    """One value in the graph: an input (``op`` None) or the result of ``op`` on earlier nodes."""

    name: str
    value: float
    op: str | None = None
    inputs: tuple[str, ...] = ()
    grad: float = 0.0


class Graph:
    """A scalar expression built node by node; values on the way forward, gradients on the way back."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}  # insertion order is a topological order

    def input(self, name: str, value: float) -> str:
        self._new_name(name)
        self.nodes[name] = Node(name, float(value))
        return name

    def apply(self, name: str, op: str, *inputs: str) -> str:
        """Add node ``name = op(*inputs)`` and compute its value."""
        self._new_name(name)
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}; expected one of {sorted(OPS)}")
        missing = [i for i in inputs if i not in self.nodes]
        if missing:
            raise KeyError(f"{name}: inputs {missing} are not in the graph (add them first)")
        forward = OPS[op][0]
        arity = forward.__code__.co_argcount if hasattr(forward, "__code__") else 1
        if len(inputs) != arity:
            raise ValueError(f"{op} takes {arity} input(s), got {len(inputs)}")
        self.nodes[name] = Node(name, float(forward(*(self.nodes[i].value for i in inputs))), op, tuple(inputs))
        return name

    def _new_name(self, name: str) -> None:
        if name in self.nodes:
            raise ValueError(f"node {name!r} already exists")

    def backward(self, output: str) -> dict[str, float]:
        """d output / d node for every node; each node passes grad × local derivative
        to its inputs."""
        if output not in self.nodes:
            raise KeyError(f"no node {output!r}")
        for node in self.nodes.values():
            node.grad = 0.0
        self.nodes[output].grad = 1.0
        for node in reversed(list(self.nodes.values())):
            if node.op is None:
                continue
            ins = [self.nodes[i].value for i in node.inputs]
            for name, local in zip(node.inputs, OPS[node.op][1](ins, node.value)):
                # += : a value used twice collects both paths
                self.nodes[name].grad += node.grad * local
        return self.grads()

    def values(self) -> dict[str, float]:
        return {name: node.value for name, node in self.nodes.items()}

    def grads(self) -> dict[str, float]:
        return {name: node.grad for name, node in self.nodes.items()}


#: op -> the same forward function on sympy expressions (no local derivatives: sympy finds its own)
SYMPY_OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "neg": lambda a: -a,
    "exp": lambda a: sp.exp(a),
    "add1": lambda a: a + 1,
    "inv": lambda a: 1 / a,
}


def symbolic_grads(graph: Graph, output: str) -> dict[str, float]:
    r"""d output / d node for every node, by sympy and without :data:`OPS`'s local derivatives.

    For each node $v$ in turn, the graph is re-evaluated symbolically with $v + t$ in place of
    $v$ (everything downstream of $v$ follows), and sympy differentiates the output in $t$ at
    $t = 0$. Inputs enter as exact rationals, so the only rounding is the final ``float``. This is
    an independent check of :meth:`Graph.backward`, including the gradients of inner nodes.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"symbolic_grads expects a dlbook.backprop.Graph, got {type(graph).__name__}")
    if output not in graph.nodes:
        raise KeyError(f"no node {output!r}")
    missing = sorted({n.op for n in graph.nodes.values() if n.op is not None} - set(SYMPY_OPS))
    if missing:
        raise ValueError(f"no sympy version of op(s) {missing}; add them to SYMPY_OPS")
    t = sp.Symbol("t")
    grads = {}
    for target in graph.nodes:
        value: dict[str, sp.Expr] = {}
        for name, node in graph.nodes.items():
            if node.op is None:
                value[name] = sp.Rational(node.value)
            else:
                value[name] = SYMPY_OPS[node.op](*(value[i] for i in node.inputs))
            if name == target:
                value[name] = value[name] + t
        grads[target] = float(sp.diff(value[output], t).subs(t, 0).evalf(30))
    return grads


def sigmoid_neuron_graph(w0: float = 2.0, x0: float = -1.0, w1: float = -3.0, x1: float = -2.0,
                         w2: float = -3.0) -> Graph:
    r"""$f = 1/(1 + e^{-(w_0 x_0 + w_1 x_1 + w_2)})$ gate by gate (cs231n's example), gradients filled in."""
    g = Graph()
    for name, value in (("w0", w0), ("x0", x0), ("w1", w1), ("x1", x1), ("w2", w2)):
        g.input(name, value)
    g.apply("w0x0", "mul", "w0", "x0")
    g.apply("w1x1", "mul", "w1", "x1")
    g.apply("s", "add", "w0x0", "w1x1")
    g.apply("z", "add", "s", "w2")
    g.apply("-z", "neg", "z")
    g.apply("e", "exp", "-z")
    g.apply("1+e", "add1", "e")
    g.apply("f", "inv", "1+e")
    g.backward("f")
    return g


# -- layers as forward/backward pairs with explicit caches ----------------------------------------------
def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray):
    """y = x @ weight.T + bias.  x: (N, D), weight: (H, D), bias: (H,) -> y: (N, H), cache."""
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1] or bias.shape != (weight.shape[0],):
        raise ValueError(f"linear_forward expects x (N, D), weight (H, D), bias (H,); got x {x.shape}, "
                         f"weight {weight.shape}, bias {bias.shape}")
    return x @ weight.T + bias, (x, weight)


def linear_backward(dy: np.ndarray, cache):
    """dy: (N, H) -> dx (N, D) = dy W, dweight (H, D) = dyᵀ x,
    dbias (H,) = column sums of dy."""
    x, weight = cache
    if dy.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(f"linear_backward expects dy of shape "
                         f"{(x.shape[0], weight.shape[0])}, got {dy.shape}")
    return dy @ weight, dy.T @ x, dy.sum(axis=0)


def relu_forward(x: np.ndarray):
    """max(x, 0) elementwise; the cache is the mask of positive inputs."""
    return np.maximum(x, 0), x > 0


def relu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """The gradient passes where the input was positive (0 at x = 0, as torch does)."""
    return dy * cache


def sigmoid_forward(x: np.ndarray):
    """1 / (1 + exp(-x)), computed without overflow; the cache is the output."""
    out = np.exp(-np.logaddexp(0, -x))
    return out, out


def sigmoid_backward(dy: np.ndarray, cache) -> np.ndarray:
    """σ'(x) = σ(x)(1 − σ(x)), read off the cached output."""
    return dy * cache * (1 - cache)


ACTIVATIONS = {"relu": (relu_forward, relu_backward), "sigmoid": (sigmoid_forward, sigmoid_backward)}
PARAM_NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def init_mlp(in_features: int, hidden: int, classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 parameters drawn like torch.nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    for what, v in (("in_features", in_features), ("hidden", hidden), ("classes", classes)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a positive int, got {v!r}")
    rng = np.random.default_rng(seed)
    bound1, bound2 = 1 / math.sqrt(in_features), 1 / math.sqrt(hidden)
    return {"fc1.weight": rng.uniform(-bound1, bound1, (hidden, in_features)),
            "fc1.bias": rng.uniform(-bound1, bound1, hidden),
            "fc2.weight": rng.uniform(-bound2, bound2, (classes, hidden)),
            "fc2.bias": rng.uniform(-bound2, bound2, classes)}


def _check_mlp(params: dict, x: np.ndarray, activation: str) -> None:
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise KeyError(f"params lack {missing}; expected keys {PARAM_NAMES} (see init_mlp)")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"x must be an array of shape (N, in_features), got {getattr(x, 'shape', type(x).__name__)}")
    if params["fc2.weight"].shape[1] != params["fc1.weight"].shape[0]:
        raise ValueError(f"fc2.weight {params['fc2.weight'].shape} must take fc1's "
                         f"{params['fc1.weight'].shape[0]} hidden units")


def mlp_forward(params: dict, x: np.ndarray, activation: str = "relu"):
    """Layer by layer: z1 = x W1ᵀ + b1, a1 = act(z1), scores = a1 W2ᵀ + b2.

    x: (N, D) -> scores (N, C), and the caches of the three layers
    (what backward needs).
    """
    _check_mlp(params, x, activation)
    act_forward, _ = ACTIVATIONS[activation]
    z1, fc1_cache = linear_forward(x, params["fc1.weight"], params["fc1.bias"])
    a1, act_cache = act_forward(z1)
    scores, fc2_cache = linear_forward(a1, params["fc2.weight"], params["fc2.bias"])
    return scores, {"fc1": fc1_cache, "act": act_cache, "fc2": fc2_cache,
                    "activation": activation}


def mlp_backward(dscores: np.ndarray, caches: dict) -> dict[str, np.ndarray]:
    """The same layers in reverse, each turning the upstream gradient into its own:
    (N, C) -> grads by name."""
    _, act_backward = ACTIVATIONS[caches["activation"]]
    da1, grads_w2, grads_b2 = linear_backward(dscores, caches["fc2"])
    dz1 = act_backward(da1, caches["act"])
    _, grads_w1, grads_b1 = linear_backward(dz1, caches["fc1"])
    return {"fc1.weight": grads_w1, "fc1.bias": grads_b1,
            "fc2.weight": grads_w2, "fc2.bias": grads_b2}


def mlp_loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray, activation: str = "relu"):
    """Mean softmax cross-entropy of the MLP on (x, y) and its gradient for every parameter."""
    scores, caches = mlp_forward(params, x, activation)
    loss = float(cross_entropy(scores, y))
    return loss, mlp_backward(cross_entropy_backward(scores, y), caches)


def torch_mlp_loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray, activation: str = "relu", device=None):
    """The reference: the same MLP in torch (float64), gradients by autograd."""
    import torch
    import torch.nn.functional as F

    from .devices import resolve_device

    _check_mlp(params, x, activation)
    device = resolve_device(device)
    p = {k: torch.tensor(params[k], dtype=torch.float64, device=device, requires_grad=True) for k in PARAM_NAMES}
    xt = torch.tensor(x, dtype=torch.float64, device=device)
    act = torch.relu if activation == "relu" else torch.sigmoid
    scores = F.linear(act(F.linear(xt, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])
    loss = F.cross_entropy(scores, torch.as_tensor(y, device=device))
    loss.backward()
    return loss.item(), {k: v.grad.cpu().numpy() for k, v in p.items()}


def train_mlp_on_digits(hidden: int = 64, steps: int = 300, lr: float = 0.5, seed: int = 0) -> dict:
    """Full-batch gradient descent on the digits with :func:`mlp_loss_and_grads` (ReLU hidden layer).

    Returns ``{"losses": (steps,) training losses, "test_acc": float, "params": final parameters}``.
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn
    from tqdm.auto import tqdm

    from .data import load_digits_split

    split = load_digits_split(seed=seed)
    params = init_mlp(split.X_train.shape[1], hidden, split.n_classes, seed=seed)
    losses = np.empty(steps)
    # matrices this small gain nothing from BLAS threads, and on a busy machine their
    # synchronisation costs 100x (measured: 15 ms vs 0.13 ms for a (1347, 10) @ (10, 64) product)
    with threadpool_limits(1, user_api="blas"):
        for t in tqdm(range(steps), desc="MLP on digits", disable=None):
            losses[t], grads = mlp_loss_and_grads(params, split.X_train, split.y_train)
            for name in PARAM_NAMES:
                params[name] -= lr * grads[name]
    scores, _ = mlp_forward(params, split.X_test)
    return {"losses": losses, "test_acc": float(np.mean(scores.argmax(axis=1) == split.y_test)), "params": params}
