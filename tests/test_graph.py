"""The scalar computational graph (dlbook.graph): backward against torch autograd and sympy, and its drawing."""

import math

import matplotlib
import pytest
import sympy as sp
import torch
from hypothesis import given, settings, strategies as st

matplotlib.use("Agg")

from dlbook import graph  # noqa: E402
from dlbook.graph import Graph, draw_graph, layout, sigmoid_neuron_graph, symbolic_grads  # noqa: E402


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.floats(-3, 3), min_size=5, max_size=5))
def test_sigmoid_neuron_graph_matches_torch(values):
    g = sigmoid_neuron_graph(*values)
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    w0, x0, w1, x1, w2 = leaves
    f = torch.sigmoid(w0 * x0 + w1 * x1 + w2)
    f.backward()
    assert math.isclose(g.values()["f"], f.item(), rel_tol=1e-12)
    for name, leaf in zip(("w0", "x0", "w1", "x1", "w2"), leaves):
        # abs_tol: a gradient that is 0 in exact arithmetic (an input of 0) is ~1e-17 either way
        assert math.isclose(g.grads()[name], leaf.grad.item(), rel_tol=1e-10, abs_tol=1e-14)


def test_sigmoid_neuron_graph_matches_sympy():
    w0, x0, w1, x1, w2 = sp.symbols("w0 x0 w1 x1 w2")
    f = 1 / (1 + sp.exp(-(w0 * x0 + w1 * x1 + w2)))
    point = {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}
    g = sigmoid_neuron_graph()
    for s in point:
        assert math.isclose(g.grads()[s.name], float(sp.diff(f, s).subs(point)), rel_tol=1e-12)


def test_a_value_used_twice_collects_both_gradients():
    g = Graph()
    g.input("x", 3.0)
    g.apply("sq", "mul", "x", "x")
    assert g.backward("sq")["x"] == 6.0  # d(x*x)/dx = 2x: both wires contribute


def test_graph_errors():
    g = Graph()
    g.input("x", 1.0)
    with pytest.raises(ValueError, match="already exists"):
        g.input("x", 2.0)
    with pytest.raises(ValueError, match="unknown op"):
        g.apply("y", "pow", "x")
    with pytest.raises(KeyError, match="not in the graph"):
        g.apply("y", "add", "x", "z")
    with pytest.raises(ValueError, match="takes 2 input"):
        g.apply("y", "mul", "x")
    with pytest.raises(KeyError, match="no node"):
        g.backward("nothing")


def test_graph_drawing_layout_and_errors():
    g = sigmoid_neuron_graph()
    pos = layout(g)
    for node in g.nodes.values():  # every wire runs left to right
        for source in node.inputs:
            assert pos[source][0] < pos[node.name][0]
    fig = draw_graph(g, "value", "gradient", title="neuron")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for node in g.nodes.values():  # every wire carries its value and its gradient
        assert f"{node.value:.2f}" in texts and f"{node.grad:.2f}" in texts, node.name
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["value", "gradient"]
    assert ax.get_title() == "neuron"
    with pytest.raises(TypeError, match=r"dlbook\.graph\.Graph"):
        draw_graph({"x": 1})
    matplotlib.pyplot.close(fig)


def test_symbolic_grads_agree_with_backward_at_every_node():
    g = sigmoid_neuron_graph(1.5, -0.5, 0.25, 2.0, -1.0)
    exact = symbolic_grads(g, "f")
    assert set(exact) == set(g.nodes)
    for name, grad in g.grads().items():  # inner nodes too, not only the inputs
        assert math.isclose(grad, exact[name], rel_tol=1e-12, abs_tol=1e-15), name
    # d f / d(1+e) = -1/(1+e)^2, from the formula rather than from either implementation
    assert math.isclose(exact["1+e"], -1 / g.nodes["1+e"].value ** 2, rel_tol=1e-12)


def test_symbolic_grads_catch_a_wrong_local_derivative(monkeypatch):
    forward, _, symbol = graph.OPS["exp"]
    monkeypatch.setitem(graph.OPS, "exp", (forward, lambda ins, out: (ins[0],), symbol))  # e^u -> u
    g = sigmoid_neuron_graph()
    exact = symbolic_grads(g, "f")  # sympy does not use OPS' local derivatives
    assert not math.isclose(g.grads()["-z"], exact["-z"], rel_tol=1e-3)


def test_symbolic_grads_errors(monkeypatch):
    g = Graph()
    g.input("x", 2.0)
    with pytest.raises(KeyError, match="no node"):
        symbolic_grads(g, "y")
    with pytest.raises(TypeError, match=r"dlbook\.graph\.Graph"):
        symbolic_grads({"x": 2.0}, "x")
    monkeypatch.setitem(graph.OPS, "sq", (lambda a: a * a, lambda ins, out: (2 * ins[0],), "²"))
    g.apply("y", "sq", "x")
    with pytest.raises(ValueError, match="SYMPY_OPS"):
        symbolic_grads(g, "y")
