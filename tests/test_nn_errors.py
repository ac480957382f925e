"""Bad input raises at the API boundary, with a message naming what was expected."""

import numpy as np
import pytest

from dlbook import nn
from nn_cases import LAYERS, LOSSES, make_input


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_before_forward(name):
    build, _ = LAYERS[name]
    with pytest.raises(RuntimeError, match="backward called with nothing saved"):
        build(np.float64).backward(np.ones((2, 2)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_forward_call_serves_one_backward(name):
    build, shape = LAYERS[name]
    layer = build(np.float64)
    y = layer(make_input(shape, np.float64))
    leaves = [m for m in layer.modules() if not m._modules]  # a Sequential saves nothing itself
    assert [m.saved_count for m in leaves] == [1] * len(leaves)
    layer.backward(np.ones_like(y))
    assert [m.saved_count for m in layer.modules()] == [0] * len(list(layer.modules()))
    with pytest.raises(RuntimeError, match="backward called with nothing saved"):
        layer.backward(np.ones_like(y))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_forward_under_no_grad_saves_nothing(name):
    build, shape = LAYERS[name]
    layer = build(np.float64)
    with nn.no_grad():
        y = layer(make_input(shape, np.float64))
    assert all(m.saved_count == 0 for m in layer.modules())
    with pytest.raises(RuntimeError, match=r"nothing saved.*no_grad"):
        layer.backward(np.ones_like(y))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_backward_before_forward(name):
    with pytest.raises(RuntimeError, match="backward called with nothing saved"):
        LOSSES[name][0]().backward()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_integer_input_is_rejected(name):
    build, shape = LAYERS[name]
    with pytest.raises(TypeError, match="float32 or float64"):
        build(np.float64)(np.ones(shape, dtype=np.int64))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_list_input_is_rejected(name):
    build, shape = LAYERS[name]
    with pytest.raises(TypeError, match="numpy.ndarray"):
        build(np.float64)(make_input(shape, np.float64).tolist())


@pytest.mark.parametrize("name", ["Linear", "BatchNorm1d", "BatchNorm2d", "Sequential"])
def test_input_dtype_must_match_parameters(name):
    build, shape = LAYERS[name]
    with pytest.raises(TypeError, match="float64 parameters but got float32 input"):
        build(np.float64)(make_input(shape, np.float32))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_wrong_grad_output_shape(name):
    build, shape = LAYERS[name]
    layer = build(np.float64)
    y = layer(make_input(shape, np.float64))
    with pytest.raises(ValueError, match="expects dy"):
        layer.backward(np.ones(y.shape + (2,)))


@pytest.mark.parametrize("layer, x, message", [
    (nn.Linear(4, 3), np.ones((2, 5), np.float32), r"\(\.\.\., 4\)"),
    (nn.Linear(4, 3), np.ones((), np.float32), r"\(\.\.\., 4\)"),
    (nn.BatchNorm1d(4), np.ones((2, 3), np.float32), "4 channels on axis 1"),
    (nn.BatchNorm1d(4), np.ones((2, 4, 3, 3), np.float32), r"\(N, C\) or \(N, C, L\)"),
    (nn.BatchNorm2d(4), np.ones((2, 4), np.float32), r"\(N, C, H, W\)"),
    (nn.BatchNorm1d(4), np.ones((1, 4), np.float32), "more than 1 value per channel"),
    (nn.Softmax(dim=2), np.ones((2, 4)), "at least 3 dimensions"),
    (nn.Flatten(2, 3), np.ones((2, 4)), "needs input with those axes"),
])
def test_wrong_input_shape_names_the_expected_shape(layer, x, message):
    with pytest.raises(ValueError, match=message):
        layer(x)


def test_loss_inputs_are_checked():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"target of shape \(3,\)"):
        nn.CrossEntropyLoss()(x, np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="integer class indices"):
        nn.CrossEntropyLoss()(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 3\]"):
        nn.MultiMarginLoss()(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="target of the input's shape"):
        nn.MSELoss()(x, np.zeros((3, 5)))
    with pytest.raises(TypeError, match="target of the input's dtype"):
        nn.MSELoss()(x, np.zeros((3, 4), np.float32))
    loss = nn.CrossEntropyLoss(reduction="none")
    loss(x, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"dy of shape \(3,\)"):
        loss.backward(np.ones(4))


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Linear(0, 3), "in_features must be a positive int"),
    (lambda: nn.Linear(3, 2.5), "out_features must be a positive int"),
    (lambda: nn.Dropout(1.5), r"in \[0, 1\]"),
    (lambda: nn.BatchNorm1d(3, momentum=2), "momentum must be in"),
    (lambda: nn.BatchNorm1d(3, eps=0), "eps must be > 0"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), "reduction must be one of"),
    (lambda: nn.MultiMarginLoss(p=3), "p must be 1 or 2"),
    (lambda: nn.Linear(3, 2, dtype=np.int32), "float32 or float64"),
    (lambda: nn.Linear(3, 2, seed="x"), "seed must be"),
])
def test_bad_constructor_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_softmax_needs_a_dim():
    with pytest.raises(TypeError, match="explicit int dim"):
        nn.Softmax()


