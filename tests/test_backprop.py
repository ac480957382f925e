"""Hand-written backpropagation (dlbook.backprop) against torch autograd and finite differences."""

import math

import matplotlib
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings, strategies as st

matplotlib.use("Agg")

from dlbook import backprop  # noqa: E402
from dlbook.backprop import (Graph, init_mlp, linear_backward, linear_forward, mlp_forward, mlp_loss_and_grads,  # noqa: E402
                             sigmoid_neuron_graph, torch_mlp_loss_and_grads)
from dlbook.check import numerical_gradient, rel_error  # noqa: E402
from dlbook.graph_plot import draw_graph, layout  # noqa: E402


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
    fig = draw_graph(g, "value", "gradient")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"{g.nodes['x1'].grad:.2f}" in texts and f"{g.nodes['f'].value:.2f}" in texts
    with pytest.raises(TypeError, match="Graph"):
        draw_graph({"x": 1})
    matplotlib.pyplot.close(fig)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 5), h=st.integers(1, 6), c=st.integers(2, 4),
       activation=st.sampled_from(["relu", "sigmoid"]), seed=st.integers(0, 1000))
def test_mlp_gradients_match_torch(n, d, h, c, activation, seed):
    rng = np.random.default_rng(seed)
    params = init_mlp(d, h, c, seed=seed)
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    loss, grads = mlp_loss_and_grads(params, x, y, activation)
    loss_t, grads_t = torch_mlp_loss_and_grads(params, x, y, activation)
    assert math.isclose(loss, loss_t, rel_tol=1e-12)
    for name in grads:
        assert grads[name].shape == params[name].shape
        assert rel_error(grads[name], grads_t[name]) < 1e-10, name


def test_mlp_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    params = init_mlp(4, 5, 3, seed=1)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    _, grads = mlp_loss_and_grads(params, x, y, "sigmoid")
    for name, p in params.items():
        numeric = numerical_gradient(lambda: mlp_loss_and_grads(params, x, y, "sigmoid")[0], p)
        assert rel_error(grads[name], numeric) < 1e-7, name


def test_a_wrong_relu_backward_is_caught(monkeypatch):
    monkeypatch.setattr(backprop, "ACTIVATIONS", {**backprop.ACTIVATIONS,
                                                  "relu": (backprop.relu_forward, lambda dy, mask: dy)})
    rng = np.random.default_rng(0)
    params = init_mlp(4, 8, 3)
    x, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    _, grads = mlp_loss_and_grads(params, x, y)
    _, grads_t = torch_mlp_loss_and_grads(params, x, y)
    assert rel_error(grads["fc1.weight"], grads_t["fc1.weight"]) > 1e-3


def test_linear_layer_is_the_transposed_column_rule():
    # rows-are-samples dx = dy W is (W^T dY^T)^T, the notes' dg/dX = W^T dh/dY in column layout
    rng = np.random.default_rng(0)
    x, w, b, dy = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((5, 4))
    out, cache = linear_forward(x, w, b)
    dx, dw, db = linear_backward(dy, cache)
    np.testing.assert_allclose(dx, (w.T @ dy.T).T)
    np.testing.assert_allclose(dw, dy.T @ x)
    np.testing.assert_allclose(db, dy.sum(0))


def test_errors():
    params = init_mlp(3, 4, 2)
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="linear_forward expects"):
        linear_forward(np.zeros((5, 2)), params["fc1.weight"], params["fc1.bias"])
    with pytest.raises(ValueError, match="dy of shape"):
        linear_backward(np.zeros((5, 3)), (x, params["fc1.weight"]))
    with pytest.raises(KeyError, match="fc2.bias"):
        mlp_forward({k: v for k, v in params.items() if k != "fc2.bias"}, x)
    with pytest.raises(ValueError, match="activation"):
        mlp_forward(params, x, "tanh")
    with pytest.raises(ValueError, match="shape"):
        mlp_forward(params, np.zeros(3))
    with pytest.raises(ValueError, match="positive int"):
        init_mlp(0, 4, 2)
    bad = dict(params, **{"fc2.weight": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="hidden units"):
        mlp_forward(bad, x)


@pytest.mark.gpu
def test_mlp_gradients_match_torch_on_cuda():
    rng = np.random.default_rng(0)
    params = init_mlp(8, 16, 4, seed=0)
    x, y = rng.standard_normal((32, 8)), rng.integers(0, 4, 32)
    loss, grads = mlp_loss_and_grads(params, x, y)
    loss_t, grads_t = torch_mlp_loss_and_grads(params, x, y, device="cuda")
    assert math.isclose(loss, loss_t, rel_tol=1e-10)
    for name in grads:
        assert rel_error(grads[name], grads_t[name]) < 1e-10, name


def test_symbolic_grads_agree_with_backward_at_every_node():
    g = sigmoid_neuron_graph(1.5, -0.5, 0.25, 2.0, -1.0)
    exact = backprop.symbolic_grads(g, "f")
    assert set(exact) == set(g.nodes)
    for name, grad in g.grads().items():  # inner nodes too, not only the inputs
        assert math.isclose(grad, exact[name], rel_tol=1e-12, abs_tol=1e-15), name
    # d f / d(1+e) = -1/(1+e)^2, from the formula rather than from either implementation
    assert math.isclose(exact["1+e"], -1 / g.nodes["1+e"].value ** 2, rel_tol=1e-12)


def test_symbolic_grads_catch_a_wrong_local_derivative(monkeypatch):
    forward, _, symbol = backprop.OPS["exp"]
    monkeypatch.setitem(backprop.OPS, "exp", (forward, lambda ins, out: (ins[0],), symbol))  # e^u -> u
    g = sigmoid_neuron_graph()
    exact = backprop.symbolic_grads(g, "f")  # sympy does not use OPS' local derivatives
    assert not math.isclose(g.grads()["-z"], exact["-z"], rel_tol=1e-3)


def test_symbolic_grads_errors(monkeypatch):
    g = Graph()
    g.input("x", 2.0)
    with pytest.raises(KeyError, match="no node"):
        backprop.symbolic_grads(g, "y")
    with pytest.raises(TypeError, match="Graph"):
        backprop.symbolic_grads({"x": 2.0}, "x")
    monkeypatch.setitem(backprop.OPS, "sq", (lambda a: a * a, lambda ins, out: (2 * ins[0],), "²"))
    g.apply("y", "sq", "x")
    with pytest.raises(ValueError, match="SYMPY_OPS"):
        backprop.symbolic_grads(g, "y")
