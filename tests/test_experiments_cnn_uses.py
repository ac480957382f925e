"""Chapter 4's CNNs outside image classification (dlbook.experiments.cnn_uses): the 1-D
convolutions against torch, the bigram kernel and max-over-time pooling by hand, causality, the
U-Net's shapes, the moving-object clip and SiamFC's score map."""

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from dlbook.check import rel_error
from dlbook.experiments.cnn_uses import (
    TinyUNet, bigram_kernel, causal_conv1d, conv1d, max_over_time, moving_object_clip,
    one_hot_words, siamese_response,
)

VOCABULARY = ["a", "not", "good", "bad", "film"]


def test_one_hot_words_layout():
    x = one_hot_words([["not", "good"], ["a", "film"]], VOCABULARY)
    assert x.shape == (2, 5, 2)
    assert np.array_equal(x.sum(axis=1), np.ones((2, 2)))  # one word per position
    assert x[0, 1, 0] == 1 and x[0, 2, 1] == 1 and x[1, 0, 0] == 1 and x[1, 4, 1] == 1


def test_one_hot_words_rejects_ragged_sentences_and_unknown_words():
    with pytest.raises(ValueError, match="one length"):
        one_hot_words([["a"], ["a", "film"]], VOCABULARY)
    with pytest.raises(KeyError, match="great"):
        one_hot_words([["great"]], VOCABULARY)


@pytest.mark.parametrize("shape,kernel", [((2, 3, 9), (4, 3, 3)), ((1, 5, 4), (2, 5, 4)),
                                           ((3, 1, 7), (1, 1, 1))])
def test_conv1d_matches_torch(shape, kernel):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(kernel), rng.standard_normal(kernel[0])
    expected = tF.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b)).numpy()
    assert rel_error(conv1d(x, w, b), expected) < 1e-12
    assert rel_error(conv1d(x, w), tF.conv1d(torch.tensor(x), torch.tensor(w)).numpy()) < 1e-12


def test_conv1d_rejects_images():
    with pytest.raises(ValueError, match="N, C, L"):
        conv1d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3)))


def test_bigram_kernel_answers_on_the_bigram_only():
    sentences = [s.split() for s in ["not good film", "good not film", "not bad good", "a not good"]]
    x = one_hot_words(sentences, VOCABULARY)
    w, b = bigram_kernel(VOCABULARY, "not", "good")
    assert w.shape == (1, 5, 2) and b.shape == (1,)
    answers = np.maximum(conv1d(x, w, b), 0)[:, 0]
    assert np.array_equal(answers, [[1, 0], [0, 0], [0, 0], [0, 1]])


def test_max_over_time_is_the_largest_relu_answer_per_kernel():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4, 10)), rng.standard_normal((6, 4, 3)), rng.standard_normal(6)
    by_torch = torch.relu(tF.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b))).amax(dim=2)
    features = max_over_time(x, w, b)
    assert features.shape == (3, 6)
    assert rel_error(features, by_torch.numpy()) < 1e-12


def test_causal_conv1d_keeps_the_length_and_never_looks_ahead():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3)), rng.standard_normal(4)
    y = causal_conv1d(x, w, b)
    expected = tF.conv1d(tF.pad(torch.tensor(x), (2, 0)), torch.tensor(w), torch.tensor(b)).numpy()
    assert y.shape == (2, 4, 9) and rel_error(y, expected) < 1e-12
    for t in range(9):
        edited = x.copy()
        edited[..., t] += 1.0
        changed = np.flatnonzero(np.abs(causal_conv1d(edited, w, b) - y).max(axis=(0, 1)))
        assert changed.min() == t and changed.max() == min(t + 2, 8)


def test_tiny_unet_gives_scores_per_pixel_and_traces_its_stages():
    net = TinyUNet(in_channels=3, n_classes=4, width=4, seed=0)
    trace = []
    with torch.no_grad():
        y = net(torch.zeros(2, 3, 16, 24), trace)
    assert y.shape == (2, 4, 16, 24)
    assert [name for name, _ in trace] == ["down1", "down2", "bottom", "up2", "up1", "head"]
    assert [shape for _, shape in trace] == [(2, 4, 16, 24), (2, 8, 8, 12), (2, 16, 4, 6),
                                             (2, 8, 8, 12), (2, 4, 16, 24), (2, 4, 16, 24)]
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 3, 10, 12))


def test_tiny_unet_skip_connections_carry_the_input_through():
    """The encoder's first map reaches the decoder directly: the bottom alone cannot explain the
    output, so zeroing the bottom block's output still leaves it depending on the input."""
    net = TinyUNet(width=4, seed=0)
    with torch.no_grad():
        for p in net.bottom.parameters():
            p.zero_()
        a, b = net(torch.zeros(1, 1, 8, 8)), net(torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(a, b)


def test_tiny_unet_is_seeded():
    a, b, c = TinyUNet(seed=1), TinyUNet(seed=1), TinyUNet(seed=2)
    assert torch.equal(a.head.weight, b.head.weight) and not torch.equal(a.head.weight, c.head.weight)


def test_moving_object_clip():
    background, obj = np.zeros((10, 12)), np.ones((3, 2))
    clip, corners = moving_object_clip(background, obj, start=(1, 2), step=(2, 3), frames=3)
    assert clip.shape == (3, 10, 12) and corners == [(1, 2), (3, 5), (5, 8)]
    for frame, (top, left) in zip(clip, corners):
        assert frame.sum() == 6 and frame[top:top + 3, left:left + 2].all()
    assert np.array_equal(background, np.zeros((10, 12)))  # untouched
    with pytest.raises(ValueError, match="leaves the image"):
        moving_object_clip(background, obj, start=(1, 2), step=(2, 3), frames=4)


def test_siamese_response_is_a_cross_correlation_that_peaks_at_the_object():
    rng = np.random.default_rng(3)
    search = rng.random((30, 40))
    template = search[11:19, 23:33].copy()
    response = siamese_response(template, search - search.mean(), None)
    assert response.shape == (23, 31)
    by_torch = tF.conv2d(torch.tensor((search - search.mean())[None, None]),
                         torch.tensor(template[None, None]))[0, 0].numpy()
    assert rel_error(response, by_torch) < 1e-12
    sobel = np.array([[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]])
    embed = np.stack([sobel, sobel.T])[:, None]
    scores = siamese_response(template, search, embed)
    assert scores.shape == (23, 31)
    assert np.unravel_index(scores.argmax(), scores.shape) == (11, 23)
