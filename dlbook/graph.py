r"""Backpropagation on a computational graph of scalars, written from the chain rule.

Each node of a :class:`Graph` keeps its value from the forward pass; :meth:`Graph.backward`
walks the nodes in reverse and multiplies each upstream gradient by the node's local
derivative: the chain rule, one gate at a time (cs231n's circuit diagrams).
:func:`symbolic_grads` recomputes every node's gradient with sympy, as an independent check,
and :func:`draw_graph` draws the circuit: values above the wires, gradients below
(matplotlib only; inputs sit one column left of their first consumer, every operation one
column right of its deepest input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import sympy as sp



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
        raise TypeError(f"symbolic_grads expects a dlbook.graph.Graph, got {type(graph).__name__}")
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


# -- drawing ------------------------------------------------------------------------------------
VALUE_COLOR, GRAD_COLOR = "tab:green", "tab:red"
_LABEL_BOX = dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.85)  # keeps wires from crossing numbers


def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """(column, height) of every node."""
    depth: dict[str, int] = {}
    for name, node in graph.nodes.items():
        if node.op is not None:
            depth[name] = 1 + max(depth.get(i, 0) for i in node.inputs)
    for name, node in graph.nodes.items():  # inputs: just left of their first consumer
        if node.op is None:
            consumers = [depth[n] for n, other in graph.nodes.items() if name in other.inputs]
            depth[name] = (min(consumers) - 1) if consumers else 0
    pos: dict[str, tuple[float, float]] = {}
    row = 0.0
    for name, node in graph.nodes.items():
        if node.op is None:
            pos[name] = (depth[name], -row)
            row += 1.0
        else:
            pos[name] = (depth[name], sum(pos[i][1] for i in node.inputs) / len(node.inputs))
    return pos


def draw_graph(graph: Graph, value_label: str = "value", grad_label: str = "gradient", ax=None, title: str | None = None):
    """Plot the graph; each wire carries the value of its source (green) and the gradient of the output
    with respect to it (red). Returns the figure."""
    if not isinstance(graph, Graph):
        raise TypeError(f"draw_graph expects a dlbook.graph.Graph, got {type(graph).__name__}")
    pos = layout(graph)
    if ax is None:
        width = max(x for x, _ in pos.values()) + 2
        height = max(1 - y for _, y in pos.values()) + 1
        _, ax = plt.subplots(figsize=(1.5 * width, 0.9 * height + 0.6))
    ax.set_axis_off()
    for name, node in graph.nodes.items():
        x, y = pos[name]
        if node.op is None:
            ax.text(x, y, name, ha="center", va="center", fontsize=12)
        else:
            ax.text(x, y, OPS[node.op][2], ha="center", va="center", fontsize=11,
                    bbox=dict(boxstyle="circle,pad=0.35", fc="white", ec="0.3"))
        for source in node.inputs:
            sx, sy = pos[source]
            ax.annotate("", xy=(x - 0.22, y), xytext=(sx + 0.22, sy),
                        arrowprops=dict(arrowstyle="->", color="0.4", lw=1.2))
            mx, my = sx + 0.4 * (x - sx), sy + 0.4 * (y - sy)  # near the source: converging wires stay apart
            ax.text(mx, my + 0.04, f"{graph.nodes[source].value:.2f}", color=VALUE_COLOR, ha="center", va="bottom",
                    fontsize=9, bbox=_LABEL_BOX)
            ax.text(mx, my - 0.04, f"{graph.nodes[source].grad:.2f}", color=GRAD_COLOR, ha="center", va="top",
                    fontsize=9, bbox=_LABEL_BOX)
    out = list(graph.nodes)[-1]  # the last node: the output wire
    x, y = pos[out]
    ax.annotate("", xy=(x + 0.8, y), xytext=(x + 0.22, y), arrowprops=dict(arrowstyle="->", color="0.4", lw=1.2))
    ax.text(x + 0.5, y + 0.04, f"{graph.nodes[out].value:.2f}", color=VALUE_COLOR, ha="center", va="bottom", fontsize=9)
    ax.text(x + 0.5, y - 0.04, f"{graph.nodes[out].grad:.2f}", color=GRAD_COLOR, ha="center", va="top", fontsize=9)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.plot([], [], color=VALUE_COLOR, label=value_label)
    ax.plot([], [], color=GRAD_COLOR, label=grad_label)
    ax.legend(loc="lower right", frameon=False)
    if title:
        ax.set_title(title)
    return ax.figure