def test_load_state_dict_checks_names_and_shapes_like_torch():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    state = {k: np.array(v) for k, v in model.state_dict().items()}
    with pytest.raises(KeyError, match=r"unexpected keys \['0.wieght'\]"):
        model.load_state_dict({**state, "0.wieght": np.zeros((2, 3))})
    with pytest.raises(KeyError, match=r"missing keys \['0.weight'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.weight"})
    with pytest.raises(ValueError, match=r"0.weight: expected shape \(2, 3\)"):
        model.load_state_dict({"0.weight": np.zeros((3, 2))}, strict=False)
    weight = model[0].weight
    missing, unexpected = model.load_state_dict({"0.weight": np.ones((2, 3)), "1.running_mean": np.full(2, 0.5),
                                                 "extra": np.zeros(1)}, strict=False)
    assert "0.bias" in missing and "0.weight" not in missing and unexpected == ["extra"]
    assert model[0].weight is weight  # copied into the parameter, not replacing it
    np.testing.assert_array_equal(model[0].weight, np.ones((2, 3)))
    np.testing.assert_array_equal(model[1].running_mean, [0.5, 0.5])


def test_dropout_mask_must_fit():
    with pytest.raises(ValueError, match="bool array of shape"):
        nn.Dropout(0.5)(np.ones((2, 3)), mask=np.ones((2, 3)))


@pytest.mark.parametrize("module", [
    lambda torch: torch.nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda torch: torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)),
    lambda torch: torch.nn.CrossEntropyLoss(ignore_index=0),
    lambda torch: torch.nn.MultiMarginLoss(weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)),
], ids=["label_smoothing", "ce-weight", "ignore_index", "margin-weight"])
def test_from_torch_keeps_loss_options_rather_than_dropping_them(module):
    """A torch loss with label smoothing, class weights or an ignored class must not become a plain
    NumPy loss: the options come across and the loss and its gradient agree with torch's."""
    import torch

    from dlbook.check import against_torch

    twin = module(torch)
    layer = nn.from_torch(twin)
    x = make_input((6, 3), np.float64)
    target = np.array([0, 1, 2, 0, 1, 2])
    against_torch(layer, x, target, twin=twin, device="cpu")  # raises beyond 1e-10, float64's default


def test_loss_constructors_take_torchs_positional_order():
    # torch: CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction, label_smoothing)
    assert nn.CrossEntropyLoss(None, None, -100, None, "sum").reduction == "sum"
    # torch: MultiMarginLoss(p, margin, weight, size_average, reduce, reduction)
    assert nn.MultiMarginLoss(2, 0.5, None, None, None, "none").reduction == "none"
    for make in (lambda: nn.MSELoss(True), lambda: nn.CrossEntropyLoss(reduce=False)):
        with pytest.raises(TypeError, match="deprecated in torch.*pass reduction="):
            make()
