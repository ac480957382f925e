"""dlbook.exercises and the dlbook command: references are right, wrong solutions get the right hint.

The references are checked against torch (or a brute-force count) on the exercises' own cases;
the wrong solutions are written as a reader would write them (loops, not the slip variants the
checker compares with), so a hint is found because the checker recognizes the slip, not because
it was handed its own variant.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import dlbook
import pages
from dlbook import exercises
from dlbook.check import rel_error
from dlbook.cli import main
from dlbook.exercises import UnknownExerciseError

ROOT = Path(__file__).resolve().parents[1]
IDS = list(exercises.EXERCISES)
T = torch.from_numpy


def _squeeze(text: str) -> str:
    """The message without the line breaks and indentation that wrapping adds."""
    return re.sub(r"\s+", "", text)


# -- the references are right: torch or a brute-force count on every case --------------------------
def _torch_ce(scores, y):
    s = torch.tensor(scores, requires_grad=True)
    loss = tF.cross_entropy(s, torch.as_tensor(y))
    loss.backward()
    return loss.item(), s.grad.numpy()


def _torch_hinge(scores, y, margin):
    s = torch.tensor(scores, requires_grad=True)
    loss = tF.multi_margin_loss(s, torch.as_tensor(y), margin=margin)
    loss.backward()
    return loss.item(), s.grad.numpy()


def _torch_linear_backward(dy, x, weight):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    bt = torch.zeros(len(weight), dtype=xt.dtype, requires_grad=True)
    tF.linear(xt, wt, bt).backward(T(dy))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _torch_trace_gradient(f, shape, *matrices):
    """The gradient of f(X, *matrices) at a random X (for tr(AXB) it does not depend on X)."""
    X = torch.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    f(X, *(T(m) for m in matrices)).backward()
    return X.grad.numpy()


def _torch_quadratic_gradient(A, X):
    Xt = torch.tensor(X, requires_grad=True)
    torch.trace(Xt.T @ T(A) @ Xt).backward()
    return Xt.grad.numpy()


def _torch_sgd(param, grad, buf, lr, momentum, dampening, weight_decay):
    p = torch.tensor(param, requires_grad=True)
    p.grad = T(grad.copy())
    sgd = torch.optim.SGD([p], lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    if buf is not None:
        sgd.state[p]["momentum_buffer"] = T(buf.copy())
    sgd.step()
    return p.detach().numpy(), sgd.state[p]["momentum_buffer"].numpy()


def _windows(size, k, s, p):
    """Count the window positions one by one."""
    return len([start for start in range(0, size + 2 * p, s) if start + k <= size + 2 * p])


def _seen_pixels(layers):
    """Input pixels one unit of the last layer depends on, followed back layer by layer."""
    seen = {0}
    for k, s in reversed(layers):
        seen = {i * s + j for i in seen for j in range(k)}
    return max(seen) - min(seen) + 1


def _torch_stack_cost(n_layers, channels, kernel_size):
    """The field followed back pixel by pixel; the weights of torch's layers (on the
    meta device: counted, never allocated)."""
    layers = [torch.nn.Conv2d(channels, channels, kernel_size, bias=False,
                              device="meta") for _ in range(n_layers)]
    weights = sum(p.numel() for layer in layers for p in layer.parameters())
    return _seen_pixels([(kernel_size, 1)] * n_layers), weights


def _exact_output_size(size, kernel_size, stride, padding):
    value = Fraction(size + 2 * padding - kernel_size, stride) + 1
    return float(value), value.denominator == 1


def _torch_bins(in_size, out_size):
    """torch's bins read off its pooling of one-hot pixels: pixel c is in bin i where
    output i of the one-hot c is not zero."""
    eye = torch.eye(in_size, dtype=torch.float64)[None]       # (1, in, in)
    pooled = tF.adaptive_avg_pool1d(eye, out_size)[0]         # (in pixels, out bins)
    bins = []
    for i in range(out_size):
        inside = torch.nonzero(pooled[:, i]).flatten().tolist()
        assert inside == list(range(inside[0], inside[-1] + 1))  # a bin is contiguous
        bins.append((inside[0], inside[-1] + 1))
    return bins


# chapter 6: torch's own cell functions and autograd
def _torch_rnn_step(x, h, *weights):
    return torch.rnn_tanh_cell(T(x), T(h), *map(T, weights)).numpy()


def _torch_lstm_step(x, h, c, *weights):
    h_new, c_new = torch.lstm_cell(T(x), (T(h), T(c)), *map(T, weights))
    return h_new.numpy(), c_new.numpy()


def _torch_rnn_step_backward(d_h_new, x, h, *weights):
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h, *weights)]
    torch.rnn_tanh_cell(*leaves).backward(T(d_h_new))
    return tuple(leaf.grad.numpy() for leaf in leaves[:5])


def _torch_clip(grad_ih, grad_hh, max_norm):
    params = [torch.zeros(g.shape, dtype=T(g).dtype, requires_grad=True) for g in (grad_ih, grad_hh)]
    for p, g in zip(params, (grad_ih, grad_hh)):
        p.grad = T(g.copy())
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return params[0].grad.numpy(), params[1].grad.numpy(), total.numpy()  # float32 norm for float32


# chapter 7: a brute-force double loop, torch autograd, word2vec's C code written out
def _all_pairs(ids, window):
    pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(len(ids))
             if 1 <= abs(i - j) <= window]
    return tuple(np.array(column, dtype=np.int64) for column in zip(*pairs))


def _torch_sgns(w_in, w_out, center, context, negatives):
    v = torch.tensor(w_in[center], requires_grad=True)
    u_o = torch.tensor(w_out[context], requires_grad=True)
    u_k = torch.tensor(w_out[negatives], requires_grad=True)  # one leaf row per slot
    loss = -tF.logsigmoid(u_o @ v) - tF.logsigmoid(-(u_k @ v)).sum()
    loss.backward()
    return loss.item(), v.grad.numpy(), u_o.grad.numpy(), u_k.grad.numpy()


def _c_code_keep(counts, sample):
    """word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn."""
    train_words = float(sum(int(c) for c in counts))
    keep = [(math.sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn for cn in counts]
    return np.minimum(np.array(keep), 1.0)


# chapter 8: loops over rows and positions, torch's one_hot and cross_entropy
def _loop_one_hot(labels, classes):
    out = np.zeros((len(labels), len(classes)), dtype=np.int64)
    for i, label in enumerate(labels):
        out[i, classes.index(label)] = 1
    return out


def _loop_max_norm(weight, max_value):
    out = weight.copy()
    for j, row in enumerate(weight):
        norm = math.sqrt(float(np.sum(row.astype(np.float64) ** 2)))
        out[j] = row * (min(norm, max_value) / (norm + 1e-7))  # keras.constraints.MaxNorm
    return out


def _torch_cce(logits, one_hot):
    return tF.cross_entropy(T(logits).double(), T(one_hot).double()).item()


def _loop_shard(indices, rank, world_size):
    return np.array([i for position, i in enumerate(indices) if position % world_size == rank],
                    dtype=np.int64)


# chapter 9: torch's pixel_shuffle and BCEWithLogitsLoss with autograd, scikit-image's PSNR
def _torch_d_loss(real_logits, fake_logits):
    real = T(real_logits).double().requires_grad_()
    fake = T(fake_logits).double().requires_grad_()
    loss = (tF.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + tF.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    loss.backward()
    return loss.item(), real.grad.numpy(), fake.grad.numpy()


def _skimage_psnr(reference, test, data_range):
    from skimage.metrics import peak_signal_noise_ratio

    return peak_signal_noise_ratio(reference, test, data_range=data_range)


INDEPENDENT = {
    "linear_scores": lambda X, W, b: tF.linear(T(X), T(W), T(b)).numpy(),
    "softmax_cross_entropy": _torch_ce,
    "multiclass_hinge_loss": _torch_hinge,
    "linear_backward": _torch_linear_backward,
    "sigmoid_backward": lambda dy, y: torch.ops.aten.sigmoid_backward(T(dy), T(y)).numpy(),
    "matrix_gradient_trace": lambda A, B: _torch_trace_gradient(
        lambda X, A, B: torch.trace(A @ X @ B), (A.shape[1], B.shape[0]), A, B),
    "trace_quadratic_gradient": _torch_quadratic_gradient,
    "batchnorm_forward": lambda x, gamma, beta, eps: tF.batch_norm(
        T(x), None, None, T(gamma), T(beta), training=True, eps=eps).numpy(),
    "dropout_forward": lambda x, p, mask: (np.zeros_like(x) if p == 1
                                           else np.where(mask, x / x.dtype.type(1 - p), 0).astype(x.dtype)),
    "sgd_momentum_step": _torch_sgd,
    "conv2d_forward": lambda x, weight, bias, stride, padding: tF.conv2d(
        T(x), T(weight), T(bias), stride=stride, padding=padding).numpy(),
    "max_pool2d_forward": lambda x, kernel_size, stride: tF.max_pool2d(T(x), kernel_size, stride).numpy(),
    "conv_output_size": _windows,
    "receptive_field_size": _seen_pixels,
    "stacked_conv_cost": _torch_stack_cost,
    "alexnet_conv_output_size": _exact_output_size,
    "zero_pad_shortcut": lambda x, out_channels, stride: tF.pad(
        T(x)[:, :, ::stride, ::stride],
        (0, 0, 0, 0, 0, out_channels - x.shape[1])).numpy(),
    "adaptive_avg_pool_bins": _torch_bins,
    "rnn_step_forward": _torch_rnn_step,
    "lstm_step_forward": _torch_lstm_step,
    "rnn_step_backward": _torch_rnn_step_backward,
    "clip_grad_norm": _torch_clip,
    "skipgram_training_pairs": _all_pairs,
    "sgns_example": _torch_sgns,
    "keep_probability": _c_code_keep,
    "one_hot": _loop_one_hot,
    "max_norm_": _loop_max_norm,
    "categorical_crossentropy": _torch_cce,
    "shard_batch": _loop_shard,
    "pixel_shuffle": lambda x, upscale_factor: tF.pixel_shuffle(T(x), upscale_factor).numpy(),
    "discriminator_loss_and_grads": _torch_d_loss,
    "psnr": _skimage_psnr,
}


def _assert_close(ours, theirs, where):
    if isinstance(ours, tuple):
        assert isinstance(theirs, tuple) and len(ours) == len(theirs), where
        for a, b in zip(ours, theirs):
            _assert_close(a, b, where)
        return
    if isinstance(ours, int):
        assert ours == theirs, f"{where}: {ours} != {theirs}"
        return
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{where}: shapes {ours.shape} vs {theirs.shape}"
    rtol = 1e-5 if np.float32 in (ours.dtype, theirs.dtype) else 1e-12
    assert rel_error(ours, theirs) < rtol, f"{where}: relative error {rel_error(ours, theirs):.2e}"


def test_every_exercise_has_an_independent_reference():
    assert set(INDEPENDENT) == set(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_agrees_with_torch_or_a_count(exercise_id):
    exercise = exercises.get(exercise_id)
    for seed in (0, 1):
        for i, case in enumerate(exercise.make_cases(seed), 1):
            ours = exercise.reference(*[np.copy(v) if isinstance(v, np.ndarray) else v
                                        for v in case.args.values()])
            theirs = INDEPENDENT[exercise_id](*case.args.values())
            _assert_close(ours, theirs, f"{exercise_id} seed {seed} case {i}")


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_reference_passes_its_checker(exercise_id, lang):
    result = exercises.check(exercise_id, exercises.reference(exercise_id), lang=lang, show=False)
    assert result.passed and result.failed_case is None and result.slip is None, result.message
    assert result.passed_cases == result.total_cases >= 5
    expected = {"en": f"all {result.total_cases} cases passed",
                "zh": f"{result.total_cases} 个用例全部通过"}[lang]
    assert expected in result.message


def test_exercises_per_chapter_and_their_starters():
    for chapter in (1, 2, 3, 4, 5, 6, 7, 8, 9):
        assert len(exercises.list_exercises(chapter)) >= 3
    for exercise in exercises.list_exercises():
        for lang in ("zh", "en"):
            namespace = {}
            exec(exercises.starter(exercise.id, lang=lang), namespace)
            stub = namespace[exercise.id]
            first_line = exercise.statement[lang].splitlines()[0]
            assert first_line in stub.__doc__
            with pytest.raises(NotImplementedError):
                stub(*exercise.make_cases()[0].args.values())
        assert exercise.title["zh"] != exercise.title["en"]


def test_cases_are_seeded_and_include_the_edge_cases():
    first, again, other = (exercises.get("conv2d_forward").make_cases(s) for s in (0, 0, 1))
    assert all(np.array_equal(a.args["x"], b.args["x"]) for a, b in zip(first, again))
    assert not np.array_equal(first[0].args["x"], other[0].args["x"])
    assert exercises.check("conv2d_forward", exercises.reference("conv2d_forward"), seed=1, show=False).passed
    conv = [c.args for c in first]
    assert any(a["x"].shape[0] == 1 for a in conv)
    assert any(a["stride"] > a["weight"].shape[-1] for a in conv)
    assert any(a["x"].dtype == np.float32 for a in conv)


# -- wrong solutions, written as a reader would ----------------------------------------------------
def _loop_conv(x, weight, bias, stride=1, padding=0, *, extra_padding=0, flip=False, start_at_index=False,
               short=0, dtype=None):
    """A reader's loop convolution; each keyword switches on one slip (none: a correct solution)."""
    p = padding + extra_padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, h, w = xp.shape
    f, _, kh, kw = weight.shape
    ho, wo = (h - kh) // stride + 1 - short, (w - kw) // stride + 1 - short
    kernel = weight[:, :, ::-1, ::-1] if flip else weight
    y = np.zeros((n, f, ho, wo), dtype=x.dtype if dtype is None else dtype)
    for r in range(ho):
        for q in range(wo):
            top, left = (r, q) if start_at_index else (r * stride, q * stride)
            window = xp[:, :, top:top + kh, left:left + kw]
            y[:, :, r, q] = np.einsum("nchw,fchw->nf", window, kernel) + bias
    return y


