"""Each chapter is a check on the library: run against a subtly broken copy of dlbook, it must raise
from the check on the page that is meant to catch that slip.

Every mutation is a plausible slip (a lost transpose, a gradient averaged instead of summed, an
off-by-one in a size formula) and names its check: the page line that must raise (an assert, or a
call into dlbook's comparisons such as ``against_torch`` or the calculus verifier). A crash, a
timeout, or a different check does not count. The intact library is not run here: the book build
executes every page with it, and passes, so the named check fails because of the mutation.

``COVERAGE`` lists, per chapter, the dlbook functions the page uses to compute what it states; each
must contain a mutation the page catches. Left out on purpose: input checks, the Module plumbing
(registration, traversal, state dicts), caching, plotting, the torch bridge (its slips surface as
mismatches against torch in every chapter, and the unit tests pin them) and the chapter wrappers
that only pass settings to the functions listed (``train_on_digits``, ``train_small_digits``, ...).
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pages

pytestmark = pytest.mark.slow

#: chapter -> {slip: (file in dlbook/, text it occurs once in, replacement, the page line that must raise)}
MUTATIONS = {
    '01_basics': {
        'nearest class mean picks the farthest class': (
            'experiments/basics.py', 'classes[np.argmin(distances, axis=1)]',
            'classes[np.argmax(distances, axis=1)]',
            'assert centroid_acc == sk_centroid.score(split.X_val, split.y_val)'),
        'cross-entropy off by 0.01%': (
            'nn/functional/loss.py', 'per_element = -np.sum(a * log_softmax(s, axis=-1), axis=-1)',
            'per_element = -1.0001 * np.sum(a * log_softmax(s, axis=-1), axis=-1)',
            'assert rel_error(stable, reference) < 1e-15'),
        'hinge loss divided by C-1': (
            'nn/functional/loss.py', '** p, axis=1) / s.shape[1]',
            '** p, axis=1) / (s.shape[1] - 1)',
            'assert rel_error(ours, by_hand / 3) < 1e-12 and rel_error(ours, theirs)'),
        'bias gradient averaged': (
            'nn/functional/linear.py', '(dy2.sum(axis=0) if has_bias',
            '(dy2.mean(axis=0) if has_bias',
            'assert max(errors.values()) < 1e-12'),
        'training loop never back-propagates into the model': (
            'train.py', '        model.backward(loss_fn.backward())\n',
            '        loss_fn.backward()\n',
            'assert run["history"].train_loss[-1] < 0.5 * run["history"].train_loss[0'),
        'log-softmax without the max shift': (
            'nn/functional/loss.py', 'shifted = x - np.max(x, axis=axis, keepdims=True)',
            'shifted = x',
            'assert rel_error(stable, reference) < 1e-15'),
        'mean-reduced gradients not divided by N': (
            'nn/functional/loss.py', '            upstream = upstream / count\n',
            '            upstream = upstream\n',
            'assert val_acc["pixels+hog"] > val_acc["pixels"] + 0.01'),
        'hinge gradient of the true class with the wrong sign': (
            'nn/functional/loss.py', 'grad[rows, target1] = -grad.sum(axis=1)',
            'grad[rows, target1] = grad.sum(axis=1)',
            'assert rel_error(hinge_grad, [[-1 / 3, 1 / 3, 0]]) < 1e-12'),
        'hinge compares the true class with itself': (
            'nn/functional/loss.py', 'margins[np.arange(len(target)), target] = 0.0  #',
            'pass  #',
            'assert rel_error(ours, by_hand / 3) < 1e-12 and rel_error(ours, theirs)'),
        'scores without the bias': (
            'nn/functional/linear.py', 'return y if bias is None else y + bias',
            'return y',
            'assert np.mean(pixel_scores.argmax(axis=1) == split.y_val) == val_acc["pixels"]'),
        'SGD steps up the gradient': (
            'optim.py', 'p -= group["lr"] * g',
            'p += group["lr"] * g',
            'assert run["history"].train_loss[-1] < 0.5 * run["history"].train_loss[0'),
        'HOG cells of 4x4 pixels': (
            'features.py', 'cell: int = 2, orientations',
            'cell: int = 4, orientations',
            'assert widths == {"pixels": 64, "ink": 16, "hog": 144, "pixels+hog": 208'),
        'minibatches skip the last partial batch': (
            'data.py', 'for start in range(0, len(X), batch_size):',
            'for start in range(0, len(X) - batch_size, batch_size):',
            'assert np.mean(pixel_scores.argmax(axis=1) == split.y_val) == val_acc["pixels"]'),
        'sweep trains with the learning rate of the wrong axis': (
            'experiments/basics.py', 'epochs=epochs, lr=lrs[i],', 'epochs=epochs, lr=lrs[j],',
            'assert 0 < i < len(lrs) - 1'),
        'validation accuracy reports the training accuracy': (
            'experiments/basics.py', '"val_acc": history.val_acc[-1]', '"val_acc": history.train_acc[-1]',
            'assert np.mean(pixel_scores.argmax(axis=1) == split.y_val) == val_acc["pixels"]'),
    },
    '02_backprop': {
        'Linear weight gradient averaged over samples': (
            'nn/functional/linear.py', 'dy2.T @ x2, (dy2',
            'dy2.T @ x2 / len(x2), (dy2',
            'assert max(rel_error(grads[k], grads_torch[k]) for k in grads) < 1e-10'),
        "Jacobi's formula without the transpose": (
            'calculus/matrix_form.py', 'return sp.Determinant(X) * X.inv().T',
            'return sp.Determinant(X) * X.inv()',
            'rows = cached_call(verify_all, seed=0)'),
        'matrix-form atom rule transposed': (
            'calculus/matrix_form.py', '    return result\n\n\ndef _gradient',
            '    return result.T\n\n\ndef _gradient',
            'ls_check = verify_gradient(L, Wm, dL_hand, closed_form=dL_sympy,'),
        'chain rule uses G^T': (
            'calculus/chain.py', 'return W.T * G\n',
            'return W.T * G.T\n',
            'print(verify_gradient(chain.g, var, derived, closed_form=direct,'),
        'entrywise partials off by 0.01% off the diagonal': (
            'calculus/entrywise.py', 'lambda i, j: sp.diff(f, X[i, j]))',
            'lambda i, j: sp.diff(f, X[i, j]) * (1 if i == j else sp.Rational(10001, 10000)))',
            'print(verify_gradient(f, X, G, closed_form=A.T, name="tr(AX)"))'),
        'ReLU backward lets every gradient through': (
            'nn/functional/activation.py', 'return dy * (x > 0)',
            'return dy',
            'assert max(errors.values()) < 1e-10'),
        'graph multiply gate does not swap its inputs': (
            'graph.py', 'lambda ins, out: (ins[1], ins[0])',
            'lambda ins, out: (ins[0], ins[1])',
            'assert rel_error(n["w0"].grad, n["w0x0"].grad * n["x0"].value) < 1e-12'),
        'sigmoid backward off by 0.01%': (
            'nn/functional/activation.py', 'return dy * y * (1 - y)',
            'return dy * y * (1.0001 - y)',
            'assert max(rel_error(grads[k], grads_torch[k]) for k in grads) < 1e-10'),
        'chain-rule weight gradient averaged over samples': (
            'calculus/chain.py', 'return G * X.T\n',
            'return G * X.T / X.cols\n',
            'print(verify_gradient(chain.g, var, derived, closed_form=direct,'),
        'chain-rule bias gradient averaged over samples': (
            'calculus/chain.py', 'else G * sp.ones(G.cols, 1)',
            'else G * sp.ones(G.cols, 1) / G.cols',
            'checks[name] = verify_gradient(ce.g, var, derived, closed_form=gradient('),
        'power rule without the -1': (
            'calculus/matrix_form.py', '(power * base ** (power - 1))',
            '(power * base ** power)',
            'rows = cached_call(verify_all, seed=0)'),
        'outer derivative dropped in the chain rule for f(u)': (
            'calculus/matrix_form.py', 'return e.fdiff(1) * _gradient(e.args[0], X)',
            'return _gradient(e.args[0], X)',
            'rows = cached_call(verify_all, seed=0)'),
        'Hessian entries listed column by column': (
            'calculus/entrywise.py', 'for i in range(m) for j in range(n) for k in range(m) for l in range(n)]',
            'for j in range(n) for i in range(m) for l in range(n) for k in range(m)]',
            'hess_check = verify_hessian(f, X, H, name="Hessian")'),
    },
    '03_nn_components': {
        'BatchNorm running mean never moves': (
            'nn/batchnorm.py', 'self.running_mean += m * mean',
            'self.running_mean += 0 * mean',
            'assert rel_error(bn.running_mean, 0.9 * 0.0 + 0.1 * batch_mean) < 1e-12'),
        'normal_ takes std for the variance': (
            'nn/init.py', 'as_generator(generator).normal(mean, std, tensor.shape)',
            'as_generator(generator).normal(mean, np.sqrt(std), tensor.shape)',
            'assert ratio["Sigmoid + Xavier"] < 1e-12 and 0.2 < per_layer["Sigmoid +'),
        'evaluation leaves the network in training mode': (
            'train.py', '    model.eval()\n    total_loss, correct = 0.0, 0',
            '    total_loss, correct = 0.0, 0',
            'assert dropped.train_loss[-1] < 0.01  # dropout alone still memorizes th'),
        'Dropout backward ignores the mask': (
            'nn/dropout.py', 'return dy if mask is None else dy * mask * scale',
            'return dy if mask is None else dy * scale',
            'assert y_err < 1e-15 and dx_err < 1e-15'),
        'BatchNorm normalizes with the unbiased variance': (
            'nn/batchnorm.py', 'mean, var = x.mean(axis=axes), x.var(axis=axes)',
            'mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=1)',
            'assert rel_error(y, by_hand) < 1e-12  # biased variance, eps inside the root'),
        'ReLU derivative lets every gradient through': (
            'nn/functional/activation.py', 'return dy * (x > 0)',
            'return dy',
            'against_torch(with_relu, x)'),
        'tanh derivative with the wrong sign': (
            'nn/functional/activation.py', 'return dy * (1 - y * y)',
            'return dy * (1 + y * y)',
            'report = against_torch(tied, rng.standard_normal((5, 3)))'),
        'sigmoid derivative off by 0.01%': (
            'nn/functional/activation.py', 'return dy * y * (1 - y)',
            'return dy * y * (1.0001 - y)',
            'against_torch(act, z)  # values and derivatives vs torch'),
        'Linear bias gradient averaged': (
            'nn/functional/linear.py', '(dy2.sum(axis=0) if has_bias',
            '(dy2.mean(axis=0) if has_bias',
            'report = against_torch(layer, x)'),
        'He init without the ReLU gain': (
            'nn/init.py', 'return calculate_gain(nonlinearity, a) / math.sqrt(fan)',
            'return 1.0 / math.sqrt(fan)',
            'assert min(p_values.values()) > 1e-3  # every init: the same distribution'),
        'Xavier uses fan_in only': (
            'nn/init.py', 'gain * math.sqrt(2.0 / (fan_in + fan_out))',
            'gain * math.sqrt(1.0 / fan_in)',
            'assert min(p_values.values()) > 1e-3  # every init: the same distribution'),
        'trunc_normal_ cut-offs in units of std': (
            'nn/init.py', 'lo, hi = ndtr((a - mean) / std), ndtr((b - mean) / std)',
            'lo, hi = ndtr(a), ndtr(b)',
            'assert stats.ks_2samp(w_default, w_torch).pvalue > 1e-3  # same as torch'),
        'running variance not unbiased': (
            'nn/batchnorm.py', 'self.running_var += m * var * (n / (n - 1))',
            'self.running_var += m * var',
            'assert rel_error(bn.running_var, 0.9 * 1.0 + 0.1 * batch_var * n / (n - 1))'),
        'weight decay halved': (
            'optim.py', '(p.grad + decay * p if decay',
            '(p.grad + 0.5 * decay * p if decay',
            'assert rel_error(after_decay, (1 - lr * lam) * before) < 1e-15'),
        'dropout without inverted scaling': (
            'nn/dropout.py', 'scale = x.dtype.type(0 if self.p == 1 else 1 / (1 - self.p))',
            'scale = x.dtype.type(1)',
            'assert rel_error(y[kept], x[kept] / (1 - drop.p)) < 1e-12'),
        'L2 penalty gradient doubled': (
            'nn/regularization.py', 'accumulate_grad(p, weight_decay * p)',
            'accumulate_grad(p, 2 * weight_decay * p)',
            'assert rel_error(penalty_grad, numeric) < 1e-8'),
        'dropout keeps each unit with probability p': (
            'nn/dropout.py', 'mask = self.rng.random(x.shape) >= self.p',
            'mask = self.rng.random(x.shape) < self.p',
            'assert abs(dropped_share - 0.2) < 5 * np.sqrt(0.2 * 0.8 / 100_000)'),
        'BatchNorm backward forgets the mean term': (
            'nn/batchnorm.py', 'return inv_std * (g - g_mean - xhat * gx_mean)',
            'return inv_std * (g - xhat * gx_mean)',
            'against_torch(model, X500)  # every layer, including BatchNorm1d, vs tor'),
        'SGD momentum buffer starts at zero': (
            'optim.py', 'state["momentum_buffer"] = np.array(g, copy=True)',
            'state["momentum_buffer"] = np.zeros_like(g)',
            'assert max(replay_errors.values()) < 1e-12  # every step, every optimizer'),
        'truncated-normal init cut at one std': (
            'models/mlp.py', 'nninit.trunc_normal_(w, 0.0, std, -2 * std, 2 * std,',
            'nninit.trunc_normal_(w, 0.0, std, -std, std,',
            'assert np.abs(w).max() <= 0.02 and np.isclose(w.std(), 0.0088, rtol=0.05'),
        'SGD momentum as an exponential average of the gradients': (
            'optim.py', 'buf += (1 - dampening) * g',
            'buf += (1 - momentum) * g',
            'assert max(replay_errors.values()) < 1e-12  # every step, every optimizer'),
        "Adam's epsilon before the bias correction (Keras' epsilon hat)": (
            'optim.py', 'denom = np.sqrt(v) / math.sqrt(bias2) + group["eps"]',
            'denom = (np.sqrt(v) + group["eps"]) / math.sqrt(bias2)',
            'assert max(replay_errors.values()) < 1e-12  # every step, every optimizer'),
        'Adam without the bias correction of its second moment': (
            'optim.py', 'bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t',
            'bias1, bias2 = 1 - b1 ** t, 1.0',
            'assert max(replay_errors.values()) < 1e-12  # every step, every optimizer'),
        'StepLR decays one epoch early': (
            'optim.py', 'if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:',
            'if self.last_epoch == 0 or (self.last_epoch + 1) % self.step_size != 0:',
            'assert np.array_equal(rates, torch_lr_per_epoch(torch_schedules[name]))'),
        'ExponentialLR decays already when it is built': (
            'optim.py', 'if self._is_initial:\n            return [group["lr"] for group in self.optimizer.param_groups]',
            'if False:\n            return [group["lr"] for group in self.optimizer.param_groups]',
            'assert np.array_equal(rates, torch_lr_per_epoch(torch_schedules[name]))'),
        'cosine annealing one epoch late': (
            'optim.py', '(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))',
            '(1 + math.cos(math.pi * (t - 1) / T)) / (1 + math.cos(math.pi * (t - 2) / T))',
            'assert np.array_equal(rates, torch_lr_per_epoch(torch_schedules[name]))'),
        'the scheduler never overwrites the learning rate': (
            'optim.py', 'group["lr"] = lr',
            'group.setdefault("lr", lr)',
            'assert np.array_equal(rates, torch_lr_per_epoch(torch_schedules[name]))'),
        'BatchNorm adds eps outside the square root': (
            'nn/batchnorm.py', 'inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))',
            'inv_std = 1 / (np.sqrt(var) + x.dtype.type(self.eps))',
            'assert rel_error(y, by_hand) < 1e-12  # biased variance, eps inside the root'),
        "BatchNorm's running estimates with Keras' momentum convention": (
            'nn/batchnorm.py', 'self.running_mean *= 1 - m',
            'self.running_mean *= m',
            'assert rel_error(after_5["running_mean"], r_mean) < 1e-12'),
        'the validation set is the test set': (
            'experiments/components.py',
            'return Split(X, split.X_val, split.X_test, y, split.y_val, split.y_test)',
            'return Split(X, split.X_test, split.X_test, y, split.y_test, split.y_test)',
            'assert not rows["train"] & rows["val"] and not rows["val"] & rows["test"]'),
        'the "test" numbers are measured on the validation set': (
            'experiments/components.py',
            'evaluate(model, nn.CrossEntropyLoss(), data.X_test, data.y_test)',
            'evaluate(model, nn.CrossEntropyLoss(), data.X_val, data.y_val)',
            'assert np.isclose(final["test_loss"], test_loss, rtol=1e-12, atol=0)'),
        'a unit silent on some digit counts as dead': (
            'experiments/components.py', 'np.mean(np.all(y == 0, axis=0))',
            'np.mean(np.any(y == 0, axis=0))',
            'assert all_dead[0.3] > all_dead[1.0]  # 0.3 gets there later'),
        'the learning-rate schedule is built but not used': (
            'experiments/components.py', 'seed=seed, scheduler=scheduler, track=track,',
            'seed=seed, scheduler=None, track=track,',
            'assert run.val_loss[50:] != by_rate[lr].val_loss[50:]'),
    },
    '04_cnn': {
        "im2col swaps the kernel's rows and columns": (
            'nn/im2col.py', 'view.transpose(0, 2, 3, 1, 4, 5)',
            'view.transpose(0, 3, 2, 1, 4, 5)',
            'assert err_naive < 1e-12 and err_fast < 1e-12'),
        'average-pool gradient not shared out': (
            'nn/functional/conv.py', 'share = (dy / cache.divisor.astype(dy.dtype))',
            'share = (dy / 1.0)',
            'against_torch(nn.AvgPool2d(2), edges[:, :, :64, :64])'),
        'evaluate divides by one sample too many': (
            'train.py', 'return total_loss / len(X), (correct / positions if classify',
            'return total_loss / len(X), (correct / (positions + 1) if classify',
            'assert test_acc == np.mean(predicted == digits.y_test)  # evaluate counts right'),
        'batch norm adds eps outside the square root': (
            'nn/batchnorm.py', 'inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))',
            'inv_std = 1 / (np.sqrt(var) + x.dtype.type(self.eps))',
            'assert rel_error(normalized, by_hand) < 1e-12'),
        'bigram kernel with its two words swapped': (
            'experiments/cnn_uses.py',
            'weight[0, vocabulary.index(first), 0] = 1.0\n    weight[0, vocabulary.index(second), 1] = 1.0',
            'weight[0, vocabulary.index(first), 1] = 1.0\n    weight[0, vocabulary.index(second), 0] = 1.0',
            'assert np.array_equal(answers[:, 0], [[0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1],'),
        'conv1d flips the kernel (a convolution, not a cross-correlation)': (
            'experiments/cnn_uses.py', 'weight[:, :, None, :], bias)[:, :, 0, :]',
            'weight[:, :, None, ::-1], bias)[:, :, 0, :]',
            'assert np.array_equal(answers[:, 0], [[0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1],'),
        'max-over-time pooling averages': (
            'experiments/cnn_uses.py', 'return np.maximum(conv1d(x, weight, bias), 0.0).max(axis=2)',
            'return np.maximum(conv1d(x, weight, bias), 0.0).mean(axis=2)',
            'assert np.array_equal(sentence_features, [[1, 0], [1, 0], [0, 1], [0, 0]])'),
        'causal convolution pads on the right': (
            'experiments/cnn_uses.py', 'np.pad(x, ((0, 0), (0, 0), (k - 1, 0)))',
            'np.pad(x, ((0, 0), (0, 0), (0, k - 1)))',
            'assert np.array_equal(np.flatnonzero(moved.max(axis=1)), [5, 6, 7])'),
        'U-Net head is an unpadded 3x3 convolution': (
            'experiments/cnn_uses.py', 'self.head = torch.nn.Conv2d(w, n_classes, 1)',
            'self.head = torch.nn.Conv2d(w, n_classes, 3)',
            'assert scores.shape == (1, 2, 352, 352) and class_map.shape == (1, 352, 352)'),
        'U-Net traces the bottom map as the first decoder stage': (
            'experiments/cnn_uses.py', 'stages.append(("up2", d2))',
            'stages.append(("up2", b))',
            'assert [shape[-1] for _, shape in trace] == [352, 176, 88, 176, 352, 352]'),
        'video frames share one array (no copy)': (
            'experiments/cnn_uses.py', 'frame = background.copy()',
            'frame = background',
            'assert np.all(motion[t][box] != 0)'),
        'SiamFC flips the template (a convolution, not a cross-correlation)': (
            'experiments/cnn_uses.py', 'return F.conv2d(x, z)[0, 0]',
            'return F.conv2d(x, z[..., ::-1, ::-1])[0, 0]',
            'assert found["sobel"] == corners[1:]  # the peak is the object\'s corner, in every'),
        'Adam without the bias correction of its first moment': (
            'optim.py', 'p -= (group["lr"] / bias1) * m / denom',
            'p -= group["lr"] * m / denom',
            'assert adam_error < 1e-10'),
        'max-pooling takes the minimum': (
            'nn/functional/conv.py', 'argmax = cols.argmax(axis=1)',
            'argmax = cols.argmin(axis=1)',
            'print(against_torch(stack.to(np.float64), x_rgb[:, :, :32, :32]))'),
        'col2im overwrites instead of accumulating': (
            'nn/im2col.py', '+= dcols[:, i, j]',
            '= dcols[:, i, j]',
            'assert set(np.unique(counts[2])) == {1, 2, 4}'),
        'shifted taps step a row by the unpadded width': (
            'nn/functional/conv.py', 'offsets = [i * dh * wp + j * dw',
            'offsets = [i * dh * w + j * dw',
            'assert maps[name].shape == camera.shape and err < 1e-12'),
        'shifted backward overwrites instead of accumulating': (
            'nn/functional/conv.py', 'dx_grid[:, :, offset:offset + length] += dtaps[:, :, tap]',
            'dx_grid[:, :, offset:offset + length] = dtaps[:, :, tap]',
            'print(against_torch(conv, x_rgb[:, :, :64, :64]))  # output, dx, dweight'),
        'conv bias added twice': (
            'nn/functional/conv.py', 'y += bias[:, None, None, None]',
            'y += 2 * bias[:, None, None, None]',
            'assert rel_error(y, per_channel) < 1e-12'),
        'receptive-field jump ignores the stride': (
            'receptive_field.py', 'jump = jump * np.array(window.stride)',
            'jump = jump * 1',
            'assert ((top, bottom), (left, right)) == rf.bounds(centre, centre)'),
        'max-pool gradient sent to the wrong tap': (
            'nn/functional/conv.py', 'np.put_along_axis(dcols, cache.argmax[:, None, :]',
            'np.put_along_axis(dcols, (cache.argmax[:, None, :] + 1) % taps',
            'print(against_torch(stack.to(np.float64), x_rgb[:, :, :32, :32]))'),
        'output size off by one': (
            'cnn_shapes.py', 'return (padded - span) // s + 1',
            'return (padded - span) // s + 2',
            'err = rel_error(maps[name], theirs)'),
        'average pooling divides by one too many': (
            'nn/functional/conv.py', 'y = sums / divisor.astype(x.dtype)',
            'y = sums / (divisor.astype(x.dtype) + 1)',
            'against_torch(nn.AvgPool2d(2), edges[:, :, :64, :64])'),
        'conv bias gradient averaged': (
            'nn/functional/conv.py', 'dbias = dy.sum(axis=(0, 2, 3))',
            'dbias = dy.mean(axis=(0, 2, 3))',
            'print(against_torch(conv, x_rgb[:, :, :64, :64]))  # output, dx, dweight'),
        'windows step one pixel whatever the stride': (
            'nn/im2col.py', '(row * dh, col * dw, row * sh, col * sw)',
            '(row * dh, col * dw, row, col)',
            'assert err_naive < 1e-12 and err_fast < 1e-12'),
        'naive loops ignore the stride': (
            'nn/naive_conv.py', 'top, left = r * stride, s * stride',
            'top, left = r, s',
            'assert err_naive < 1e-12 and err_fast < 1e-12'),
        'conv parameter count ignores the groups': (
            'cnn_shapes.py', 'out_channels * (in_channels // groups) * kh * kw',
            'out_channels * in_channels * kh * kw',
            'assert (c4.parameter_count() == conv2d_param_count(384, 384, 3, groups=2'),
        'receptive-field start ignores padding': (
            'receptive_field.py', 'start = start + ((span - 1) / 2 - np.array(window.leading_padding)) * jump',
            'start = start + (span - 1) / 2 * jump',
            'assert ((top, bottom), (left, right)) == rf.bounds(centre, centre)'),
    },
    '05_classic_cnns': {
        'AlexNet layer list ignores the groups': (
            'models/alexnet.py', 'conv.groups, bias=False)', '1, bias=False)',
            'assert {row.name: row.params for row in rows if row.params} == by_hand'),
        'unrounded output size without the +1': (
            'models/alexnet.py', 'return Fraction(size + 2 * padding - kernel_size, stride) + 1',
            'return Fraction(size + 2 * padding - kernel_size + 1, stride)',
            'assert float(unrounded_output_size(224, 11, 4)) == (224 - 11) / 4 + 1 == 54.25'),
        'LRN alpha not divided by size': (
            'nn/functional/normalization.py', 'denominator = k + (alpha / size) * energy',
            'denominator = k + alpha * energy',
            'assert rel_error(normalized, by_paper) < 1e-12'),
        'LRN backward without the factor 2 of the square': (
            'nn/functional/normalization.py', '(2 * alpha * beta / n)', '(alpha * beta / n)',
            'print(against_torch(lrn, acts))  # output and dx vs torch.nn.LocalResponseNorm'),
        "the paper's AlexNet pools before the LRN (the notes' order)": (
            'models/alexnet.py',
            '        if conv.lrn:\n            layers[f"norm{i}"] = torch.nn.LocalResponseNorm(**PAPER_LRN)\n'
            '        if conv.pool:\n            layers[f"pool{i}"] = torch.nn.MaxPool2d(**POOL)\n',
            '        if conv.pool:\n            layers[f"pool{i}"] = torch.nn.MaxPool2d(**POOL)\n'
            '        if conv.lrn:\n            layers[f"norm{i}"] = torch.nn.LocalResponseNorm(**PAPER_LRN)\n',
            'assert names[:8] == ["conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2",'),
        'adaptive bin end floored': (
            'nn/functional/adaptive_pool.py', '-(-((i + 1) * in_size) // out_size))',
            '((i + 1) * in_size) // out_size)',
            'assert adaptive_pool_bins(7, 6) == [(0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]'),
        'adaptive pooling gradient not shared out over the bin': (
            'nn/functional/adaptive_pool.py', 'return cache.rows.T @ dy @ cache.cols',
            'return (cache.rows > 0).T.astype(dy.dtype) @ dy @ (cache.cols > 0).astype(dy.dtype)',
            'against_torch(adaptive, maps)  # output and dx vs torch.nn.AdaptiveAvgPool2d'),
        'receptive field grows without the jump': (
            'models/summary.py', 'tuple(r1 + (r2 - 1) * j1', 'tuple(r1 + (r2 - 1)',
            'assert alexnet_summary["pool5"].rf_size == bottom - top + 1 == 195'),
        'summary counts only the first parameter of a layer': (
            'models/summary.py', 'new = [p for p in own_params if id(p) not in self.counted]',
            'new = [p for p in own_params[:1] if id(p) not in self.counted]',
            'assert sum(row.params for row in alexnet_summary) == alexnet_summary.total_params'),
        'VGG config D with one convolution too many': (
            'models/vgg.py', '"D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",',
            '"D": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",',
            'assert round(count / 1e6) == paper_millions[key]'),
        "VGG layer list: F6's inputs counted as 512 x 7": (
            'models/vgg.py', 'features = channels * POOLED * POOLED', 'features = channels * POOLED',
            'assert count == sum(p.numel() for p in vgg(key, device="meta").parameters())'),
        'basic block backward drops the gradient of the shortcut': (
            'models/resnet.py',
            '            return d_residual + d_sum\n        return d_residual + self.downsample.backward(d_sum)'
            '\n\n\nclass Bottleneck(',
            '            return d_residual\n        return d_residual + self.downsample.backward(d_sum)'
            '\n\n\nclass Bottleneck(',
            'against_torch(block, x)  # training mode: output, dx and every gradient vs torch'),
        'option-A shortcut pads the zeros in front': (
            'models/resnet.py', 'y[:, :c] = kept', 'y[:, self.out_channels - c:] = kept',
            'assert np.array_equal(shortcut[:, :2], small[:, :, ::2, ::2])  # kept, subsampled'),
        'option-A backward reads the padded channels': (
            'models/resnet.py', 'dx[:, :, ::s, ::s] = dy[:, :self.in_channels]',
            'dx[:, :, ::s, ::s] = dy[:, -self.in_channels:]',
            'against_torch(block_a, x_small)  # option A: forward and backward vs torch'),
        'bottleneck inner width out/2': (
            'models/resnet.py',
            'c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 4\n'
            '        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)\n'
            '        self.conv1 = nn.Conv2d(c_in, width, 1, s1, bias=False, dtype=dtype, seed=rng)',
            'c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 2\n'
            '        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)\n'
            '        self.conv1 = nn.Conv2d(c_in, width, 1, s1, bias=False, dtype=dtype, seed=rng)',
            'assert bottleneck.conv2.out_channels == bottleneck.out_channels // 4 == 64'),
        'the first stage halves the map too': (
            'models/resnet.py', '2 if i > 0 and j == 0 else 1', '2 if j == 0 else 1',
            'assert strided == ["conv1"] + [f"layer{i}.0.{c}" for i in (2, 3, 4)'),
        'pre-activation block adds the pre-activated input': (
            'models/resnet.py',
            'out = self.conv2(self.relu(self.bn2(self.conv1(p))))\n        if not self.plain:\n'
            '            out = out + (x if self.downsample is None else self.downsample(p))',
            'out = self.conv2(self.relu(self.bn2(self.conv1(p))))\n        if not self.plain:\n'
            '            out = out + (p if self.downsample is None else self.downsample(p))',
            'assert np.array_equal(y_pre, x) and np.array_equal(dx_pre, dy)  # exactly'),
        'pre-activation backward drops the identity': (
            'models/resnet.py', "return dx + dy  # + the identity's share",
            "return dx  # + the identity's share",
            'assert np.array_equal(y_pre, x) and np.array_equal(dx_pre, dy)  # exactly'),
        'the plain flag is not passed down to the torch blocks': (
            'models/resnet.py', 'plain=self.plain, **extra)', '**extra)',
            'assert final_error["plain"][deep] > final_error["plain"][shallow] + 0.01'),
        'degradation experiment swaps plain and residual': (
            'experiments/classic_cnns.py', 'plain=kind == "plain"', 'plain=kind != "plain"',
            'assert final_error["plain"][deep] > final_error["plain"][shallow] + 0.01'),
    },
    '06_rnn': {
        'LSTM gates read in the order i, f, o, g': (
            'nn/functional/recurrent.py',
            'i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))\n    np.multiply(f, c',
            'i, f, o, g = (gates[:, k * H:(k + 1) * H] for k in range(4))\n    np.multiply(f, c',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        'the input gate left out of the cell state': (
            'nn/functional/recurrent.py', '    c_new += i * g',
            '    c_new += g',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        'RNN step without the transpose of W_hh': (
            'nn/functional/recurrent.py', 'pre = np.matmul(h, weight_hh.T, out=out)',
            'pre = np.matmul(h, weight_hh, out=out)',
            'assert rel_error(d_chars, numerical_gradient(root_dot_probe, chars)) < 1e-8'),
        'bias_hh left out of the input part': (
            'nn/functional/recurrent.py', '        part += bias_ih + bias_hh',
            '        part += bias_ih',
            'assert rel_error(output, t_output.numpy()) < 1e-12'),
        'BPTT: dh_{t-1} = dP W_hh^T instead of dP W_hh': (
            'nn/functional/recurrent.py', '    return d_pre, d_pre @ weight_hh\n\n\ndef _sigmoid',
            '    return d_pre, d_pre @ weight_hh.T\n\n\ndef _sigmoid',
            'assert rel_error(d_chars, numerical_gradient(root_dot_probe, chars)) < 1e-8'),
        "tanh's derivative taken as 1 - h instead of 1 - h^2": (
            'nn/functional/recurrent.py', 'd_pre = d_h_new * (1 - h_new * h_new)',
            'd_pre = d_h_new * (1 - h_new)',
            'assert rel_error(d_chars, numerical_gradient(root_dot_probe, chars)) < 1e-8'),
        "the forget gate's derivative without (1 - f)": (
            'nn/functional/recurrent.py', 'dP_f *= f * (1 - f)',
            'dP_f *= f',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        'the cell-state gradient not multiplied by the forget gate': (
            'nn/functional/recurrent.py', '    dc *= f\n',
            '    pass\n',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        'bias gradient averaged over steps and samples': (
            'nn/functional/recurrent.py', '(d2.sum(axis=0) if has_bias else None)',
            '(d2.mean(axis=0) if has_bias else None)',
            'assert rel_error(p.grad, whole.grad) < 1e-14'),
        "each layer of a stack starts from layer 0's state": (
            'nn/rnn.py', 'states = [None if s is None else s[k] for s in initial]',
            'states = [None if s is None else s[0] for s in initial]',
            'assert rel_error(dec_output, t_dec_output.numpy()) < 1e-12'),
        'clip coefficient without the 1e-6': (
            'nn/utils.py', 'coefficient = max_norm / (total + 1e-6)',
            'coefficient = max_norm / total',
            'assert rel_error(p.grad, tp.grad.numpy()) < 1e-12'),
        'clip scales short gradients up': (
            'nn/utils.py', 'coefficient = min(coefficient, 1.0)',
            'coefficient = coefficient',
            'assert all(np.array_equal(p.grad, k) for p, k in zip(layer.parameters(), kept))'),
        'clip total norm as a sum of the norms': (
            'nn/utils.py', 'total = float(np.linalg.norm(np.array(norms, np.float64), ord=norm_type))',
            'total = float(np.sum(norms))',
            'assert rel_error(total, float(torch_total)) < 1e-12'),
        'clip inf-norm without the absolute value': (
            'nn/utils.py', 'maxima = [np.max(np.abs(g), initial=0) for g in grads]',
            'maxima = [np.max(g, initial=0) for g in grads]',
            'assert rel_error(inf_norm, float(torch.nn.utils.clip_grad_norm_('),
        'Embedding backward loses repeated indices': (
            'nn/sparse.py', 'np.add.at(grad, indices.ravel(), dy.reshape(-1, self.embedding_dim))',
            'grad[indices.ravel()] += dy.reshape(-1, self.embedding_dim)',
            'print(against_torch(embed, np.array([[1, 5], [1, 7]])))  # a repeated id adds up'),
        'tbptt windows: targets equal the inputs': (
            'data.py', 'Y = streams[:, 1:].reshape',
            'Y = streams[:, :-1].reshape',
            'assert np.array_equal(Y_toy, X_toy + 1)'),
        'truncated BPTT drops the carried state': (
            'train.py', '        self.state = _detached(state)',
            '        self.state = None',
            'assert step.state is not None'),
        'reset() keeps the state of the last epoch': (
            'train.py', 'start of each epoch)."""\n        self.state = None',
            'start of each epoch)."""\n        pass',
            'assert step.state is None'),
        'gradient experiment: readout not normalized': (
            'experiments/recurrent.py', 'return cell, x, readout / np.linalg.norm(readout)',
            'return cell, x, readout',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        'unigram baseline normalized without the smoothing mass': (
            'experiments/recurrent.py', 'log_p = np.log(counts) - np.log(counts.sum())',
            'log_p = np.log(counts) - np.log(len(train_ids))',
            'assert np.isclose(unigram, -np.mean([log_p[c] for c in split.val]), rtol=1e-12, atol=0)'),
        'stream loss scores the input character, not the next': (
            'experiments/recurrent.py', 'y = ids[start + 1:start + 1 + chunk_len]',
            'y = ids[start:start + chunk_len]',
            'assert lm["val_loss"] < lm["unigram_val"] - 0.5  # the margin the text states'),
        'temperature applied as a multiplication': (
            'experiments/recurrent.py', 'z = scores / temperature',
            'z = scores * temperature',
            'assert sample_nats[0.5] < sample_nats[1.0]'),
        'recursive net: children swapped in the composition': (
            'experiments/recurrent.py', 'return self.cell(right, left)',
            'return self.cell(left, right)',
            'assert rel_error(root_chain, h_n[0, 0]) < 1e-15'),
        'LSTM gradient norms measured on dL/dc_t instead of dL/dh_t': (
            'experiments/recurrent.py', 'd_state if kind == "rnn" else d_state[0]',
            'd_state if kind == "rnn" else d_state[1]',
            'assert np.allclose(norms[label], by_torch, rtol=1e-9, atol=0), label'),
        "recursive net backward: the children's gradients swapped": (
            'experiments/recurrent.py',
            '            back(node[1], d_right)\n            back(node[0], d_left)',
            '            back(node[1], d_left)\n            back(node[0], d_right)',
            'assert rel_error(d_chars, numerical_gradient(root_dot_probe, chars)) < 1e-8'),
    },
    '07_word2vec': {
        'vocabulary drops the words seen exactly min_count times': (
            'word2vec.py', 'for w, c in counter.items() if c >= min_count))',
            'for w, c in counter.items() if c > min_count))',
            'assert list(vocab.words) == [w for _, w in by_count]'),
        'keep probability by the paper, not the code': (
            'word2vec.py', 'keep = (np.sqrt(counts / threshold) + 1) * (threshold / counts)',
            'keep = np.sqrt(threshold / counts)',
            'assert rel_error(keep, by_formula) < 1e-14'),
        'subsampling keeps with 1 - keep': (
            'word2vec.py', 'kept = rng.random(len(flat)) < keep[flat]',
            'kept = rng.random(len(flat)) > keep[flat]',
            'assert abs(kept_tokens - expected_kept) < 5 * spread'),
        'noise distribution multiplies by the power': (
            'word2vec.py', 'weights = counts ** power', 'weights = counts * power',
            'assert rel_error(noise, powered / powered.sum()) < 1e-14'),
        'reduced window drawn from 0..window': (
            'word2vec.py', 'window - _as_rng(rng).integers(0, window, size=len(flat))',
            'window - _as_rng(rng).integers(0, window + 1, size=len(flat))',
            'assert np.all(np.abs(share - expected) < 5 * standard_error + 1e-12)'),
        'window stops one short on the left': (
            'word2vec.py', '-offsets[None, :window] <= reach_left[:, None]',
            '-offsets[None, :window] < reach_left[:, None]',
            'assert list(zip(centers, contexts)) == by_hand'),
        'CBOW keeps only full windows': (
            'word2vec.py', 'has_context = mask.any(axis=1)', 'has_context = mask.all(axis=1)',
            'assert target == ids[position]'),
        'CBOW sums the context vectors': (
            'word2vec.py', 'return w_in[contexts[used]].mean(axis=0), used',
            'return w_in[contexts[used]].sum(axis=0), used',
            'assert abs(loss - cbow_torch_loss.item()) < 1e-12 * abs(loss)'),
        'CBOW context gradient not divided by n': (
            'word2vec.py', 'loss, grad_h, grad_target, grad_negatives = _negative_sampling(h, '
            'w_out[target], w_out[negatives])\n    grad_contexts = np.zeros((len(contexts), dim), '
            'dtype=grad_h.dtype)\n    grad_contexts[used] = grad_h / used.sum()',
            'loss, grad_h, grad_target, grad_negatives = _negative_sampling(h, '
            'w_out[target], w_out[negatives])\n    grad_contexts = np.zeros((len(contexts), dim), '
            'dtype=grad_h.dtype)\n    grad_contexts[used] = grad_h',
            'assert rel_error(grad_contexts[[0, 1, 3]], torch_rows) < 1e-10'),
        'negative words get the positive slope': (
            'word2vec.py', 'd_neg = _sigmoid(s_neg)  #', 'd_neg = _sigmoid(s_neg) - 1  #',
            'assert rel_error(grad_contexts[[0, 1, 3]], torch_rows) < 1e-10'),
        'skip-gram reads the context from w_in': (
            'word2vec.py', 'return _negative_sampling(w_in[center], w_out[context], w_out[negatives])',
            'return _negative_sampling(w_in[center], w_in[context], w_out[negatives])',
            'assert abs(loss - sgns_torch_loss.item()) < 1e-12 * abs(loss)'),
        'full softmax loss forgets the shift': (
            'word2vec.py', 'loss = log_z - shifted[target]', 'loss = log_z - scores[target]',
            'assert abs(loss - softmax_torch_loss.item()) < 1e-12 * abs(loss)'),
        'batched step drops repeated centers': (
            'models/word2vec.py', 'w_in.index_add_(0, centers, grad_in)', 'w_in[centers] += grad_in',
            'assert rel_error(stepped_in.numpy(), (W_in - 0.1 * leaf_in.grad).numpy()) < 1e-12'),
        'alias method takes the alias when it should keep': (
            'models/word2vec.py', 'torch.where(coins < self.keep[slots], slots, self.alias[slots])',
            'torch.where(coins < self.keep[slots], self.alias[slots], slots)',
            'assert np.all(np.abs(drawn - noise) < 5 * standard_error + 1e-12)'),
        'saved with 6 significant digits': (
            'models/word2vec.py', 'f"{x:.9g}"', 'f"{x:.6g}"',
            'assert np.array_equal(loaded.vectors, vectors.astype(np.float32))'),
        'Spearman ignores ties': (
            'experiments/word_vectors.py', 'ranks[order] = np.repeat(mean_rank, ends - starts)',
            'ranks[order] = np.arange(1, len(x) + 1)',
            'assert abs(ours["spearman"] - by_scipy) < 1e-12'),
        'analogy may answer with c': (
            'experiments/word_vectors.py', 'for excluded in (a, b, c):', 'for excluded in (a, b):',
            'assert abs(family_ours[0] - family_gensim) < 1e-12'),
        'nearest includes the word itself': (
            'experiments/word_vectors.py', 'cosine[index[word]] = -np.inf', 'cosine[index[word]] += 0',
            'assert [w for w, _ in mine] == [w for w, _ in by_gensim]'),
        'projection not centred': (
            'experiments/word_vectors.py', 'x = x - x.mean(axis=0)', 'x = x - 0',
            'assert rel_error(np.abs(points), np.abs(centred @ top_two)) < 1e-8'),
    },
    '08_practice': {
        'L2 penalty with a factor 1/2': (
            'keras_dense.py', 'return self.l1 * x.abs().sum() + self.l2 * x.square().sum()',
            'return self.l1 * x.abs().sum() + 0.5 * self.l2 * x.square().sum()',
            'assert rel_error(penalty.item(), keras_penalty) < 1e-6'),
        'activity penalty not divided by the batch': (
            'keras_dense.py', 'self.activity_penalty = self.activity_regularizer(out) / batch',
            'self.activity_penalty = self.activity_regularizer(out)',
            'assert rel_error(penalty.item(), keras_penalty) < 1e-6'),
        'MaxNorm on the columns of the torch weight': (
            'keras_dense.py', 'self.kernel_constraint(self.weight.T).T',
            'self.kernel_constraint(self.weight)',
            'assert rel_error(layer.weight.detach().numpy(), projected.T) < 1e-6'),
        "Glorot replaced by torch's default uniform": (
            'keras_dense.py', 'nn.init.xavier_uniform_(w, generator=generator)',
            'nn.init.kaiming_uniform_(w, a=5 ** 0.5, generator=generator)',
            'assert w.abs().max() <= limit and w.abs().max() > 0.99 * limit'),
        'softmax over axis 1, not the last axis': (
            'keras_dense.py', '"softmax": lambda x: torch.softmax(x, dim=-1)',
            '"softmax": lambda x: torch.softmax(x, dim=1)',
            'assert rel_error(ours.numpy(), keras.ops.convert_to_numpy(keras_3d)) < 1e-6'),
        'regularization loss averaged over the layers': (
            'keras_dense.py', 'return torch.stack(penalties).sum()',
            'return torch.stack(penalties).mean()',
            'assert rel_error(keras_dense.regularization_loss(keras_style).item(),'),
        'pictures saved truncated, not rounded': (
            'data.py', 'images = np.rint(images * 255).astype(np.uint8)',
            'images = (images * 255).astype(np.uint8)',
            'assert error.max() <= 0.5 / 255 + 1e-7 and error.max() > 0'),
        'pixels divided by 256': (
            'data.py', 'pictures.append(np.asarray(picture, dtype=np.float32) / 255.0)',
            'pictures.append(np.asarray(picture, dtype=np.float32) / 256.0)',
            'assert error.max() <= 0.5 / 255 + 1e-7 and error.max() > 0'),
        'label is the class index, not the folder name': (
            'data.py', '            labels.append(name)\n',
            '            labels.append(str(classes.index(name)))\n',
            'assert np.array_equal(dataset.labels, labels[original])'),
        'files in directory order': (
            'data.py', 'files = sorted(f for f in (root / name).iterdir()',
            'files = list(f for f in (root / name).iterdir()',
            'assert mine == sorted(mine)'),
        'resume does not restore the batch order': (
            'train.py', 'rng.bit_generator.state = saved["shuffle_rng"]', 'pass',
            'assert all(torch.equal(a, b) for a, b, _ in pairs)'),
        'constraints never applied': (
            'train.py', '        optimizer.step()\n        if after_step is not None:\n            '
            'after_step(model)\n        return float(loss.detach())',
            '        optimizer.step()\n        return float(loss.detach())',
            'assert all(n.max() <= 1.5 * (1 + 1e-6) for n in row_norms)'),
        "every rank takes rank 0's rows": (
            'train.py', 'order[start:start + batch_size][rank::world_size]',
            'order[start:start + batch_size][::world_size]',
            'assert difference <= 1e-10'),
        'truncated normal cut at 3 stddev': (
            'experiments/practice.py', 'a=-2 * stddev, b=2 * stddev', 'a=-3 * stddev, b=3 * stddev',
            'assert w.abs().max() <= 0.1 and abs(w.std().item() / (0.05 * 0.8796) - 1) < 0.02'),
        'dropout layers only above p = 0.5': (
            'experiments/practice.py', '        if dropout > 0:\n', '        if dropout > 0.5:\n',
            'assert gap[0.5, seed] < gap[0.0, seed]'),
        'conv dropout never added': (
            'experiments/practice.py', 'if conv_dropout > 0:', 'if conv_dropout > 1:',
            'assert conv_val["conv + dense", seed] > conv_val["dense", seed]'),
        'LSTM reads the columns': (
            'experiments/practice.py', 'x = x[:, 0]  #', 'x = x[:, 0].transpose(1, 2)  #',
            'assert torch.equal(lstm_model(x_rows), lstm_model.classifier(steps[:, -1]))'),
        'validation set a fraction of the rest, not of all': (
            'experiments/practice.py', 'test_size=val_size / (1 - test_size)', 'test_size=val_size',
            'assert len(data["X_val"]) == len(data["X_test"]) == 360'),
        'test accuracy measured in training mode (dropout on)': (
            'experiments/practice.py', '        model.eval()\n        with torch.no_grad():\n            scores',
            '        with torch.no_grad():\n            scores',
            'assert np.mean(predicted == test["y_test"]) == chosen["test_acc"]'),
        'gap of training minus validation': (
            'experiments/practice.py', 'np.subtract(history.val_loss[-last:], history.train_loss[-last:])',
            'np.subtract(history.train_loss[-last:], history.val_loss[-last:])',
            'assert gap[0.5, seed] < gap[0.0, seed]'),
        'epochs_to_reach counts from 0': (
            'experiments/practice.py', 'return int(below[0]) + 1 if below.size else None',
            'return int(below[0]) if below.size else None',
            'assert curve[catch_up - 1] <= final[0.001] < min(curve[:catch_up - 1])'),
    },
    '09_gan': {
        'discriminator gradient on the real logits with the wrong sign': (
            'gan.py', 'd_real = (sigmoid(real) - 1) / real.size',
            'd_real = (1 - sigmoid(real)) / real.size',
            'assert rel_error(d_real, t_real.grad.numpy()) < 1e-12'),
        'discriminator loss: log sigma(a_f) where log(1 - sigma(a_f)) belongs': (
            'gan.py', '            - np.mean(log_sigmoid(-fake), dtype=np.float64))',
            '            - np.mean(log_sigmoid(fake), dtype=np.float64))',
            'assert rel_error(d_loss, by_formula) < 1e-12'),
        'non-saturating gradient without the -1': (
            'gan.py', 'd_fake = (sigmoid(fake) - 1) / fake.size',
            'd_fake = sigmoid(fake) / fake.size',
            'assert rel_error(grads["non_saturating"], belief - 1) < 1e-12'),
        'minimax generator loss with the wrong sign': (
            'gan.py', '        loss = np.mean(log_sigmoid(-fake), dtype=np.float64)',
            '        loss = -np.mean(log_sigmoid(-fake), dtype=np.float64)',
            'assert rel_error(np.array(losses["minimax"]), np.log1p(-belief)) < 1e-12'),
        'gan_step: fakes not detached, so the discriminator loss pushes the generator too': (
            'gan.py', 'fake_logits = self.discriminator(fake.detach())\n'
            '        d_loss = discriminator_loss_torch(real_logits, fake_logits)\n'
            '        self.d_optimizer.zero_grad()\n'
            '        d_loss.backward()\n'
            '        self.d_optimizer.step()\n'
            '        # 2. the generator, against the updated discriminator\n'
            '        adversarial = generator_loss_torch(self.discriminator(fake), self.kind)\n'
            '        content = self.content_loss(fake, real) if self.content_loss is not None \\\n'
            '            else torch.zeros((), device=adversarial.device)\n'
            '        g_loss = content + self.adversarial_weight * adversarial\n'
            '        self.g_optimizer.zero_grad()\n',
            'fake_logits = self.discriminator(fake)\n'
            '        d_loss = discriminator_loss_torch(real_logits, fake_logits)\n'
            '        self.d_optimizer.zero_grad()\n'
            '        self.g_optimizer.zero_grad()\n'
            '        d_loss.backward(retain_graph=True)\n'
            '        self.d_optimizer.step()\n'
            '        # 2. the generator, against the updated discriminator\n'
            '        adversarial = generator_loss_torch(self.discriminator(fake), self.kind)\n'
            '        content = self.content_loss(fake, real) if self.content_loss is not None \\\n'
            '            else torch.zeros((), device=adversarial.device)\n'
            '        g_loss = content + self.adversarial_weight * adversarial\n',
            'assert rel_error(p, state[name].numpy()) < 1e-10, name'),
        'numpy_gan_update steps both players at the end (G against the old D)': (
            'gan.py', '    discriminator.backward(d_real)\n    d_optimizer.step()\n'
            '    # 2. the generator, against the updated discriminator\n'
            '    adversarial, d_logits = generator_loss(discriminator(fake), kind)\n'
            '    g_optimizer.zero_grad()\n'
            '    generator.backward(discriminator.backward(d_logits))\n'
            '    g_optimizer.step()\n',
            '    discriminator.backward(d_real)\n'
            '    adversarial, d_logits = generator_loss(discriminator(fake), kind)\n'
            '    g_optimizer.zero_grad()\n'
            '    generator.backward(discriminator.backward(d_logits))\n'
            '    g_optimizer.step()\n'
            '    d_optimizer.step()\n',
            'assert rel_error(ours[key], theirs[key]) < 1e-12, key'),
        'pixel_shuffle swaps the row and column offsets': (
            'nn/functional/pixelshuffle.py', 'order = (*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)',
            'order = (*range(nb), nb, nb + 3, nb + 2, nb + 4, nb + 1)',
            'assert np.array_equal(y, by_formula)'),
        'pixel_shuffle reads the output channel as the fastest part of the channel index': (
            'nn/functional/pixelshuffle.py', 'blocks = x.reshape(*batch, c, r, r, height, width)',
            'blocks = np.moveaxis(x.reshape(*batch, r, r, c, height, width), nb + 2, nb)',
            'assert np.array_equal(out3, t_out3.detach().numpy())'),
        'pixel_unshuffle (the backward pass) swaps the offsets': (
            'nn/functional/pixelshuffle.py', 'order = (*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)',
            'order = (*range(nb), nb, nb + 4, nb + 2, nb + 1, nb + 3)',
            'assert np.array_equal(shuffle3.backward(upstream), t_batch.grad.numpy())'),
        'PSNR with 20 log10 of the power ratio': (
            'image_quality.py', 'float(10 * np.log10(peak * peak / mse))',
            'float(20 * np.log10(peak * peak / mse))',
            'assert rel_error(bicubic_psnr, peak_signal_noise_ratio(reference, estimate,'),
        'SSIM constants not squared': (
            'image_quality.py', 'c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2',
            'c1, c2 = k1 * peak ** 2, k2 * peak ** 2',
            'assert rel_error(bicubic_ssim, structural_similarity(reference, estimate,'),
        'degradation without antialiasing': (
            'superres.py', 'mode="bicubic", antialias=True,', 'mode="bicubic", antialias=False,',
            'assert float(aliased.std()) > 5 * float(antialiased.std())'),
        'held-out scores without shaving the border': (
            'superres.py', 'border = scale if border is None else border',
            'border = 0 if border is None else border',
            'assert rel_error(mse_table["astronaut"]["model_psnr"], peak_signal_noise_ratio('),
        'mode_coverage counts samples within 2 sigma as good': (
            'experiments/gan.py', 'good = distances.min(axis=1) < 3 * sigma',
            'good = distances.min(axis=1) < 2 * sigma',
            'assert true_score[0] == 8 and abs(true_score[1] - expected) < 4 * standard_error'),
        'ring samples drawn with twice the standard deviation': (
            'experiments/gan.py', 'centers[rng.integers(0, modes, n)] + sigma * rng',
            'centers[rng.integers(0, modes, n)] + 2 * sigma * rng',
            'assert true_score[0] == 8 and abs(true_score[1] - expected) < 4 * standard_error'),
        'ring centers spaced for one mode more': (
            'experiments/gan.py', 'angles = 2 * np.pi * np.arange(modes) / modes',
            'angles = 2 * np.pi * np.arange(modes) / (modes + 1)',
            'assert rel_error(neighbours, np.full(8, 4 * np.sin(np.pi / 8))) < 1e-12'),
        'SRResNet without the bicubic residual': (
            'models/srgan.py', '            out = out + bicubic(x, self.scale)',
            '            out = out',
            'assert rel_error((network_part + bicubic_a).numpy(), with_residual.numpy()) < 1e-6'),
    },
}


