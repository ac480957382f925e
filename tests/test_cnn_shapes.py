"""Output-size and parameter-count helpers against what torch actually builds and returns."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from dlbook.cnn_shapes import (conv2d_output_shape, conv2d_param_count, conv_output_size,
                               linear_param_count, resolve_padding)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 3))
def test_output_size_matches_torch(size, k, s, p, d):
    conv = torch.nn.Conv2d(1, 1, (k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    x = torch.zeros(1, 1, size, 1)
    if d * (k - 1) + 1 > size + 2 * p:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(size, k, s, p, d)
        return
    with torch.no_grad():
        assert conv_output_size(size, k, s, p, d) == conv(x).shape[2]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's perf note
@pytest.mark.parametrize("padding", [0, 2, (1, 3), "same", "valid"])
def test_output_shape_and_parameter_count_match_torch(padding):
    conv = torch.nn.Conv2d(6, 8, (3, 4), padding=padding, groups=2)
    x = torch.zeros(2, 6, 11, 13)
    with torch.no_grad():
        assert conv2d_output_shape(tuple(x.shape), 8, (3, 4), 1, padding) == tuple(conv(x).shape)
    assert conv2d_param_count(6, 8, (3, 4), groups=2) == sum(p.numel() for p in conv.parameters())
    assert conv2d_param_count(6, 8, (3, 4), groups=2, bias=False) == conv.weight.numel()


def test_formula_by_hand():
    assert conv_output_size(32, 3, 1, 1) == 32       # "same" 3x3
    assert conv_output_size(224, 11, 4, 2) == 55     # AlexNet's first layer
    assert conv_output_size(7, 3, 2, 0) == 3
    assert conv_output_size(7, 3, 2, (0, 2)) == 4    # asymmetric padding: (7 + 2 - 3) // 2 + 1
    assert linear_param_count(32 * 32 * 3, 10) == sum(p.numel() for p in torch.nn.Linear(3072, 10).parameters())
    assert resolve_padding("same", 4, 1, 1) == ((1, 2), (1, 2))  # torch puts the extra pixel after


@pytest.mark.parametrize("call, match", [
    (lambda: conv_output_size(0, 3), "size"),
    (lambda: conv_output_size(5, 3, stride=0), "stride"),
    (lambda: conv_output_size(5, 3, padding=-1), "padding"),
    (lambda: conv2d_output_shape((5, 5), 3, 3), "input_shape"),
    (lambda: conv2d_param_count(3, 4, 3, groups=2), "divisible"),
    (lambda: conv2d_param_count(3, 4, 3, groups=0), "groups"),
    (lambda: conv2d_param_count(3, 4, (3, 0)), "kernel_size"),
    (lambda: conv2d_param_count(0, 4, 3), "in_channels"),
    (lambda: linear_param_count(10, 0), "out_features"),
    (lambda: conv2d_output_shape((1, 3, 5, 5), 0, 3), "out_channels"),
    (lambda: resolve_padding("same", 3, 2, 1), "stride 1"),
    (lambda: resolve_padding("full", 3, 1, 1), "valid"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
