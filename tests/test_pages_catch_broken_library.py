"""Each chapter is a check on the library: run against a subtly broken copy of dlbook, it must raise.

Every mutation is a plausible slip (a lost transpose, a gradient averaged instead of summed, an
off-by-one in a size formula). The intact copy must pass, so a failure is the mutation's doing,
and the failure must come from a check on the page (an assert or a verifier), not from a crash.
"""

from pathlib import Path

import pytest

import pages

pytestmark = pytest.mark.slow

MUTATIONS = {
    "01_basics": {
        "cross-entropy off by 0.01%": (
            "nn/functional/loss.py", "per_sample = -log_softmax(scores, axis=1)",
            "per_sample = -1.0001 * log_softmax(scores, axis=1)"),
        "hinge loss divided by C-1": (
            "nn/functional/loss.py", "** p, axis=1) / scores.shape[1]", "** p, axis=1) / (scores.shape[1] - 1)"),
        "bias gradient averaged": ("linear.py", '"bias": dscores.sum(axis=0)', '"bias": dscores.mean(axis=0)'),
        "L2 gradient doubled": (
            "linear.py", "+ self.weight_decay * self.weight,", "+ 2 * self.weight_decay * self.weight,"),
        "log-softmax without the max shift": (
            "nn/functional/loss.py", "shifted = x - np.max(x, axis=axis, keepdims=True)", "shifted = x"),
        "mean-reduced gradients not divided by N": (
            "nn/functional/loss.py", 'return grad_per_sample / n if reduction == "mean" else grad_per_sample',
            "return grad_per_sample"),
        "hinge gradient of the true class with the wrong sign": (
            "nn/functional/loss.py", "grad[rows, target] = -grad.sum(axis=1)", "grad[rows, target] = grad.sum(axis=1)"),
        "hinge compares the true class with itself": (
            "nn/functional/loss.py", "margins[np.arange(len(target)), target] = 0.0  #", "pass  #"),
        "scores without the bias": (
            "linear.py", "return self._check_X(X) @ self.weight.T + self.bias", "return self._check_X(X) @ self.weight.T"),
        "bias stepped up the gradient": (
            "linear.py", 'self.bias -= lr * grads["bias"]', 'self.bias += lr * grads["bias"]'),
        "HOG cells of 4x4 pixels": ("features.py", "cell: int = 2, orientations", "cell: int = 4, orientations"),
        "minibatches skip the last partial batch": (
            "data.py", "for start in range(0, len(X), batch_size):",
            "for start in range(0, len(X) - batch_size, batch_size):"),
    },
    "02_backprop": {
        "Jacobi's formula without the transpose": (
            "calculus/matrix_form.py", "return sp.Determinant(X) * X.inv().T", "return sp.Determinant(X) * X.inv()"),
        "matrix-form atom rule transposed": (
            "calculus/matrix_form.py", "    return result\n\n\ndef _gradient", "    return result.T\n\n\ndef _gradient"),
        "chain rule uses G^T": ("calculus/chain.py", "return W.T * G\n", "return W.T * G.T\n"),
        "entrywise partials off by 0.01% off the diagonal": (
            "calculus/entrywise.py", "lambda i, j: sp.diff(f, X[i, j]))",
            "lambda i, j: sp.diff(f, X[i, j]) * (1 if i == j else sp.Rational(10001, 10000)))"),
        "ReLU backward lets every gradient through": (
            "backprop.py", "as torch does).\"\"\"\n    return dy * cache", "as torch does).\"\"\"\n    return dy"),
        "graph multiply gate does not swap its inputs": (
            "backprop.py", "lambda ins, out: (ins[1], ins[0])", "lambda ins, out: (ins[0], ins[1])"),
        "sigmoid backward off by 0.01%": (
            "backprop.py", "return dy * cache * (1 - cache)", "return dy * cache * (1.0001 - cache)"),
        "chain-rule weight gradient averaged over samples": (
            "calculus/chain.py", "return G * X.T\n", "return G * X.T / X.cols\n"),
        "chain-rule bias gradient averaged over samples": (
            "calculus/chain.py", "else G * sp.ones(G.cols, 1)", "else G * sp.ones(G.cols, 1) / G.cols"),
        "power rule without the -1": (
            "calculus/matrix_form.py", "(power * base ** (power - 1))", "(power * base ** power)"),
        "outer derivative dropped in the chain rule for f(u)": (
            "calculus/matrix_form.py", "return e.fdiff(1) * _gradient(e.args[0], X)", "return _gradient(e.args[0], X)"),
        "Hessian entries listed column by column": (
            "calculus/entrywise.py", "for i in range(m) for j in range(n) for k in range(m) for l in range(n)]",
            "for j in range(n) for i in range(m) for l in range(n) for k in range(m)]"),
    },
    "03_nn_components": {
        "sigmoid derivative off by 0.01%": (
            "nn/functional/activation.py", "return dy * y * (1 - y)", "return dy * y * (1.0001 - y)"),
        "Linear bias gradient averaged": (
            "nn/linear.py", 'self.grads["bias"] += dy2.sum(axis=0)', 'self.grads["bias"] += dy2.mean(axis=0)'),
        "He init without the ReLU gain": (
            "nn/init.py", "return calculate_gain(nonlinearity, a) / math.sqrt(fan)", "return 1.0 / math.sqrt(fan)"),
        "Xavier uses fan_in only": (
            "nn/init.py", "gain * math.sqrt(2.0 / (fan_in + fan_out))", "gain * math.sqrt(1.0 / fan_in)"),
        "trunc_normal_ cut-offs in units of std": (
            "nn/init.py", "lo, hi = ndtr((a - mean) / std), ndtr((b - mean) / std)", "lo, hi = ndtr(a), ndtr(b)"),
        "running variance not unbiased": (
            "nn/batchnorm.py", 'b["running_var"] += m * var * (n / (n - 1))', 'b["running_var"] += m * var'),
        "weight decay halved": ("optim.py", "(g + self.weight_decay * p if", "(g + 0.5 * self.weight_decay * p if"),
        "dropout without inverted scaling": (
            "nn/dropout.py", "scale = x.dtype.type(0 if self.p == 1 else 1 / (1 - self.p))", "scale = x.dtype.type(1)"),
        "L2 penalty gradient doubled": (
            "nn/regularization.py", "grads[name] += weight_decay * p", "grads[name] += 2 * weight_decay * p"),
        "dropout keeps each unit with probability p": (
            "nn/dropout.py", "mask = self.rng.random(x.shape) >= self.p", "mask = self.rng.random(x.shape) < self.p"),
        "BatchNorm backward forgets the mean term": (
            "nn/batchnorm.py", "return inv_std * (g - g_mean - xhat * gx_mean)", "return inv_std * (g - xhat * gx_mean)"),
        "SGD momentum buffer starts at zero": (
            "optim.py", 'state["momentum_buffer"] = np.array(g, copy=True)', 'state["momentum_buffer"] = np.zeros_like(g)'),
        "truncated-normal init cut at one std": (
            "models/mlp.py", "nninit.trunc_normal_(w, 0.0, std, -2 * std, 2 * std,",
            "nninit.trunc_normal_(w, 0.0, std, -std, std,"),
    },
    "04_cnn": {
        "col2im overwrites instead of accumulating": ("nn/im2col.py", "+= dcols[:, i, j]", "= dcols[:, i, j]"),
        "conv bias added twice": (
            "nn/functional/conv.py", "y += bias[:, None, None, None]", "y += 2 * bias[:, None, None, None]"),
        "receptive-field jump ignores the stride": (
            "receptive_field.py", "jump = jump * np.array(window.stride)", "jump = jump * 1"),
        "max-pool gradient sent to the wrong tap": (
            "nn/functional/conv.py", "np.put_along_axis(dcols, cache.argmax[:, None, :]",
            "np.put_along_axis(dcols, (cache.argmax[:, None, :] + 1) % taps"),
        "output size off by one": ("cnn_shapes.py", "return (padded - span) // s + 1", "return (padded - span) // s + 2"),
        "average pooling divides by one too many": (
            "nn/functional/conv.py", "y = sums / divisor.astype(x.dtype)", "y = sums / (divisor.astype(x.dtype) + 1)"),
        "conv bias gradient averaged": (
            "nn/functional/conv.py", "dbias = dy.sum(axis=(0, 2, 3))", "dbias = dy.mean(axis=(0, 2, 3))"),
        "windows step one pixel whatever the stride": (
            "nn/im2col.py", "(row * dh, col * dw, row * sh, col * sw)", "(row * dh, col * dw, row, col)"),
        "naive loops ignore the stride": ("nn/naive_conv.py", "top, left = r * stride, s * stride", "top, left = r, s"),
        "conv parameter count ignores the groups": (
            "cnn_shapes.py", "out_channels * (in_channels // groups) * kh * kw", "out_channels * in_channels * kh * kw"),
        "receptive-field start ignores padding": (
            "receptive_field.py", "start = start + ((span - 1) / 2 - np.array(window.padding)) * jump",
            "start = start + (span - 1) / 2 * jump"),
    },
}
#: What a check on the page raises (a crash elsewhere would not count as "caught"): an assert,
#: a comparison against torch, the calculus verifier, or a comparison refusing different shapes.
CAUGHT_BY = ("AssertionError", "MismatchError", "VerificationError", "has X's shape", "shapes differ")


def _page(chapter: str) -> Path:
    return pages.BOOK / "zh" / f"{chapter}.md"


@pytest.mark.parametrize("chapter", sorted(MUTATIONS))
def test_chapter_passes_with_an_intact_copy_of_the_library(tmp_path, chapter):
    result = pages.execute_with_library_copy(_page(chapter), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("chapter,name", [(c, n) for c in sorted(MUTATIONS) for n in sorted(MUTATIONS[c])])
def test_chapter_fails_with_a_broken_library(tmp_path, chapter, name):
    result = pages.execute_with_library_copy(_page(chapter), tmp_path, MUTATIONS[chapter][name])
    assert result.returncode != 0, f"{chapter} did not notice: {name}"
    assert any(reason in result.stderr for reason in CAUGHT_BY), result.stderr[-2000:]


def test_every_chapter_has_mutations():
    chapters = {p.stem for p in pages.chapter_pages("zh")} - {"00_preface"}
    assert chapters <= set(MUTATIONS), f"chapters without a broken-library test: {sorted(chapters - set(MUTATIONS))}"
