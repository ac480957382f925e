"""The receptive-field arithmetic against the empirical measurement by backprop, on random stacks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import dlbook.nn as nn
from dlbook.cnn_shapes import WindowGeometry
from dlbook.receptive_field import (footprint_bounds, gradient_footprint, measured_receptive_field,
                                    receptive_fields, window_of)


@st.composite
def windowed_layer(draw):
    kind = draw(st.sampled_from(["conv", "max", "avg"]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    if kind == "conv":
        return nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=draw(st.integers(1, 3)))
    if kind == "max":
        return nn.MaxPool2d(k, stride=s, padding=p, dilation=draw(st.integers(1, 2)))
    return nn.AvgPool2d(k, stride=s, padding=p)


@st.composite
def stacks(draw):
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        layers.append(draw(windowed_layer()))
        if draw(st.booleans()):
            layers.append(nn.ReLU())
    return layers


def _output_hw(layers, hw):
    x = np.zeros((1, 1) + hw, np.float32)
    for layer in layers:
        x = layer(x)
    return x.shape[2:]


@settings(max_examples=60, deadline=None)
@given(stacks(), st.integers(24, 60), st.integers(24, 60), st.data())
def test_arithmetic_agrees_with_backprop_for_every_unit_position(layers, h, w, data):
    try:
        out_hw = _output_hw(layers, (h, w))
    except ValueError:  # the stack shrinks this input to nothing; not a receptive-field question
        return
    row, col = data.draw(st.integers(0, out_hw[0] - 1)), data.draw(st.integers(0, out_hw[1] - 1))
    rf = receptive_fields(layers)[-1]
    (top, bottom), (left, right) = rf.bounds(row, col)
    mask = measured_receptive_field(layers, (h, w), (row, col))
    inside = top >= 0 and left >= 0 and bottom <= h - 1 and right <= w - 1
    if not mask.any():  # possible only at a border, when every dilated tap lands in the padding
        assert not inside
        return
    (m_top, m_bottom), (m_left, m_right) = footprint_bounds(mask)
    if inside:
        # inside the image the outermost taps are real pixels: the extent is exact
        assert (m_top, m_bottom, m_left, m_right) == (top, bottom, left, right)
    else:
        # part of the field is padding; dilation may leave the outermost real row or column unseen
        assert top <= m_top and m_bottom <= bottom and left <= m_left and m_right <= right


def test_classic_vgg_style_stack_by_hand():
    """Three 3x3 convs see 7x7; a 2x2 max-pool then doubles the jump (the textbook example)."""
    layers = [nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(),
              nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, padding=1)]
    table = receptive_fields(layers)
    assert [rf.size[0] for rf in table] == [1, 3, 3, 5, 5, 7, 8, 12]
    assert [rf.jump[0] for rf in table] == [1, 1, 1, 1, 1, 1, 2, 2]
    assert table[-1].start == (0.5, 0.5)


def test_measurement_on_a_real_network_with_random_weights():
    """Real weights: the footprint never leaves the computed box; without ReLU/pooling it fills it."""
    rng = np.random.default_rng(0)
    convs = [nn.Conv2d(2, 3, 3, padding=1, seed=1, dtype=np.float64),
             nn.Conv2d(3, 3, 3, stride=2, seed=2, dtype=np.float64),
             nn.Conv2d(3, 2, 3, dilation=2, seed=3, dtype=np.float64)]
    x = rng.standard_normal((1, 2, 32, 32))
    rf = receptive_fields(convs)[-1]
    mask = gradient_footprint(nn.Sequential(*convs), x, (1, 4, 5))
    (top, bottom), (left, right) = rf.bounds(4, 5)
    assert footprint_bounds(mask) == ((top, bottom), (left, right))
    assert mask[int(top):int(bottom) + 1, int(left):int(right) + 1].all()
    with_relu = nn.Sequential(convs[0], nn.ReLU(), convs[1], nn.ReLU(), convs[2])
    mask = gradient_footprint(with_relu, x, (1, 4, 5))
    assert mask.sum() > 0 and not mask[:int(top)].any() and not mask[:, int(right) + 1:].any()


def test_torch_layers_and_windows_give_the_same_table():
    ours = [nn.Conv2d(1, 1, 5, stride=2, padding="valid"), nn.MaxPool2d(3, 2, 1), nn.Conv2d(1, 1, 4, padding="same")]
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 5, stride=2), torch.nn.BatchNorm2d(1),
                                 torch.nn.MaxPool2d(3, 2, 1), torch.nn.Conv2d(1, 1, 4, padding="same"))
    windows = [WindowGeometry((5, 5), (2, 2), ((0, 0), (0, 0))), WindowGeometry((3, 3), (2, 2), ((1, 1), (1, 1))),
               WindowGeometry((4, 4), (1, 1), ((1, 1), (1, 1)))]
    a, b, c = receptive_fields(ours), receptive_fields(theirs), receptive_fields(windows)
    assert a[-1] == b[-1] == c[-1]
    assert window_of(torch.nn.ReLU()) is None


def test_fully_connected_layers_are_refused():
    with pytest.raises(TypeError, match="Linear"):
        receptive_fields([nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(4, 2)])
    with pytest.raises(ValueError, match="one image"):
        gradient_footprint(nn.Conv2d(1, 1, 3), np.zeros((2, 1, 5, 5), np.float32), (0, 0, 0))


def test_batchnorm_is_point_wise_only_at_inference():
    """In training mode BatchNorm mixes the batch statistics of every pixel into every output."""
    block = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, seed=0), nn.BatchNorm2d(2)).to(np.float64)
    x = np.random.default_rng(0).standard_normal((1, 1, 12, 12))
    rf = receptive_fields(block)[-1]
    (top, bottom), (left, right) = rf.bounds(5, 6)
    inference = gradient_footprint(block.eval(), x, (1, 5, 6))
    assert footprint_bounds(inference) == ((top, bottom), (left, right)) and inference.sum() == 9
    assert gradient_footprint(block.train(), x, (1, 5, 6)).all()