def _loop_max_pool(x, kernel_size=2, stride=2, *, start=-np.inf, ceil=False):
    n, c, h, w = x.shape
    k, s = kernel_size, stride
    ho, wo = ((h - k) // s + 1, (w - k) // s + 1) if not ceil else (-(-(h - k) // s) + 1, -(-(w - k) // s) + 1)
    y = np.full((n, c, ho, wo), start, dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            for i in range(k):
                for j in range(k):
                    if r * s + i < h and q * s + j < w:
                        y[:, :, r, q] = np.maximum(y[:, :, r, q], x[:, :, r * s + i, q * s + j])
    return y


def _naive_softmax_ce(scores, y):
    e = np.exp(scores)
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    dscores = p.copy()
    dscores[np.arange(n), y] -= 1
    return loss, dscores / n


def _naive_logsumexp_ce(scores, y):
    n = len(y)
    loss = np.mean(np.log(np.exp(scores).sum(axis=1)) - scores[np.arange(n), y])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    p[np.arange(n), y] -= 1
    return loss, p / n


def _stable_ce(scores, y, divide_gradient=True):
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n if divide_gradient else p


def _cs231n_svm(scores, y, margin=1.0):
    """cs231n's vectorized SVM loss: no 1/C."""
    n = len(y)
    margins = np.maximum(0, scores - scores[np.arange(n), y][:, None] + margin)
    margins[np.arange(n), y] = 0
    loss = margins.sum() / n
    d = (margins > 0).astype(float)
    d[np.arange(n), y] = -d.sum(axis=1)
    return loss, d / n


def _loop_scores_transposed(X, W, b):
    n, d = X.shape
    S = np.zeros((n, len(b)), X.dtype)
    for i in range(n):
        for c in range(len(b)):
            S[i, c] = sum(X[i, k] * W[k, c] for k in range(d)) + b[c]  # W[k, c]: transposed
    return S


def _bn_unbiased(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).sum(axis=0) / (len(x) - 1)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def _bn_per_sample(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def _sgd_zero_buffer(param, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    g = grad + weight_decay * param
    if buf is None:
        buf = np.zeros_like(param)  # the first step then gets (1 - dampening) g
    buf = momentum * buf + (1 - dampening) * g
    return param - lr * buf, buf


def _sgd_velocity(param, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    g = grad + weight_decay * param
    v = lr * g if buf is None else momentum * buf + lr * (1 - dampening) * g
    return param - v, v


def _rf_without_strides(layers):
    size = 1
    for k, _ in layers:
        size += k - 1
    return size


def _rf_own_stride(layers):
    size, jump = 1, 1
    for k, s in layers:
        jump = jump * s
        size = size + (k - 1) * jump
    return size


def _loop_stack(n_layers, channels, kernel_size=3, *, field_adds_k=False,
                field_from_0=False, c_not_squared=False, k_not_squared=False,
                bias=False, one_layer=False):
    """A reader's count, layer by layer; each keyword switches on one slip."""
    field = 0 if field_adds_k or field_from_0 else 1
    weights = 0
    for layer in range(n_layers):
        field += kernel_size if field_adds_k else kernel_size - 1
        if layer == 0 or not one_layer:
            taps = kernel_size if k_not_squared else kernel_size * kernel_size
            per_tap = channels if c_not_squared else channels * channels
            weights += taps * per_tap + (channels if bias else 0)
    return field, weights


def _alexnet_size(size, kernel_size, stride, padding=0, *, plus_one=True, floor=False,
                  padding_once=False, whole_by_type=False):
    padded = size + (padding if padding_once else 2 * padding)
    covered = padded - kernel_size
    steps = covered // stride if floor else covered / stride
    value = steps + 1 if plus_one else steps
    whole = isinstance(value, int) if whole_by_type else float(value).is_integer()
    return value, whole


def _loop_shortcut(x, out_channels, stride, *, zeros="after", average=False, first=0,
                   no_stride=False, no_pad=False, dtype=None):
    """A reader's option-A shortcut; ``zeros``: where the new channels go."""
    n, c, h, w = x.shape
    if out_channels < c:
        raise ValueError(f"out_channels {out_channels} < {c} channels")
    step = 1 if no_stride else stride
    rows, cols = range(first, h, step), range(first, w, step)
    new = out_channels - c
    before = {"after": 0, "before": new, "split": new // 2}[zeros]
    y = np.zeros((n, c if no_pad else out_channels, len(rows), len(cols)),
                 x.dtype if dtype is None else dtype)
    for r, i in enumerate(rows):
        for q, j in enumerate(cols):
            kept = (x[:, :, i:i + step, j:j + step].mean(axis=(2, 3)) if average
                    else x[:, :, i, j])
            start = 0 if no_pad else before
            y[:, start:start + c, r, q] = kept
    return y


def _loop_bins(in_size, out_size, *, end_floored=False, equal_width=False, fixed=False,
               inclusive=False):
    bins = []
    for i in range(out_size):
        start = math.floor(i * in_size / out_size)
        end = (i + 1) * in_size / out_size
        end = math.floor(end) if end_floored else math.ceil(end)
        if equal_width:
            width = in_size // out_size
            start, end = i * width, (i + 1) * width
        if fixed:
            step = in_size // out_size
            start, end = i * step, i * step + in_size - (out_size - 1) * step
        bins.append((start, end - 1 if inclusive else end))
    return bins


# chapter 6: written unit by unit, as a reader might
def _loop_rnn_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh, transposed=False, one_bias=False):
    n, hidden = h.shape
    out = np.zeros((n, hidden), dtype=x.dtype)
    for s in range(n):
        for j in range(hidden):
            w_x = weight_ih[:, j] if transposed else weight_ih[j]
            w_h = weight_hh[:, j] if transposed else weight_hh[j]
            a = x[s] @ w_x + h[s] @ w_h + bias_ih[j] + (0 if one_bias else bias_hh[j])
            out[s, j] = math.tanh(a)
    return out


def _cs231n_lstm_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    hidden = h.shape[1]
    a = x @ weight_ih.T + h @ weight_hh.T + bias_ih + bias_hh
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, f = sig(a[:, :hidden]), sig(a[:, hidden:2 * hidden])
    o, g = sig(a[:, 2 * hidden:3 * hidden]), np.tanh(a[:, 3 * hidden:])  # i, f, o, g
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def _loop_rnn_backward(d_h_new, x, h, weight_ih, weight_hh, bias_ih, bias_hh, slope_at="new"):
    h_new = np.tanh(x @ weight_ih.T + h @ weight_hh.T + bias_ih + bias_hh)
    da = np.zeros_like(d_h_new)
    for s in range(len(x)):
        for j in range(h.shape[1]):
            state = h_new[s, j] if slope_at == "new" else h[s, j]
            da[s, j] = d_h_new[s, j] * (1 - state * state)
    return da @ weight_ih, da @ weight_hh, da.T @ x, da.T @ h, da.sum(axis=0)


def _clip_each(grad_ih, grad_hh, max_norm):
    out = []
    for g in (grad_ih, grad_hh):
        norm = math.sqrt(float((g.astype(np.float64) ** 2).sum()))
        out.append(g * min(1.0, max_norm / (norm + 1e-6)))
    total = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in (grad_ih, grad_hh)))
    return out[0], out[1], total


#: (exercise, slip the checker must name, wrong solution, a phrase of the hint in en and zh)
def _loop_pairs(ids, window, start=1, stop=1):
    """A reader's pairs: distances start..window - 1 + stop on each side (start=0 pairs the
    center with itself; stop=0 stops one short)."""
    reach = window - 1 + stop
    centers, contexts = [], []
    for i in range(len(ids)):
        for j in range(i - reach, i + reach + 1):
            if 0 <= j < len(ids) and abs(i - j) >= start:
                centers.append(ids[i])
                contexts.append(ids[j])
    return np.array(centers, dtype=np.int64), np.array(contexts, dtype=np.int64)


def _loop_sgns(w_in, w_out, center, context, negatives, noise_label=0, positive_slope_minus_one=True):
    """A reader's SGNS example, slot by slot; noise_label=1 treats the noise words as contexts."""
    v = w_in[center]
    score = float(np.dot(w_out[context], v))
    p = 1 / (1 + math.exp(-score))
    loss = -math.log(p)
    slope = p - 1 if positive_slope_minus_one else p
    grad_center = slope * w_out[context]
    grad_context = slope * v
    grad_negatives = np.zeros((len(negatives), len(v)))
    for k, word in enumerate(negatives):
        s_k = float(np.dot(w_out[word], v))
        p_k = 1 / (1 + math.exp(-s_k))
        if noise_label == 0:
            loss -= math.log(1 - p_k)
            slope_k = p_k
        else:
            loss -= math.log(p_k)
            slope_k = p_k - 1
        grad_center = grad_center + slope_k * w_out[word]
        grad_negatives[k] = slope_k * v
    return loss, grad_center, grad_context, grad_negatives


def _loop_keep(counts, sample, paper=False, clip=True):
    t = sample * sum(int(c) for c in counts)
    keep = np.zeros(len(counts))
    for i, f in enumerate(counts):
        keep[i] = math.sqrt(t / f) if paper else (math.sqrt(f / t) + 1) * t / f
        if clip:
            keep[i] = min(keep[i], 1.0)
    return keep


def _reader_one_hot(labels, classes, label_binarizer=False):
    """A reader's one-hot through sklearn's LabelBinarizer, or by hand."""
    if label_binarizer:
        from sklearn.preprocessing import LabelBinarizer

        return LabelBinarizer().fit(classes).transform(labels).astype(np.int64)
    return _loop_one_hot(labels, classes)


def _reader_max_norm(weight, max_value, by_column=False, all_rows=False):
    out = weight.astype(np.float64).copy()
    lines = out.T if by_column else out  # a view: scaling a line scales out
    for line in lines:
        norm = math.sqrt(float(np.sum(line ** 2)))
        line *= (max_value if all_rows else min(norm, max_value)) / (norm + 1e-7)
    return out.astype(weight.dtype)


def _reader_cce(logits, one_hot, softmax_first=False, total=False):
    loss = 0.0
    for row, target in zip(logits.astype(np.float64), one_hot):
        if softmax_first:  # the model "already" ends in a softmax
            row = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        shifted = row - row.max()
        log_p = shifted - math.log(np.exp(shifted).sum())
        loss -= float(np.dot(target, log_p))
    return loss if total else loss / len(logits)


def _reader_shard(indices, rank, world_size, blocks=False):
    share = len(indices) // world_size
    if blocks:
        return np.array([indices[rank * share + k] for k in range(share)], dtype=np.int64)
    return _loop_shard(indices, rank, world_size)


def _reader_pixel_shuffle(x, upscale_factor, channel_fastest=False, offsets_swapped=False):
    r = upscale_factor
    n, channels, h, w = x.shape
    c_out = channels // (r * r)
    out = np.empty((n, c_out, h * r, w * r), dtype=x.dtype)
    for c in range(c_out):
        for i in range(r):
            for j in range(r):
                k = (i * r + j) * c_out + c if channel_fastest else c * r * r + i * r + j
                if offsets_swapped:
                    out[:, c, j::r, i::r] = x[:, k]
                else:
                    out[:, c, i::r, j::r] = x[:, k]
    return out


def _reader_d_loss(real_logits, fake_logits, as_written=False, one_mean=False):
    def log_sigmoid(a):
        return math.log(1 / (1 + math.exp(-a))) if as_written else min(a, 0) - math.log1p(math.exp(-abs(a)))

    def log_one_minus_sigmoid(a):
        if as_written:
            one_minus = 1 - 1 / (1 + math.exp(-a))
            return math.log(one_minus) if one_minus > 0 else -math.inf
        return log_sigmoid(-a)

    n_r, n_f = len(real_logits), len(fake_logits)
    real_sum = -sum(log_sigmoid(float(a)) for a in real_logits)
    fake_sum = -sum(log_one_minus_sigmoid(float(a)) for a in fake_logits)
    sig = lambda a: 1 / (1 + np.exp(-a.astype(np.float64)))  # noqa: E731
    if one_mean:
        n = n_r + n_f
        return ((real_sum + fake_sum) / n, ((sig(real_logits) - 1) / n).astype(real_logits.dtype),
                (sig(fake_logits) / n).astype(fake_logits.dtype))
    return (real_sum / n_r + fake_sum / n_f, ((sig(real_logits) - 1) / n_r).astype(real_logits.dtype),
            (sig(fake_logits) / n_f).astype(fake_logits.dtype))


def _reader_psnr(reference, test, data_range, twenty=False, in_place_dtype=False):
    diff = (reference - test).astype(np.float64) if in_place_dtype \
        else reference.astype(np.float64) - test.astype(np.float64)
    mse = float(np.mean(diff ** 2))
    return (20 if twenty else 10) * math.log10(data_range ** 2 / mse)


WRONG = [
    ("linear_scores", "transposed_weight", _loop_scores_transposed, ("transposed weight", "权重转置错了")),
    ("linear_scores", "missing_bias", lambda X, W, b: X @ W.T, ("bias is missing", "漏了偏置")),
    ("softmax_cross_entropy", "no_max_shift", _naive_softmax_ce, ("without the max shift", "没有先减去最大值")),
    ("softmax_cross_entropy", "no_max_shift", _naive_logsumexp_ce, ("without the max shift", "没有先减去最大值")),
    ("softmax_cross_entropy", "gradient_not_divided", lambda s, y: _stable_ce(s, y, False),
     ("not divided by N", "没有除以 N")),
    ("multiclass_hinge_loss", "missing_1_over_c", _cs231n_svm, ("1/C is missing", "少了 1/C")),
    ("linear_backward", "missing_bias_gradient", lambda dy, x, w: (dy @ w, dy.T @ x),
     ("bias gradient is missing", "漏了偏置的梯度")),
    ("linear_backward", "bias_gradient_mean", lambda dy, x, w: (dy @ w, dy.T @ x, np.mean(dy, axis=0)),
     ("a mean where a sum belongs", "该求和的地方求了平均")),
    ("linear_backward", "weight_gradient_transposed", lambda dy, x, w: (dy @ w, np.dot(x.T, dy), dy.sum(0)),
     ("transposed weight gradient", "权重梯度转置了")),
    ("sigmoid_backward", "sigmoid_applied_again",
     lambda dy, y: dy * (1 / (1 + np.exp(-y))) * (1 - 1 / (1 + np.exp(-y))), ("already sigmoid(x)", "已经是")),
    ("matrix_gradient_trace", "gradient_transposed", lambda A, B: (A.T @ B.T).T,
     ("transposed gradient", "梯度转置了")),
    ("trace_quadratic_gradient", "assumed_symmetric", lambda A, X: 2 * A @ X, ("symmetric A", "对称")),
    ("batchnorm_forward", "unbiased_variance", _bn_unbiased, ("unbiased variance", "无偏方差")),
    ("batchnorm_forward", "normalized_per_sample", _bn_per_sample, ("LayerNorm", "LayerNorm")),
    ("dropout_forward", "divided_by_p", lambda x, p, mask: np.where(mask, x / p, 0),
     ("probability of dropping", "丢弃的概率")),
    ("dropout_forward", "p_one_division", lambda x, p, mask: x * mask / (1 - p),
     ("return zeros", "返回全零")),
    ("sgd_momentum_step", "dampening_on_first_step", _sgd_zero_buffer,
     ("without (1 - dampening)", "不乘 (1 - dampening)")),
    ("sgd_momentum_step", "lr_in_buffer", _sgd_velocity, ("keeps lr out of the buffer", "缓冲区不含 lr")),
    ("conv2d_forward", "padding_off_by_one", lambda *a: _loop_conv(*a, extra_padding=1),
     ("off-by-one padding", "填充差了一")),
    ("conv2d_forward", "kernel_flipped", lambda *a: _loop_conv(*a, flip=True),
     ("kernel is flipped", "卷积核被翻转了")),
    ("conv2d_forward", "window_start", lambda *a: _loop_conv(*a, start_at_index=True),
     ("starts at row r * stride", "从第 r * stride 行")),
    ("conv2d_forward", "output_size_off_by_one", lambda *a: _loop_conv(*a, short=1),
     ("mind the + 1", "别忘了 + 1")),
    ("conv2d_forward", "missing_bias", lambda x, w, b, s=1, p=0: _loop_conv(x, w, np.zeros_like(b), s, p),
     ("bias is missing", "漏了偏置")),
    ("conv2d_forward", "dtype", lambda *a: _loop_conv(*a, dtype=np.float64), ("dtype=x.dtype", "dtype=x.dtype")),
    ("max_pool2d_forward", "max_starts_at_zero", lambda *a: _loop_max_pool(*a, start=0.0),
     ("starts at 0", "从 0 开始")),
    ("max_pool2d_forward", "partial_windows", lambda *a: _loop_max_pool(*a, ceil=True),
     ("partial windows", "不完整的窗口")),
    ("conv_output_size", "missing_plus_one", lambda n, k, s=1, p=0: (n + 2 * p - k) // s, ("add 1", "要加 1")),
    ("conv_output_size", "true_division", lambda n, k, s=1, p=0: (n + 2 * p - k) / s + 1,
     ("floor division", "整除")),
    ("receptive_field_size", "strides_ignored", _rf_without_strides, ("strides are ignored", "忽略了步幅")),
    ("receptive_field_size", "own_stride_counted", _rf_own_stride, ("own stride", "自己的步幅")),
    ("stacked_conv_cost", "field_n_times_k",
     lambda *a: _loop_stack(*a, field_adds_k=True),
     ("not n_layers * kernel_size", "感受野不是 n_layers * kernel_size")),
    ("stacked_conv_cost", "field_missing_plus_one",
     lambda *a: _loop_stack(*a, field_from_0=True), ("start from 1", "要从 1 开始")),
    ("stacked_conv_cost", "weights_c_not_c_squared",
     lambda *a: _loop_stack(*a, c_not_squared=True),
     ("not channels * kernel_size^2", "不是 channels * kernel_size^2")),
    ("stacked_conv_cost", "kernel_not_squared",
     lambda *a: _loop_stack(*a, k_not_squared=True),
     ("kernel_size^2 taps", "kernel_size^2 个位置")),
    ("stacked_conv_cost", "bias_counted", lambda *a: _loop_stack(*a, bias=True),
     ("no bias", "没有偏置")),
    ("stacked_conv_cost", "one_layer_weights",
     lambda *a: _loop_stack(*a, one_layer=True),
     ("weights of one layer", "一层的权重数")),
    ("alexnet_conv_output_size", "missing_plus_one",
     lambda *a: _alexnet_size(*a, plus_one=False), ("add 1", "要加 1")),
    ("alexnet_conv_output_size", "floored", lambda *a: _alexnet_size(*a, floor=True),
     ("true division", "普通除法")),
    ("alexnet_conv_output_size", "floored",
     lambda *a: (float(_alexnet_size(*a)[0] // 1), _alexnet_size(*a)[1]),
     ("true division", "普通除法")),
    ("alexnet_conv_output_size", "padding_counted_once",
     lambda *a: _alexnet_size(*a, padding_once=True), ("both ends", "两端都要填充")),
    ("alexnet_conv_output_size", "is_whole_wrong",
     lambda *a: _alexnet_size(*a, whole_by_type=True),
     ("value.is_integer()", "value.is_integer()")),
    ("zero_pad_shortcut", "zeros_before", lambda *a: _loop_shortcut(*a, zeros="before"),
     ("zeros come first", "补在了前面")),
    ("zero_pad_shortcut", "zeros_split", lambda *a: _loop_shortcut(*a, zeros="split"),
     ("split before and after", "前后两边")),
    ("zero_pad_shortcut", "averaged", lambda *a: _loop_shortcut(*a, average=True),
     ("average pooling", "平均池化")),
    ("zero_pad_shortcut", "subsampled_late", lambda *a: _loop_shortcut(*a, first=1),
     ("start at 0", "从 0 开始")),
    ("zero_pad_shortcut", "stride_ignored",
     lambda *a: _loop_shortcut(*a, no_stride=True),
     ("stride is ignored", "忽略了步幅")),
    ("zero_pad_shortcut", "channels_not_padded",
     lambda *a: _loop_shortcut(*a, no_pad=True),
     ("not padded", "没有补零")),
    ("zero_pad_shortcut", "dtype", lambda *a: _loop_shortcut(*a, dtype=np.float64),
     ("dtype=x.dtype", "dtype=x.dtype")),
    ("adaptive_avg_pool_bins", "end_floored",
     lambda *a: _loop_bins(*a, end_floored=True),
     ("rounds up", "向上取整")),
    ("adaptive_avg_pool_bins", "equal_width",
     lambda *a: _loop_bins(*a, equal_width=True),
     ("drop the remainder", "丢掉了余数")),
    ("adaptive_avg_pool_bins", "fixed_window", lambda *a: _loop_bins(*a, fixed=True),
     ("fixed window", "固定窗口")),
    ("adaptive_avg_pool_bins", "end_inclusive",
     lambda *a: _loop_bins(*a, inclusive=True),
     ("end is excluded", "终点不包含在内")),
    ("rnn_step_forward", "transposed_weight", lambda *a: _loop_rnn_step(*a, transposed=True),
     ("x @ weight_ih.T", "x @ weight_ih.T")),
    ("rnn_step_forward", "one_bias", lambda *a: _loop_rnn_step(*a, one_bias=True),
     ("bias_ih and bias_hh", "bias_ih 和 bias_hh")),
    ("lstm_step_forward", "gate_order_ifog", _cs231n_lstm_step, ("i, f, g, o", "i、f、g、o")),
    ("rnn_step_backward", "derivative_at_old_state",
     lambda *a: _loop_rnn_backward(*a, slope_at="old"), ("1 - h_new^2", "1 - h_new^2")),
    ("clip_grad_norm", "per_tensor", _clip_each, ("one total norm", "总范数")),
    ("skipgram_training_pairs", "center_included", lambda *a: _loop_pairs(*a, start=0),
     ("without 0", "不含 0")),
    ("skipgram_training_pairs", "window_too_short", lambda *a: _loop_pairs(*a, stop=0),
     ("range(1, window + 1)", "range(1, window + 1)")),
    ("sgns_example", "negatives_as_positives", lambda *a: _loop_sgns(*a, noise_label=1),
     ("-log σ(-u_k·v)", "-log σ(-u_k·v)")),
    ("sgns_example", "positive_slope", lambda *a: _loop_sgns(*a, positive_slope_minus_one=False),
     ("σ(u_o·v) - 1", "σ(u_o·v) - 1")),
    ("keep_probability", "paper_formula", lambda *a: _loop_keep(*a, paper=True),
     ("sqrt(t / f)", "sqrt(t / f)")),
    ("keep_probability", "not_clipped", lambda *a: _loop_keep(*a, clip=False),
     ("min(1, ...)", "min(1, ...)")),
    ("one_hot", "one_column_for_two_classes", lambda *a: _reader_one_hot(*a, label_binarizer=True),
     ("LabelBinarizer", "LabelBinarizer")),
    ("max_norm_", "columns_normalized", lambda *a: _reader_max_norm(*a, by_column=True),
     ("incoming vector is a row", "输入权重是一行")),
    ("max_norm_", "every_row_rescaled", lambda *a: _reader_max_norm(*a, all_rows=True),
     ("min(norm, max_value) / norm", "min(norm, max_value) / norm")),
    ("categorical_crossentropy", "softmax_twice", lambda *a: _reader_cce(*a, softmax_first=True),
     ("log_softmax itself", "自己会做 log_softmax")),
    ("categorical_crossentropy", "summed", lambda *a: _reader_cce(*a, total=True),
     ("divide by N", "除以 N")),
    ("shard_batch", "contiguous_blocks", lambda *a: _reader_shard(*a, blocks=True),
     ("indices[r::world_size]", "indices[r::world_size]")),
    ("pixel_shuffle", "channel_last_in_group",
     lambda *a: _reader_pixel_shuffle(*a, channel_fastest=True), ("c·r² + i·r + j", "c·r² + i·r + j")),
    ("pixel_shuffle", "offsets_swapped", lambda *a: _reader_pixel_shuffle(*a, offsets_swapped=True),
     ("(N, C, H, r, W, r)", "(N, C, H, r, W, r)")),
    ("discriminator_loss_and_grads", "naive_log", lambda *a: _reader_d_loss(*a, as_written=True),
     ("log σ(-a)", "log σ(-a)")),
    ("discriminator_loss_and_grads", "one_mean", lambda *a: _reader_d_loss(*a, one_mean=True),
     ("its own mean", "各自求平均")),
    ("psnr", "twenty_log", lambda *a: _reader_psnr(*a, twenty=True), ("10·log10", "10·log10")),
    ("psnr", "uint8_wraps", lambda *a: _reader_psnr(*a, in_place_dtype=True),
     ("convert both images to float", "先把两幅图转成浮点数")),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("exercise_id, slip, solution, phrase", WRONG,
                         ids=[f"{e}-{s}-{i}" for i, (e, s, *_) in enumerate(WRONG)])
def test_a_typical_wrong_solution_gets_its_hint(exercise_id, slip, solution, phrase, lang):
    result = exercises.check(exercise_id, solution, lang=lang, show=False)
    assert not result.passed and result.error is None, result.message
    assert result.slip == slip, result.message
    assert phrase[lang == "zh"] in result.hint
    assert _squeeze(result.hint) in _squeeze(result.message)
    case = exercises.get(exercise_id).make_cases()[result.failed_case - 1]
    first = {"en": f"case {result.failed_case} of {result.total_cases} fails",
             "zh": f"第 {result.failed_case} 个用例（共 {result.total_cases} 个）不通过"}[lang]
    assert first in result.message
    for name, value in case.args.items():  # the input: shapes and parameters
        shown = f"{name} {value.shape}" if isinstance(value, np.ndarray) else f"{name}="
        assert shown in result.message


def test_every_exercise_has_a_wrong_solution():
    assert {e for e, *_ in WRONG} == set(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_slip_variant_is_caught_and_named(exercise_id):
    """Each listed slip shows on the cases and is not shadowed by an earlier one."""
    exercise = exercises.get(exercise_id)
    for slip in exercise.slips:
        for variant in slip.variants:
            result = exercises.check(exercise_id, variant, show=False)
            assert not result.passed and result.slip == slip.key, (slip.key, result.message)


def test_the_loop_solutions_are_right_when_no_slip_is_switched_on():
    """The wrong solutions above differ from right ones by their slip only."""
    for exercise_id, solution in [("conv2d_forward", _loop_conv), ("max_pool2d_forward", _loop_max_pool),
                                  ("softmax_cross_entropy", _stable_ce),
                                  ("stacked_conv_cost", _loop_stack),
                                  ("alexnet_conv_output_size", _alexnet_size),
                                  ("zero_pad_shortcut", _loop_shortcut),
                                  ("adaptive_avg_pool_bins", _loop_bins),
                                  ("rnn_step_forward", _loop_rnn_step),
                                  ("rnn_step_backward", _loop_rnn_backward),
                                  ("skipgram_training_pairs", _loop_pairs),
                                  ("sgns_example", _loop_sgns), ("keep_probability", _loop_keep),
                                  ("one_hot", _reader_one_hot), ("max_norm_", _reader_max_norm),
                                  ("categorical_crossentropy", _reader_cce),
                                  ("shard_batch", _reader_shard),
                                  ("pixel_shuffle", _reader_pixel_shuffle),
                                  ("discriminator_loss_and_grads", _reader_d_loss),
                                  ("psnr", _reader_psnr)]:
        assert exercises.check(exercise_id, solution, show=False).passed


def test_the_chapter_5_exercises_give_the_chapter_numbers():
    """The numbers chapter 5 argues with, and what its checker cannot test (a raise)."""
    stack = exercises.reference("stacked_conv_cost")
    for c in (1, 64, 512):
        assert stack(3, c) == (7, 27 * c * c) and stack(1, c, 7) == (7, 49 * c * c)
    size = exercises.reference("alexnet_conv_output_size")
    assert size(224, 11, 4) == (54.25, False) and size(227, 11, 4) == (55.0, True)
    value, whole = size(227, 11, 4)
    assert type(value) is float and type(whole) is bool
    assert size(224, 7, 2, 3) == (112.5, False) and size(224, 3, 1, 1) == (224.0, True)
    shortcut = exercises.reference("zero_pad_shortcut")
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5))
    y = shortcut(x, 8, 2)
    assert y.shape == (2, 8, 3, 3) and np.array_equal(y[:, :4], x[:, :, ::2, ::2])
    assert not y[:, 4:].any()
    assert np.array_equal(y, _loop_shortcut(x, 8, 2))
    with pytest.raises(ValueError, match="out_channels"):
        shortcut(x, 3, 2)
    with pytest.raises(ValueError):
        _loop_shortcut(x, 3, 2)
    bins = exercises.reference("adaptive_avg_pool_bins")
    assert bins(10, 4) == [(0, 3), (2, 5), (5, 8), (7, 10)]
    assert bins(7, 1) == [(0, 7)] and bins(6, 3) == [(0, 2), (2, 4), (4, 6)]


def test_the_element_and_the_values_are_reported():
    exercise = exercises.get("conv2d_forward")
    result = exercises.check("conv2d_forward", lambda *a: _loop_conv(*a, flip=True), show=False)
    case = exercise.make_cases()[0]
    want = exercise.reference(*case.args.values())
    got = _loop_conv(*case.args.values(), flip=True)
    first = np.argwhere(~np.isclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max()))[0]
    index = "[" + ", ".join(str(i) for i in first) + "]"
    assert f"y{index}: expected {want[tuple(first)]:.7g}, got {got[tuple(first)]:.7g}" in result.message


def test_the_tolerance_is_relative_1e10_for_float64_and_1e5_for_float32():
    ref = exercises.reference("conv2d_forward")
    close = exercises.check("conv2d_forward", lambda *a: ref(*a) * (1 + 1e-12), show=False)
    assert close.passed, close.message
    off = exercises.check("conv2d_forward", lambda *a: ref(*a) * (1 + 1e-8), show=False)
    assert not off.passed and off.failed_case == 1 and off.slip == "factor"
    assert _squeeze("relative error 1.0e-08 > 1e-10") in _squeeze(off.message)
    assert "1.00000001 times the expected one" in off.hint

    def in_float32(x, weight, bias, stride=1, padding=0):  # float64 inputs computed in float32
        y = ref(x.astype(np.float32), weight.astype(np.float32), bias.astype(np.float32), stride, padding)
        return y.astype(x.dtype)

    single = exercises.check("conv2d_forward", in_float32, show=False)
    assert not single.passed and single.failed_case == 1 and single.slip is None
    float32_cases = [i for i, c in enumerate(exercises.get("conv2d_forward").make_cases(), 1)
                     if c.args["x"].dtype == np.float32]
    assert float32_cases == [8]

    def scaled_in_float32(factor):
        def solution(x, weight, bias, stride=1, padding=0):
            y = ref(x, weight, bias, stride, padding)
            return y * np.asarray(factor, y.dtype) if y.dtype == np.float32 else y
        return solution

    assert exercises.check("conv2d_forward", scaled_in_float32(1 + 1e-6), show=False).passed
    result = exercises.check("conv2d_forward", scaled_in_float32(1 + 1e-4), show=False)
    assert not result.passed and result.failed_case == 8 and _squeeze("> 1e-05") in _squeeze(result.message)


def test_generic_slips():
    ref = exercises.reference("conv2d_forward")
    cases = {"sign": lambda *a: -ref(*a), "factor": lambda *a: 3 * ref(*a)}
    for key, solution in cases.items():
        result = exercises.check("conv2d_forward", solution, show=False)
        assert result.slip == key, result.message
    result = exercises.check("conv2d_forward", lambda *a: 3 * ref(*a), lang="zh", show=False)
    assert "正确结果的 3 倍" in result.hint
    noise = exercises.check("conv2d_forward", lambda *a: ref(*a) + np.random.default_rng(1).random(), show=False)
    assert noise.slip is None and "No typical slip recognized: work out this element" in noise.message
    shape = exercises.check("conv2d_forward", lambda *a: ref(*a)[:, :1], show=False)
    assert shape.slip is None and "expected shape (2, 4, 7, 7), got shape (2, 1, 7, 7)" in shape.message
    assert "work out the output's shape" in shape.message


def test_reports_wrap_at_88_columns_and_keep_chinese_punctuation_attached():
    from dlbook.exercises.core import _width

    for lang in ("zh", "en"):
        for exercise_id, _, solution, _ in WRONG:
            message = exercises.check(exercise_id, solution, lang=lang, show=False).message
            for line in message.splitlines():
                assert _width(line) <= 88, line
                assert not line.strip().startswith(("，", "。", "：", "）")) and not line.endswith("（"), line


def test_ints_may_come_as_numpy_ints_but_not_as_floats():
    ref = exercises.reference("conv_output_size")
    assert exercises.check("conv_output_size", lambda *a: np.int64(ref(*a)), show=False).passed
    assert exercises.check("conv_output_size", lambda *a: np.array(ref(*a)), show=False).passed
    result = exercises.check("conv_output_size", lambda *a: float(ref(*a)), show=False)
    assert not result.passed and "expected an int, got float 32.0" in result.message
    assert result.slip == "true_division" and "return an int" in result.hint


def test_a_solution_that_raises_is_reported_with_its_case():
    def conv2d_forward(x, weight, bias, stride=1, padding=0):  # forgets to pad: windows are cut short
        n, c, h, w = x.shape
        f, _, kh, kw = weight.shape
        ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
        y = np.zeros((n, f, ho, wo), x.dtype)
        for r in range(ho):
            for q in range(wo):
                window = x[:, :, r * stride:r * stride + kh, q * stride:q * stride + kw]
                y[:, :, r, q] = np.einsum("nchw,fchw->nf", window, weight) + bias
        return y

    for lang, head in (("en", "case 1 of 8 raised ValueError"), ("zh", "第 1 个用例（共 8 个）抛出了 ValueError")):
        result = exercises.check("conv2d_forward", conv2d_forward, lang=lang, show=False)
        assert not result.passed and result.failed_case == 1 and result.passed_cases == 0
        assert result.error.startswith("ValueError") and head in result.message
        assert "stride=1" in result.message and "padding=1" in result.message
        assert "test_exercises.py" in result.message and "np.einsum" in result.message

    def only_float64(x, weight, bias, stride=1, padding=0):
        if x.dtype != np.float64:
            raise TypeError(f"expected float64, got {x.dtype}")
        return exercises.reference("conv2d_forward")(x, weight, bias, stride, padding)

    result = exercises.check("conv2d_forward", only_float64, show=False)
    assert result.failed_case == 8 and result.passed_cases == 7
    assert "raised TypeError: expected float64, got float32" in result.message
    assert "(float32)" in result.message and "x (2, 3, 8, 8) float32" in result.message


def test_the_starter_and_other_bad_solutions():
    namespace = {}
    exec(exercises.starter("conv2d_forward"), namespace)
    result = exercises.check("conv2d_forward", namespace["conv2d_forward"], show=False)
    assert not result.passed and result.error == "NotImplementedError"
    assert "not implemented yet" in result.message
    result = exercises.check("conv2d_forward", lambda x, weight: x, show=False)
    assert not result.passed and _squeeze("cannot be called as conv2d_forward(x, weight, bias, stride=1, "
                                          "padding=0)") in _squeeze(result.message)
    ref = exercises.reference("softmax_cross_entropy")
    result = exercises.check("softmax_cross_entropy", lambda s, y: ref(s, y)[0], show=False)
    assert "expected 2 outputs (loss, dscores), got one value" in result.message
    result = exercises.check("conv_output_size", lambda *a: None, show=False)
    assert "output_size: expected an int, got None" in result.message


def test_bad_calls_are_explained(monkeypatch):
    with pytest.raises(UnknownExerciseError, match="Did you mean 'conv2d_forward'.*Known ids: linear_scores"):
        exercises.check("conv2d_forwrd", print)
    with pytest.raises(TypeError, match="expects your function"):
        exercises.check("conv2d_forward", "def conv2d_forward(x): ...")
    with pytest.raises(ValueError, match="lang must be one of"):
        exercises.check("conv2d_forward", print, lang="de")
    with pytest.raises(ValueError, match="seed must be"):
        exercises.check("conv2d_forward", print, seed=-1)
    with pytest.raises(ValueError,
                       match="chapters with exercises: \\[1, 2, 3, 4, 5, 6, 7, 8, 9\\]"):
        exercises.list_exercises(10)
    monkeypatch.setenv("DLBOOK_LANG", "zh")
    assert "全部通过" in exercises.check("conv_output_size", exercises.reference("conv_output_size"),
                                     show=False).message
    monkeypatch.setenv("DLBOOK_LANG", "fr")
    with pytest.raises(ValueError, match="DLBOOK_LANG='fr'"):
        exercises.starter("conv_output_size")


def test_check_prints_its_message(capsys):
    result = exercises.check("conv_output_size", exercises.reference("conv_output_size"), lang="en")
    assert capsys.readouterr().out.strip() == result.message
    exercises.check("conv_output_size", exercises.reference("conv_output_size"), show=False)
    assert capsys.readouterr().out == ""


def test_every_chapter_page_checks_its_exercises():
    """The exercises section of each chapter page (the last one before the references), in both
    languages, checks every exercise of the chapter."""
    chapters = sorted({e.chapter for e in exercises.list_exercises()})
    assert chapters == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    for lang in ("zh", "en"):
        for chapter in chapters:
            found = sorted(pages.BOOK.joinpath(lang).glob(f"{chapter:02d}_*.md"))
            assert found, f"no {lang} page for chapter {chapter}"
            page = found[0]
            sections = page.read_text(encoding="utf-8").split("\n## ")
            if sections[-1].startswith(("参考文献", "References")):
                sections.pop()
            last = sections[-1]
            checked = set(re.findall(r'exercises\.check\(\s*"(\w+)"', last))
            expected = {e.id for e in exercises.list_exercises(chapter)}
            assert checked == expected, f"{page.name} ({lang}): checks {sorted(checked)}"


# -- the command line -----------------------------------------------------------------------------
GOOD = "def conv_output_size(size, kernel_size, stride=1, padding=0):\n" \
       "    return (size + 2 * padding - kernel_size) // stride + 1\n"
BAD = GOOD.replace(" + 1\n", "\n")


def _dlbook(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dlbook", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_cli_check_exits_0_on_pass_and_1_on_fail(tmp_path):
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    good = _dlbook("check", "conv_output_size", str(tmp_path / "good.py"))
    assert good.returncode == 0 and "all 20 cases passed" in good.stdout, good.stderr
    bad = _dlbook("check", "conv_output_size", str(tmp_path / "bad.py"), "--lang", "zh")
    assert bad.returncode == 1 and "要加 1" in bad.stdout, bad.stderr


def test_cli_info_prints_the_versions():
    import numpy
    import platform
    import sympy

    out = _dlbook("info")
    assert out.returncode == 0, out.stderr
    for line in (f"dlbook: {dlbook.__version__}", f"python: {platform.python_version()}",
                 f"numpy: {numpy.__version__}", f"torch: {torch.__version__}", f"sympy: {sympy.__version__}",
                 "torch device: cpu" if not torch.cuda.is_available() else "torch device: cuda"):
        assert line in out.stdout
    for key in ("result cache:", "scikit-learn data:", "CJK font:"):
        assert key in out.stdout


def test_cli_in_process(tmp_path, capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert all(i in listed for i in IDS) and "2-D convolution" in listed
    assert main(["list", "--chapter", "3", "--lang", "zh"]) == 0
    assert "批量规范化" in capsys.readouterr().out
    assert main(["starter", "receptive_field_size"]) == 0
    assert capsys.readouterr().out.startswith("def receptive_field_size(layers):")
    assert main(["check", "conv_outputsize", str(tmp_path / "x.py")]) == 2
    assert "Known ids:" in capsys.readouterr().err
    assert main(["check", "conv_output_size", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "other.py").write_text("def conv_out(size, k):\n    return size\n", encoding="utf-8")
    assert main(["check", "conv_output_size", str(tmp_path / "other.py")]) == 2
    assert "defines no function conv_output_size(...); it defines: conv_out" in capsys.readouterr().err
    (tmp_path / "broken.py").write_text("import numpy as np\n1 / 0\n", encoding="utf-8")
    assert main(["check", "conv_output_size", str(tmp_path / "broken.py")]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["check", "conv_output_size"])
    assert exit_.value.code == 2


def test_the_shortcut_reference_is_the_models_option_a():
    """The exercise's reference and dlbook.models.resnet.ZeroPadShortcut agree on every case."""
    from dlbook.models.resnet import ZeroPadShortcut

    exercise = exercises.get("zero_pad_shortcut")
    reference = exercises.reference("zero_pad_shortcut")
    for case in exercise.make_cases(seed=0):
        x, out_channels, stride = case.args["x"], case.args["out_channels"], case.args["stride"]
        expected = ZeroPadShortcut(x.shape[1], out_channels, stride)(x)
        got = reference(x, out_channels, stride)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
