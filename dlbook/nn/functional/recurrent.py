r"""One time step of an Elman RNN and of an LSTM, forward and backward, in NumPy.

These are the single home of the step equations: :class:`dlbook.nn.RNNCell`,
:class:`dlbook.nn.LSTMCell` (one step per call), :class:`dlbook.nn.RNN` and
:class:`dlbook.nn.LSTM` (whole sequences) all call them.

A step splits into a part that does not depend on the previous state, the
**input part** $x_t W_{ih}^\top + b_{ih} + b_{hh}$ (:func:`input_part`), and the
recurrent part $h_{t-1} W_{hh}^\top$. A sequence layer computes the input parts of
all time steps with one matrix product and loops over time only for the recurrent
product and the nonlinearities. Likewise a backward step returns the gradient with
respect to the pre-activations (``d_pre``), and the weight gradients of all steps
come from one product each at the end (:func:`recurrent_weight_grads`):
$dW_{ih} = \sum_t dP_t^\top x_t$, $dW_{hh} = \sum_t dP_t^\top h_{t-1}$,
$db_{ih} = db_{hh} = \sum_t dP_t$.

Shapes: N samples, hidden size H, input size H_in; the LSTM's four gates are stacked
along the last axis in torch's order (i, f, g, o): its pre-activations are (N, 4H).
"""

from __future__ import annotations

import numpy as np

NONLINEARITIES = ("tanh", "relu")


def input_part(x: np.ndarray, weight_ih: np.ndarray, bias_ih: np.ndarray | None = None,
               bias_hh: np.ndarray | None = None) -> np.ndarray:
    r"""$x W_{ih}^\top + b_{ih} + b_{hh}$ for x (..., H_in) -> (..., G), G = H or 4H.

    Any leading axes: x (L, N, H_in) gives the input parts of all L steps at once.
    """
    part = x @ weight_ih.T
    if bias_ih is not None:
        part += bias_ih + bias_hh
    return part


def rnn_cell_forward(x_part, h, weight_hh, nonlinearity="tanh", out=None):
    r"""One Elman step
    $h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})$
    (ReLU instead of tanh with ``nonlinearity="relu"``).

    x_part (N, H) is the input part (:func:`input_part`), h (N, H) the previous state,
    weight_hh (H, H). Returns h_t (N, H), written into ``out`` when given.
    """
    pre = np.matmul(h, weight_hh.T, out=out)
    pre += x_part
    if nonlinearity == "tanh":
        return np.tanh(pre, out=pre)
    return np.maximum(pre, 0, out=pre)