COVERAGE = {
    "01_basics": [
        "data.py:minibatches", "experiments/basics.py:nearest_class_mean_predict",
        "experiments/basics.py:sweep_digits", "experiments/basics.py:train_on_digits",
        "features.py:gradient_histograms", "nn/functional/linear.py:linear",
        "nn/functional/linear.py:linear_backward", "nn/functional/loss.py:_margins",
        "nn/functional/loss.py:cross_entropy", "nn/functional/loss.py:cross_entropy_backward",
        "nn/functional/loss.py:log_softmax", "nn/functional/loss.py:multi_margin_loss",
        "nn/functional/loss.py:multi_margin_loss_backward", "optim.py:SGD.step_group", "train.py:numpy_step",
    ],
    "02_backprop": [
        "calculus/chain.py:grad_bias", "calculus/chain.py:grad_input", "calculus/chain.py:grad_weight",
        "calculus/entrywise.py:gradient", "calculus/entrywise.py:hessian", "calculus/matrix_form.py:_atom_gradient",
        "calculus/matrix_form.py:_gradient", "calculus/matrix_form.py:det_gradient", "graph.py:<module>",
        "nn/functional/activation.py:relu_backward", "nn/functional/activation.py:sigmoid_backward",
        "nn/functional/linear.py:linear_backward",
    ],
    "03_nn_components": [
        "models/mlp.py:mlp", "nn/batchnorm.py:_BatchNorm._update_running", "nn/batchnorm.py:_BatchNorm.backward",
        "nn/dropout.py:Dropout.forward", "nn/functional/activation.py:sigmoid_backward",
        "nn/functional/linear.py:linear_backward", "nn/init.py:_kaiming_std", "nn/init.py:trunc_normal_",
        "nn/init.py:xavier_normal_", "nn/regularization.py:l2_penalty_backward", "optim.py:Optimizer._gradients",
        "optim.py:SGD.step_group", "nn/functional/activation.py:tanh_backward",
        "nn/functional/activation.py:relu_backward", "nn/batchnorm.py:_BatchNorm.forward",
        "nn/dropout.py:Dropout.backward", "train.py:evaluate", "nn/init.py:normal_",
        "optim.py:Adam.step_group", "optim.py:StepLR.get_lr", "optim.py:ExponentialLR.get_lr",
        "optim.py:CosineAnnealingLR.get_lr", "optim.py:LRScheduler.step",
        "experiments/components.py:small_digits", "experiments/components.py:dead_relu_shares",
        "experiments/components.py:_fit_small_digits",
        "experiments/components.py:train_and_test_small_digits",
    ],
    "04_cnn": [
        "cnn_shapes.py:conv2d_param_count", "cnn_shapes.py:conv_output_size",
        "nn/functional/conv.py:avg_pool2d_forward", "nn/functional/conv.py:conv2d_backward",
        "nn/functional/conv.py:conv2d_forward", "nn/functional/conv.py:max_pool2d_backward",
        "nn/functional/conv.py:max_pool2d_forward", "nn/im2col.py:col2im",
        "nn/functional/conv.py:ShiftedGrid.of", "nn/functional/conv.py:_shifted_backward", "nn/im2col.py:windows",
        "nn/naive_conv.py:naive_conv2d", "optim.py:Adam.step_group", "receptive_field.py:receptive_fields",
        "train.py:evaluate", "nn/functional/conv.py:avg_pool2d_backward", "nn/im2col.py:im2col",
        "nn/batchnorm.py:_BatchNorm.forward", "experiments/cnn_uses.py:bigram_kernel",
        "experiments/cnn_uses.py:conv1d", "experiments/cnn_uses.py:max_over_time",
        "experiments/cnn_uses.py:causal_conv1d", "experiments/cnn_uses.py:TinyUNet.__init__",
        "experiments/cnn_uses.py:TinyUNet.forward", "experiments/cnn_uses.py:moving_object_clip",
        "experiments/cnn_uses.py:siamese_response",
    ],
    "05_classic_cnns": [
        "models/alexnet.py:alexnet_layers", "models/alexnet.py:unrounded_output_size",
        "models/alexnet.py:_paper_layers", "nn/functional/normalization.py:local_response_norm_forward",
        "nn/functional/normalization.py:local_response_norm_backward",
        "nn/functional/adaptive_pool.py:adaptive_pool_bins",
        "nn/functional/adaptive_pool.py:adaptive_avg_pool2d_backward", "models/summary.py:compose",
        "models/summary.py:_Tracer.record", "models/vgg.py:<module>", "models/vgg.py:vgg_layers",
        "models/resnet.py:BasicBlock.backward", "models/resnet.py:ZeroPadShortcut.forward",
        "models/resnet.py:ZeroPadShortcut.backward", "models/resnet.py:Bottleneck.__init__",
        "models/resnet.py:stage_plan", "models/resnet.py:PreActBasicBlock.forward",
        "models/resnet.py:PreActBasicBlock.backward", "models/resnet.py:ResNetTorch.__init__",
        "experiments/classic_cnns.py:degradation_experiment",
    ],
    "06_rnn": [
        "nn/functional/recurrent.py:input_part", "nn/functional/recurrent.py:rnn_cell_forward",
        "nn/functional/recurrent.py:rnn_cell_backward", "nn/functional/recurrent.py:lstm_cell_forward",
        "nn/functional/recurrent.py:lstm_cell_backward",
        "nn/functional/recurrent.py:recurrent_weight_grads", "nn/rnn.py:_RNNBase._run",
        "nn/utils.py:clip_grad_norm_", "nn/sparse.py:Embedding.backward", "data.py:tbptt_windows",
        "train.py:TBPTTStep.__call__", "train.py:TBPTTStep.reset",
        "experiments/recurrent.py:gradient_setup", "experiments/recurrent.py:gradient_norms_through_time",
        "experiments/recurrent.py:unigram_cross_entropy", "experiments/recurrent.py:stream_loss",
        "experiments/recurrent.py:sample", "experiments/recurrent.py:TreeRNN.forward",
        "experiments/recurrent.py:TreeRNN.backward",
    ],
    "07_word2vec": [
        "word2vec.py:Vocabulary.build", "word2vec.py:keep_probabilities", "word2vec.py:subsample",
        "word2vec.py:noise_distribution", "word2vec.py:_windows", "word2vec.py:cbow_windows",
        "word2vec.py:_context_mean", "word2vec.py:cbow_ns_loss_and_grads",
        "word2vec.py:_negative_sampling", "word2vec.py:sgns_loss_and_grads", "word2vec.py:_full_softmax",
        "models/word2vec.py:sgns_step", "models/word2vec.py:NoiseSampler.sample",
        "models/word2vec.py:save_word2vec_format", "experiments/word_vectors.py:_ranks",
        "experiments/word_vectors.py:analogy_accuracy", "experiments/word_vectors.py:nearest",
        "experiments/word_vectors.py:project_2d",
    ],
    "08_practice": [
        "keras_dense.py:L1L2.__call__", "keras_dense.py:Dense.forward", "keras_dense.py:Dense.constrain",
        "keras_dense.py:GlorotUniform.__call__", "keras_dense.py:regularization_loss",
        "data.py:save_image_folder", "data.py:load_image_folder", "train.py:fit", "train.py:torch_step",
        "train.py:_torch_batches", "experiments/practice.py:keras_init_", "experiments/practice.py:practice_mlp",
        "experiments/practice.py:practice_cnn", "experiments/practice.py:DigitRowLSTM.forward",
        "experiments/practice.py:prepare", "experiments/practice.py:_train",
        "experiments/practice.py:train_val_gap", "experiments/practice.py:epochs_to_reach",
    ],
    "09_gan": [
        "gan.py:discriminator_loss", "gan.py:generator_loss", "gan.py:GANStep.__call__",
        "gan.py:numpy_gan_update", "nn/functional/pixelshuffle.py:pixel_shuffle",
        "nn/functional/pixelshuffle.py:pixel_unshuffle", "image_quality.py:psnr",
        "image_quality.py:_ssim_one", "superres.py:downscale", "superres.py:compare_with_bicubic",
        "experiments/gan.py:mode_coverage", "experiments/gan.py:ring_samples",
        "experiments/gan.py:ring_centers", "models/srgan.py:SRResNet.forward",
    ],
}


