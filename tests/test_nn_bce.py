"""BCEWithLogitsLoss / BCELoss and their functional forms against torch, the written-out formula and
finite differences; stable at extreme logits; one forward call per backward, last in first out;
bad input refused. (torch's own module_db cases for both layers run in test_torch_module_db.py.)"""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, gradcheck, numerical_gradient, rel_error
from dlbook.nn import functional as F

RTOL = 1e-12
TF = torch.nn.functional


def _data(shape=(6, 4), seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal(shape)).astype(dtype)
    labels = rng.integers(0, 2, shape).astype(dtype)
    probs = rng.uniform(0, 1, shape).astype(dtype)
    return logits, labels, probs


def _t(a):
    return None if a is None else torch.tensor(a)


def _close(ours, theirs, rtol=RTOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.shape(ours) == np.shape(theirs)
    err = rel_error(ours, theirs)
    assert err <= rtol, f"relative error {err:.3e} > {rtol:.0e}"


WEIGHTS = {  # name -> (weight, pos_weight) for (6, 4) logits; negative weights allowed, as in torch
    "plain": (None, None),
    "weight (C,)": (np.array([0.5, 2.0, -1.0, 3.0]), None),
    "weight scalar": (np.array(0.7), None),
    "weight (N, 1)": (np.linspace(0.1, 2.0, 6)[:, None], None),
    "pos_weight (C,)": (None, np.array([1.0, 3.0, 0.25, 10.0])),
    "both": (np.array([0.5, 2.0, 1.0, 3.0]), np.array([2.0, 0.5, 1.0, 4.0])),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_kind", ["labels", "probabilities"])
@pytest.mark.parametrize("case", sorted(WEIGHTS))
def test_with_logits_matches_torch(case, target_kind, reduction):
    weight, pos_weight = WEIGHTS[case]
    x, labels, probs = _data()
    t = labels if target_kind == "labels" else probs
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.binary_cross_entropy_with_logits(xt, _t(t), _t(weight), reduction=reduction,
                                             pos_weight=_t(pos_weight))
    loss = F.binary_cross_entropy_with_logits(x, t, weight, reduction=reduction, pos_weight=pos_weight)
    _close(loss, lt)
    upstream = np.random.default_rng(1).standard_normal(lt.shape)
    lt.backward(torch.tensor(upstream))
    dx = F.binary_cross_entropy_with_logits_backward(x, t, upstream, weight, reduction=reduction,
                                                     pos_weight=pos_weight)
    _close(dx, xt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_on_probabilities_matches_torch(weighted, reduction):
    _, labels, probs = _data()
    x = probs.copy()
    x[0, :3] = [0.0, 1.0, 1e-20]  # the clamps: log 0 -> -100, x(1 - x) -> 1e-12
    weight = np.array([0.5, 2.0, 1.0, 3.0]) if weighted else None
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.binary_cross_entropy(xt, _t(labels), _t(weight), reduction=reduction)
    _close(F.binary_cross_entropy(x, labels, weight, reduction=reduction), lt)
    upstream = np.random.default_rng(2).standard_normal(lt.shape)
    lt.backward(torch.tensor(upstream))
    _close(F.binary_cross_entropy_backward(x, labels, upstream, weight, reduction=reduction), xt.grad)


def test_with_logits_equals_the_written_out_definition():
    """-w [p t log σ(x) + (1 - t) log(1 - σ(x))], each σ and log evaluated as written (moderate x)."""
    x, _, t = _data(seed=4)
    w, p = np.array([0.5, 2.0, 1.0, 3.0]), np.array([2.0, 0.5, 1.0, 4.0])
    sig = 1 / (1 + np.exp(-x))
    by_hand = -w * (p * t * np.log(sig) + (1 - t) * np.log(1 - sig))
    _close(F.binary_cross_entropy_with_logits(x, t, w, reduction="none", pos_weight=p), by_hand, 1e-13)
    # and the gradient of the mean is w (σ - t) / n without pos_weight
    _close(F.binary_cross_entropy_with_logits_backward(x, t, 1.0, w), w * (sig - t) / x.size, 1e-13)


def test_gradients_match_finite_differences():
    x, _, t = _data(seed=5)
    w, p = np.array([0.5, 2.0, 1.0, 3.0]), np.array([2.0, 0.5, 1.0, 4.0])
    numeric = numerical_gradient(lambda: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=p), x)
    _close(F.binary_cross_entropy_with_logits_backward(x, t, 1.0, w, pos_weight=p), numeric, 1e-8)
    probs = np.clip(t, 0.05, 0.95)
    numeric = numerical_gradient(lambda: F.binary_cross_entropy(probs, t, w, reduction="sum"), probs)
    _close(F.binary_cross_entropy_backward(probs, t, 1.0, w, reduction="sum"), numeric, 1e-8)


def test_extreme_logits_stay_finite_and_exact():
    """±1000: the naive log(sigmoid(x)) gives -inf; the stable form gives the limits exactly."""
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="ignore", divide="ignore"):
        assert np.isinf(np.log(1 / (1 + np.exp(-x[3:4]))))  # log σ(-1000) the naive way: what is avoided
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss, [0.0, 0.0, 1000.0, 1000.0, np.log(2)], rtol=1e-15, atol=0)
    grad = F.binary_cross_entropy_with_logits_backward(x, t, np.ones(5), reduction="none")
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0, -0.5])
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.binary_cross_entropy_with_logits(xt, torch.tensor(t), reduction="none",
                                             pos_weight=torch.tensor(3.0))
    lt.sum().backward()
    _close(F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=np.array(3.0)), lt)
    _close(F.binary_cross_entropy_with_logits_backward(x, t, np.ones(5), reduction="none",
                                                       pos_weight=np.array(3.0)), xt.grad)


