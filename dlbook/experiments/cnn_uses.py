"""Chapter 4's CNNs outside image classification, each cut down to a few lines.

- text (Kim 2014): one-hot words, a 1-D convolution, max-over-time pooling;
- translation (Gehring et al. 2017): a causal 1-D convolution, which never looks ahead;
- segmentation (Ronneberger et al. 2015): a two-level U-Net in torch, scores per pixel;
- video (Tran et al. 2015): a clip of an object moving over a still background;
- tracking (Bertinetto et al. 2016): SiamFC's cross-correlation of a template with a
  search image.

The 1-D and 2-D convolutions are the chapter's own, :func:`dlbook.nn.functional.conv2d`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn import functional as F


def one_hot_words(sentences: list[list[str]], vocabulary: list[str]) -> np.ndarray:
    """Sentences of equal length as one-hot columns: (N, V, L), V = len(vocabulary).

    Column ``t`` of sentence ``n`` is the indicator of its ``t``-th word.
    """
    lengths = {len(s) for s in sentences}
    if len(lengths) != 1:
        raise ValueError(f"sentences must have one length, got {sorted(lengths)}")
    index = {word: i for i, word in enumerate(vocabulary)}
    x = np.zeros((len(sentences), len(vocabulary), lengths.pop()))
    for n, sentence in enumerate(sentences):
        for t, word in enumerate(sentence):
            if word not in index:
                raise KeyError(f"{word!r} is not in the vocabulary")
            x[n, index[word], t] = 1.0
    return x


def bigram_kernel(vocabulary: list[str], first: str, second: str):
    """A width-2 kernel (1, V, 2) and bias (1,) that answer 1 on ``first second`` only.

    On one-hot words a window scores 1 for each of the two words in its place: 2 on the
    bigram, 1 on half of it, 0 otherwise. The bias -1 and a ReLU leave 1 on the bigram.
    """
    weight = np.zeros((1, len(vocabulary), 2))
    weight[0, vocabulary.index(first), 0] = 1.0
    weight[0, vocabulary.index(second), 1] = 1.0
    return weight, np.array([-1.0])


def conv1d(x, weight, bias=None):
    """1-D convolution, stride 1, no padding: (N, C, L), (F, C, k) -> (N, F, L - k + 1).

    A sequence is an image of height 1: this is the chapter's 2-D convolution.
    """
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"expected x (N, C, L) and weight (F, C, k), "
                         f"got {x.shape} and {weight.shape}")
    return F.conv2d(x[:, :, None, :], weight[:, :, None, :], bias)[:, :, 0, :]


def max_over_time(x, weight, bias=None):
    """Kim's sentence features: (N, C, L) -> (N, F).

    ReLU of the 1-D convolution, then each kernel's largest answer over all positions.
    """
    return np.maximum(conv1d(x, weight, bias), 0.0).max(axis=2)


def causal_conv1d(x, weight, bias=None):
    """A 1-D convolution that never looks ahead: (N, C, L) -> (N, F, L), same length.

    k - 1 zeros are padded on the left only: output t reads inputs t - k + 1, ..., t.
    """
    k = weight.shape[-1]
    return conv1d(np.pad(x, ((0, 0), (0, 0), (k - 1, 0))), weight, bias)


class TinyUNet(torch.nn.Module):
    """Two levels of U-Net: (N, in_channels, H, W) -> (N, n_classes, H, W).

    Encoder: [conv 3×3 -> ReLU] × 2, then 2×2 max-pooling, twice; a bottom block.
    Decoder:
    a 2×2 transposed convolution doubles the side, the encoder's map of that size is
    concatenated (the skip connection), [conv 3×3 -> ReLU] × 2. A 1×1 convolution gives
    the class scores. Padding 1 keeps the sides (the original does not pad), so H and W
    must be divisible by 4.
    """

    def __init__(self, in_channels=1, n_classes=2, width=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)

        def block(c_in, c_out):
            return torch.nn.Sequential(
                torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.ReLU(),
                torch.nn.Conv2d(c_out, c_out, 3, padding=1), torch.nn.ReLU())

        w = width
        self.down1, self.down2 = block(in_channels, w), block(w, 2 * w)
        self.bottom = block(2 * w, 4 * w)
        self.pool = torch.nn.MaxPool2d(2)
        self.up2 = torch.nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = block(4 * w, 2 * w)
        self.up1 = torch.nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = block(2 * w, w)
        self.head = torch.nn.Conv2d(w, n_classes, 1)

    def forward(self, x, trace=None):
        """Class scores per pixel; a list ``trace`` collects (stage, shape)."""
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"TinyUNet needs sides divisible by 4, "
                             f"got {tuple(x.shape[-2:])}")
        stages = []
        e1 = self.down1(x)
        stages.append(("down1", e1))
        e2 = self.down2(self.pool(e1))
        stages.append(("down2", e2))
        b = self.bottom(self.pool(e2))
        stages.append(("bottom", b))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))  # skip connection
        stages.append(("up2", d2))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        stages.append(("up1", d1))
        scores = self.head(d1)
        stages.append(("head", scores))
        if trace is not None:
            trace.extend((name, tuple(t.shape)) for name, t in stages)
        return scores


def moving_object_clip(background, obj, start, step, frames):
    """A clip (T, H, W): ``obj`` over a still ``background``, moving ``step`` per frame.

    Returns the clip and the object's top-left corner (row, column) in each frame.
    """
    h, w = obj.shape
    clip, corners = [], []
    for t in range(frames):
        top, left = start[0] + t * step[0], start[1] + t * step[1]
        inside = (0 <= top <= background.shape[0] - h
                  and 0 <= left <= background.shape[1] - w)
        if not inside:
            raise ValueError(f"frame {t}: the object at {(top, left)} leaves the image")
        frame = background.copy()
        frame[top:top + h, left:left + w] = obj
        clip.append(frame)
        corners.append((top, left))
    return np.stack(clip), corners


def siamese_response(template, search, embed=None):
    """SiamFC's score map: embedded template cross-correlated with the embedded search.

    ``embed``: kernels (F, 1, k, k) applied to both images (the two branches share
    them), or None for raw pixels. An (h, w) template over an (H, W) image gives an
    (H - h + 1, W - w + 1) map; entry (r, c) scores the window whose top-left corner is
    (r, c).
    """
    z, x = template[None, None], search[None, None]
    if embed is not None:
        z, x = F.conv2d(z, embed), F.conv2d(x, embed)
    return F.conv2d(x, z)[0, 0]  # the template's features are the kernel