def _page(chapter: str) -> Path:
    return pages.BOOK / "zh" / f"{chapter}.md"


def enclosing_function(relative: str, text: str) -> str:
    """"file:function" (or "file:Class.method", or "file:<module>") holding ``text`` in dlbook/."""
    source = (pages.ROOT / "dlbook" / relative).read_text(encoding="utf-8")
    line = source[:source.index(text)].count("\n") + 1
    for node in ast.parse(source).body:
        if not node.lineno <= line <= node.end_lineno:
            continue
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef) and member.lineno <= line <= member.end_lineno:
                    return f"{relative}:{node.name}.{member.name}"
        name = node.name if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else "<module>"
        return f"{relative}:{name}"
    return f"{relative}:<module>"


CASES = [(chapter, name) for chapter in sorted(MUTATIONS) for name in sorted(MUTATIONS[chapter])]


@pytest.fixture(scope="session")
def page_runner():
    """One PageRunner per test process (per xdist worker): a slip's run skips importing torch & co.
    and uses one thread, so that two runs side by side share two cores without oversubscribing."""
    with pages.PageRunner() as runner:
        yield runner


@pytest.mark.parametrize("chapter,name", CASES)
def test_chapter_catches_the_slip_with_the_named_check(tmp_path, chapter, name, mutation_report,
                                                       page_runner):
    relative, old, new, check = MUTATIONS[chapter][name]
    result = pages.execute_with_library_copy(_page(chapter), tmp_path, (relative, old, new),
                                             runner=page_runner)
    page_line, error = pages.tripped_check(result.stderr)
    mutation_report(chapter, name, page_line, error)
    assert result.returncode != 0, f"{chapter} did not notice: {name}"
    assert pages.caught_by_a_check(result.stderr), f"not a check on the page: {error}\n{result.stderr[-2000:]}"
    assert check in page_line, f"expected the check {check!r} to catch it, but {page_line!r} raised {error}"