LAYERS = {
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), "logits"),
    "BCEWithLogitsLoss-sum-weights": (lambda: nn.BCEWithLogitsLoss(
        np.array([0.5, 2.0, 1.0, 3.0]), reduction="sum", pos_weight=np.array([2.0, 0.5, 1.0, 4.0])), "logits"),
    "BCEWithLogitsLoss-none": (lambda: nn.BCEWithLogitsLoss(reduction="none"), "logits"),
    "BCELoss": (lambda: nn.BCELoss(), "probs"),
    "BCELoss-none-weight": (lambda: nn.BCELoss(np.array([0.5, 2.0, 1.0, 3.0]), reduction="none"), "probs"),
}


def _input(kind, seed=0, dtype=np.float64):
    logits, labels, probs = _data(seed=seed, dtype=dtype)
    return (logits if kind == "logits" else probs), labels


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_against_torch_twins_and_finite_differences(name):
    build, kind = LAYERS[name]
    for dtype in (np.float64, np.float32):
        x, t = _input(kind, dtype=dtype)
        layer = build().to(dtype)
        report = against_torch(layer, x, t, device="cpu")  # twin by to_torch, weights as buffers
        assert report.max_rel <= (1e-10 if dtype == np.float64 else 1e-5)
    x, t = _input(kind, seed=6)
    if kind == "probs":
        x = np.clip(x, 0.05, 0.95)  # keep finite differences away from the clamps
    assert gradcheck(build(), x, t)["dx"] < 1e-6
    layer = build()
    back = nn.from_torch(nn.to_torch(layer))
    assert list(back.state_dict()) == list(layer.state_dict()) == list(nn.to_torch(layer).state_dict())


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_loss_called_twice_before_backward_answers_last_call_first(name):
    build, kind = LAYERS[name]
    loss = build()
    (x1, t1), (x2, t2) = _input(kind, seed=7), _input(kind, seed=8)
    y1, _ = loss(x1, t1), loss(x2, t2)
    assert loss.saved_count == 2
    dx2, dx1 = loss.backward(), loss.backward()
    twin = nn.to_torch(loss)
    for x, t, dx in ((x1, t1, dx1), (x2, t2, dx2)):
        xt = torch.tensor(x, requires_grad=True)
        twin(xt, torch.tensor(t)).backward(torch.ones(np.shape(y1)))
        _close(dx, xt.grad)
    with pytest.raises(RuntimeError, match="nothing saved"):
        loss.backward()


def test_layers_keep_torchs_constructor_order_and_buffers():
    w, p = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    # torch's order: (weight, size_average, reduce, reduction, pos_weight)
    layer = nn.BCEWithLogitsLoss(w, None, None, "sum", p)
    twin = torch.nn.BCEWithLogitsLoss(torch.tensor(w), None, None, "sum", torch.tensor(p))
    assert layer.reduction == twin.reduction == "sum"
    assert list(layer.state_dict()) == list(twin.state_dict()) == ["weight", "pos_weight"]
    assert list(nn.BCEWithLogitsLoss().state_dict()) == list(torch.nn.BCEWithLogitsLoss().state_dict()) == []
    assert nn.BCELoss(None, None, None, "none").reduction == "none"


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((3, 4)), np.zeros(3)), ValueError,
     r"target of the input's shape \(3, 4\)"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((3, 4)), np.zeros((3, 4)), np.ones(3)), ValueError,
     r"weight of shape \(3,\) does not broadcast to the input's shape \(3, 4\)"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((3, 4)), np.zeros((3, 4)),
                                                pos_weight=np.ones((2, 3, 4))), ValueError, "pos_weight of shape"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros(3, np.int64), np.zeros(3)), TypeError, "float input"),
    (lambda: F.binary_cross_entropy_with_logits([0.0], [1.0]), TypeError, "numpy.ndarray"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(3), reduction="avg"), ValueError,
     "reduction must be one of"),
    (lambda: F.binary_cross_entropy(np.array([0.5, 1.5]), np.zeros(2)), ValueError,
     r"probabilities in \[0, 1\].*with_logits"),
    (lambda: F.binary_cross_entropy(np.array([0.5, np.nan]), np.zeros(2)), ValueError, r"in \[0, 1\]"),
    (lambda: F.binary_cross_entropy_with_logits_backward(np.zeros(3), np.zeros(3), np.ones(3)), ValueError,
     "scalar grad_output"),
    (lambda: nn.BCEWithLogitsLoss(reduction="avg"), ValueError, "reduction must be one of"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.array([1, 2])), ValueError, "pos_weight must be a float array"),
    (lambda: nn.BCELoss(size_average=True), TypeError, "deprecated"),
    (lambda: nn.BCEWithLogitsLoss()(np.zeros(3, np.int64), np.zeros(3)), TypeError, "float32 or float64"),
    (lambda: nn.BCEWithLogitsLoss(np.ones(2))(np.zeros((3, 4)), np.zeros((3, 4))), ValueError,
     "does not broadcast"),
])
def test_bad_input_names_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_backward_checks_dy_shape():
    loss = nn.BCEWithLogitsLoss(reduction="none")
    x, t = _input("logits")
    loss(x, t)
    with pytest.raises(ValueError, match=r"expects dy of shape \(6, 4\)"):
        loss.backward(np.ones(3))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_match_torch_on_cuda(name, dtype):
    build, kind = LAYERS[name]
    x, t = _input(kind, dtype=dtype)
    report = against_torch(build().to(dtype), x, t, device="cuda")
    assert report.device.startswith("cuda")
    assert report.max_rel <= (1e-10 if dtype == np.float64 else 1e-5)
