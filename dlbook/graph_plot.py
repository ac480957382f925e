"""Draw a :class:`dlbook.backprop.Graph` as a circuit: values above the wires, gradients below.

Matplotlib only (no graphviz). Inputs sit one column left of their first consumer; every
operation sits one column right of its deepest input, at the mean height of its inputs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .backprop import OPS, Graph

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
        raise TypeError(f"draw_graph expects a dlbook.backprop.Graph, got {type(graph).__name__}")
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