@pytest.mark.parametrize("chapter", sorted(COVERAGE))
def test_every_function_a_page_computes_with_has_a_slip_it_catches(chapter, coverage_report):
    mutated = {enclosing_function(relative, old) for relative, old, _, _ in MUTATIONS[chapter].values()}
    uncovered = sorted(set(COVERAGE[chapter]) - mutated)
    coverage_report(chapter, sorted(set(COVERAGE[chapter]) & mutated))
    assert not uncovered, f"{chapter}: no mutation in {uncovered}"


def test_every_mutation_target_occurs_once():
    for chapter, slips in MUTATIONS.items():
        for name, (relative, old, _, _) in slips.items():
            count = (pages.ROOT / "dlbook" / relative).read_text(encoding="utf-8").count(old)
            assert count == 1, f"{chapter} / {name}: {old!r} occurs {count} times in {relative}"


def test_every_chapter_has_mutations_and_coverage():
    chapters = {p.stem for p in pages.numbered_chapters("zh")}
    assert chapters <= set(MUTATIONS), f"chapters without a broken-library test: {sorted(chapters - set(MUTATIONS))}"
    assert chapters <= set(COVERAGE), f"chapters without a coverage list: {sorted(chapters - set(COVERAGE))}"


FRESH_INTERPRETER_PROBE = '''import os, sys
print(os.getcwd(), sys.path[:2], os.environ["DLBOOK_PROBE"], sys.argv == [__file__], __name__)
print("dlbook" in sys.modules)
import dlbook
print(dlbook.WHERE)
def check():
    assert dlbook.WHERE == "installed", "the copy was imported"
{ending}
'''