def rnn_cell_backward(d_h_new: np.ndarray, h_new: np.ndarray, weight_hh: np.ndarray,
                      nonlinearity: str = "tanh"):
    r"""Backward of :func:`rnn_cell_forward`: d_h_new (N, H) -> (d_pre, d_h).

    $dP = dh_t \odot (1 - h_t^2)$ for tanh ($dh_t$ where $h_t > 0$ for ReLU) is the
    gradient with respect to the pre-activation, hence to x_part;
    $dh_{t-1} = dP\, W_{hh}$.
    """
    if nonlinearity == "tanh":
        d_pre = d_h_new * (1 - h_new * h_new)
    else:
        d_pre = d_h_new * (h_new > 0)
    return d_pre, d_pre @ weight_hh


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    r"""$\sigma(x) = (1 + \tanh(x/2))/2$: no overflow for any x, one pass of tanh."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def lstm_cell_forward(x_part: np.ndarray, h: np.ndarray, c: np.ndarray,
                      weight_hh: np.ndarray, out=None):
    r"""One LSTM step (torch's equations, gates in the order i, f, g, o):

    $$\begin{aligned}
    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}), &
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}),\\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), &
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}),\\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t, &
    h_t &= o_t \odot \tanh(c_t).
    \end{aligned}$$

    x_part (N, 4H) is the input part (:func:`input_part`), h and c (N, H) the
    previous states, weight_hh (4H, H). Returns ``(h_t, c_t, gates, tanh_c_t)``:
    gates (N, 4H) holds $i_t, f_t, g_t, o_t$ (after their nonlinearities), which the
    backward step needs along with $\tanh(c_t)$. ``out``: four arrays of those
    shapes to write the results into.
    """
    H = h.shape[-1]
    if out is None:
        out = (np.empty_like(h), np.empty_like(c), np.empty_like(x_part),
               np.empty_like(c))
    h_new, c_new, gates, tanh_c = out
    pre = h @ weight_hh.T
    pre += x_part
    _sigmoid(pre[:, :2 * H], gates[:, :2 * H])  # i, f
    np.tanh(pre[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])  # g
    _sigmoid(pre[:, 3 * H:], gates[:, 3 * H:])  # o
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    np.multiply(f, c, out=c_new)
    c_new += i * g
    np.tanh(c_new, out=tanh_c)
    np.multiply(o, tanh_c, out=h_new)
    return h_new, c_new, gates, tanh_c


def lstm_cell_backward(d_h_new, d_c_new, c, gates, tanh_c_new, weight_hh, out=None):
    r"""Backward of :func:`lstm_cell_forward`: $(dh_t, dc_t)$ -> ``(d_pre, d_h, d_c)``.

    c (N, H) is the previous cell state $c_{t-1}$, gates and tanh_c_new what the
    forward step returned. $dc$ collects both paths to the cell state: the one
    through $h_t = o_t \odot \tanh(c_t)$ and the one from the next step
    (``d_c_new``; None is 0):

    $$\begin{aligned}
    dc &= dc_t + dh_t \odot o_t \odot (1 - \tanh^2 c_t), \\
    dP_i &= dc \odot g_t \odot i_t(1-i_t), \quad
    dP_f = dc \odot c_{t-1} \odot f_t(1-f_t), \\
    dP_g &= dc \odot i_t \odot (1-g_t^2), \quad
    dP_o = dh_t \odot \tanh c_t \odot o_t(1-o_t),\\
    dc_{t-1} &= dc \odot f_t, \qquad dh_{t-1} = dP\, W_{hh}.
    \end{aligned}$$

    d_pre (N, 4H) is the gradient with respect to the pre-activations, hence to
    x_part; written into ``out`` when given.
    """
    H = c.shape[-1]
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    d_pre = np.empty_like(gates) if out is None else out
    dP_i, dP_f, dP_g, dP_o = (d_pre[:, k * H:(k + 1) * H] for k in range(4))
    dc = o * d_h_new
    np.multiply(d_h_new, tanh_c_new, out=dP_o)  # do, turned into dP_o below
    dc *= 1 - tanh_c_new * tanh_c_new
    if d_c_new is not None:
        dc += d_c_new
    np.multiply(dc, g, out=dP_i)
    np.multiply(dc, c, out=dP_f)
    np.multiply(dc, i, out=dP_g)
    dP_i *= i * (1 - i)
    dP_f *= f * (1 - f)
    dP_g *= 1 - g * g
    dP_o *= o * (1 - o)
    dc *= f
    return d_pre, d_pre @ weight_hh, dc


def recurrent_weight_grads(d_pre, x, h_prev, has_bias=True):
    r"""One layer's weight gradients, summed over all steps and samples at once.

    d_pre (..., G), x (..., H_in), h_prev (..., H) with the same leading axes (e.g.
    (L, N)): returns $(dW_{ih}, dW_{hh}, db)
    = (\sum dP^\top x,\ \sum dP^\top h_{t-1},\ \sum dP)$; $db$ is the gradient of
    both bias_ih and bias_hh (None without biases).
    """
    G = d_pre.shape[-1]
    d2 = d_pre.reshape(-1, G)
    d_weight_ih = d2.T @ x.reshape(-1, x.shape[-1])
    d_weight_hh = d2.T @ h_prev.reshape(-1, h_prev.shape[-1])
    return d_weight_ih, d_weight_hh, (d2.sum(axis=0) if has_bias else None)


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
             nonlinearity="tanh"):
    """One Elman step from x (N, H_in) and h (N, H) (forward only): the new h (N, H)."""
    return rnn_cell_forward(input_part(x, weight_ih, bias_ih, bias_hh), h, weight_hh,
                            nonlinearity)


def lstm_cell(x, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step from x (N, H_in) and hx = (h, c), each (N, H) (forward only):
    the new (h, c)."""
    h, c = hx
    h_new, c_new, _, _ = lstm_cell_forward(input_part(x, weight_ih, bias_ih, bias_hh),
                                           h, c, weight_hh)
    return h_new, c_new