@pytest.mark.parametrize("ending,status", [("check()", 1), ("sys.exit(3)", 3), ("sys.exit('stopped')", 1),
                                           ("print('done')", 0)])
def test_a_run_in_the_page_runner_is_a_fresh_interpreter_run(tmp_path, page_runner, ending, status):
    """Same folder, sys.path, environment, library copy, output, traceback and exit status as
    ``python script``; dlbook is not preloaded."""
    script, lib = tmp_path / "dlbook-page-probe.py", tmp_path / "lib" / "dlbook"
    script.write_text(FRESH_INTERPRETER_PROBE.format(ending=ending), encoding="utf-8")
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text('WHERE = "copy"\n', encoding="utf-8")
    env = {"PYTHONPATH": str(lib.parent), "DLBOOK_PROBE": "set"}
    forked = page_runner.run(script, cwd=pages.BOOK, env=env, timeout=60)
    fresh = subprocess.run([sys.executable, str(script)], cwd=pages.BOOK, env={**os.environ, **env},
                           capture_output=True, text=True, timeout=60)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.returncode == status
    assert forked.stdout.splitlines()[1:3] == ["False", "copy"]


def test_page_runs_use_one_thread_and_time_out(tmp_path, page_runner):
    script = tmp_path / "threads.py"
    script.write_text("import torch, threadpoolctl\nprint(torch.get_num_threads(), "
                      "max(i['num_threads'] for i in threadpoolctl.threadpool_info()))\n", encoding="utf-8")
    assert page_runner.run(script, cwd=tmp_path, timeout=60).stdout == "1 1\n"
    (tmp_path / "forever.py").write_text("while True:\n    pass\n", encoding="utf-8")
    with pytest.raises(subprocess.TimeoutExpired):
        page_runner.run(tmp_path / "forever.py", cwd=tmp_path, timeout=1)
    assert page_runner.run(script, cwd=tmp_path, timeout=60).returncode == 0  # still serving
