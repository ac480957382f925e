r"""Recurrent layers laid out like torch's: ``RNN``, ``LSTM`` (whole sequences, stacked layers)
and ``RNNCell``, ``LSTMCell`` (one time step per call).

The step equations live once, in :mod:`dlbook.nn.functional.recurrent`. A sequence layer
computes the input parts $x_t W_{ih}^\top + b_{ih} + b_{hh}$ of all time steps with one matrix
product, loops over time only for $h_{t-1} W_{hh}^\top$ and the nonlinearities, and in backward
(backpropagation through time) adds up the weight gradients of all steps with one product
each at the end.
"""

from __future__ import annotations

import numpy as np

from .functional import recurrent as R
from .init import default_uniform_
from .module import FLOAT_DTYPES, Module, Parameter, accumulate_grad, as_dtype, as_generator


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _check_nonlinearity(owner: str, nonlinearity) -> str:
    if nonlinearity not in R.NONLINEARITIES:
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


def _check_state(owner: str, name: str, value, shape: tuple, dtype, context: str) -> np.ndarray:
    """A state (h_0, c_0, a cell's h) must be an array of exactly ``shape`` and the layer's dtype."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{owner} expects {name} as a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{owner} expects float32 or float64 {name}, got {value.dtype}")
    if value.dtype != dtype:
        raise TypeError(f"{owner} has {dtype} parameters but got {value.dtype} {name}")
    if value.shape != tuple(shape):
        raise ValueError(f"{owner} expects {name} of shape {tuple(shape)} {context}, got {value.shape}")
    return value


def _check_grad(owner: str, name: str, value, shape: tuple) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != tuple(shape):
        got = getattr(value, "shape", type(value).__name__)
        raise ValueError(f"{owner}.backward expects {name} of shape {tuple(shape)} (like the matching "
                         f"output of the most recent forward call), got {got}")
    return value


class _RNNBase(Module):
    """What RNN and LSTM share: parameters, input layout, stacking of layers."""

    gates = 1  # 4 for the LSTM: rows of weight_ih per hidden unit
    torch_args = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                  "bidirectional")

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional, dtype, seed) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.num_layers = _positive_int(name, "num_layers", num_layers)
        if dropout != 0:
            raise NotImplementedError(f"dlbook.nn.{name} supports dropout=0 only (no dropout between "
                                      f"stacked layers), got dropout={dropout!r}")
        if bidirectional:
            raise NotImplementedError(f"dlbook.nn.{name} supports bidirectional=False only "
                                      f"(one direction, left to right)")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), False
        rng, dtype = as_generator(seed), as_dtype(dtype)
        H, G = self.hidden_size, self.gates * self.hidden_size
        for k in range(self.num_layers):
            fan = self.input_size if k == 0 else H
            shapes = [("weight_ih", (G, fan)), ("weight_hh", (G, H))]
            shapes += [("bias_ih", (G,)), ("bias_hh", (G,))] if self.bias else []
            for param, shape in shapes:  # torch: every weight U(-1/sqrt(H), 1/sqrt(H))
                value = default_uniform_(np.empty(shape, dtype), fan_in=H, generator=rng)
                setattr(self, f"{param}_l{k}", Parameter(value))

    def _layer(self, k: int):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k; the biases None without bias."""
        get = self._parameters.get
        return (get(f"weight_ih_l{k}"), get(f"weight_hh_l{k}"), get(f"bias_ih_l{k}"),
                get(f"bias_hh_l{k}"))

    # -- input layout --------------------------------------------------------------------
    def _sequence(self, input) -> tuple[np.ndarray, bool]:
        """The input as (L, N, H_in), contiguous, and whether it had a batch axis."""
        name = type(self).__name__
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        what = f"{layout} (or unbatched (L, H_in)) with H_in = input_size = {self.input_size}"
        x = self._check_input(input, (2, 3), what)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name} expects input of shape {what}, got {x.shape}")
        batched = x.ndim == 3
        if not batched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[0] == 0:
            raise ValueError(f"{name} expects a sequence of at least one step, got input of shape "
                             f"{input.shape}")
        return np.ascontiguousarray(x), batched

    def _from_sequence(self, y: np.ndarray, batched: bool) -> np.ndarray:
        """(L, N, H) back to the caller's layout."""
        if not batched:
            return y[:, 0]
        return y.transpose(1, 0, 2) if self.batch_first else y

    def _output_shape(self, y_shape: tuple, batched: bool) -> tuple:
        """The caller's output shape from the internal (L, N, H)."""
        L, n, H = y_shape
        if not batched:
            return (L, H)
        return (n, L, H) if self.batch_first else (L, n, H)

    def _to_sequence(self, dy: np.ndarray, batched: bool) -> np.ndarray:
        if not batched:
            return dy[:, None]
        return dy.transpose(1, 0, 2) if self.batch_first else dy

    def _state_shape(self, batched: bool, n: int) -> tuple:
        return (self.num_layers, n, self.hidden_size) if batched else (self.num_layers, self.hidden_size)

    def _initial(self, value, name: str, x_shape: tuple, batched: bool, n: int, dtype):
        """A user's initial state as (num_layers, N, H), checked; None stays None."""
        if value is None:
            return None
        context = (f"(num_layers, N, hidden_size) for input of shape {x_shape}" if batched else
                   f"(num_layers, hidden_size) for unbatched input of shape {x_shape}")
        _check_state(type(self).__name__, name, value, self._state_shape(batched, n), dtype, context)
        return value if batched else value[:, None]

    def _state_out(self, states: list, batched: bool) -> np.ndarray:
        stacked = np.stack(states)
        return stacked if batched else stacked[:, 0]

    def _grad_state(self, value, name: str, batched: bool, n: int):
        if value is None:
            return None
        _check_grad(type(self).__name__, name, value, self._state_shape(batched, n))
        return value if batched else value[:, None]

    # -- stacking ------------------------------------------------------------------------
    def _run(self, x: np.ndarray, initial: list):
        """Every layer over the whole sequence; layer k's input is layer k-1's output.
        Returns the top layer's (L, N, H) output, the final states per layer, the caches."""
        caches, finals = [], []
        for k in range(self.num_layers):
            states = [None if s is None else s[k] for s in initial]
            x, final, cache = self._layer_forward(k, x, states)
            finals.append(final)
            caches.append(cache)
        return x, finals, caches

    def _backprop(self, d_out, d_finals: list, caches: list):
        """Backward through time, top layer first; returns d input (L, N, H_in) and the
        gradients of each layer's initial states."""
        d_initials = [None] * self.num_layers
        for k in reversed(range(self.num_layers)):
            d_out, d_initials[k] = self._layer_backward(k, d_out, [d[k] if d is not None else None
                                                                   for d in d_finals], caches[k])
        return d_out, d_initials

    def _layer_forward(self, k, x, states):  # pragma: no cover - abstract
        raise NotImplementedError

    def _layer_backward(self, k, d_out, d_finals, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    def _accumulate(self, k: int, d_pre: np.ndarray, x: np.ndarray, h_prev: np.ndarray):
        """Add layer k's weight gradients (all steps at once) and return d input = dP W_ih."""
        w_ih, _, _, _ = self._layer(k)
        d_w_ih, d_w_hh, d_b = R.recurrent_weight_grads(d_pre, x, h_prev, self.bias)
        accumulate_grad(w_ih, d_w_ih)
        accumulate_grad(self._parameters[f"weight_hh_l{k}"], d_w_hh)
        if self.bias:
            accumulate_grad(self._parameters[f"bias_ih_l{k}"], d_b)
            accumulate_grad(self._parameters[f"bias_hh_l{k}"], d_b)
        return d_pre @ w_ih


class RNN(_RNNBase):
    r"""A multi-layer Elman RNN over whole sequences, like ``torch.nn.RNN``.

    Each layer computes, for t = 1, ..., L,

    $$h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})$$

    (ReLU instead of tanh with ``nonlinearity="relu"``); layer k > 0 reads layer k-1's
    $h_t$ as its $x_t$. Parameters ``weight_ih_l{k}`` (H, H_in for k = 0, else H, H),
    ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (H,), all starting
    U(-1/sqrt(H), 1/sqrt(H)) as torch's.

    ``rnn(input, hx=None) -> (output, h_n)``: input (L, N, H_in), (N, L, H_in) with
    ``batch_first``, or unbatched (L, H_in); hx = h_0 of shape (num_layers, N, H), or
    (num_layers, H) unbatched (zeros when None). output holds the top layer's $h_t$ for every
    t, laid out like the input with H features; h_n the last $h_L$ of every layer, like hx.

    ``rnn.backward(d_output, d_h_n=None) -> (d_input, d_h_0)``: gradients flowing into the
    output and into the final states (None is zeros); d_h_0 is None when forward got no hx.
    The gradients of all weights are added to their ``.grad``. dropout and bidirectional
    exist for torch's signature; only 0 and False are implemented.
    """

    torch_args = ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first",
                  "dropout", "bidirectional")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, dtype=None, seed=None) -> None:
        nonlinearity = _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed)
        self.nonlinearity = nonlinearity

    def forward(self, input: np.ndarray, hx: np.ndarray | None = None):
        """input (L, N, H_in) [(N, L, H_in) batch_first; (L, H_in) unbatched], hx (num_layers,
        N, H) or None -> (output like input with H features, h_n (num_layers, N, H))."""
        x, batched = self._sequence(input)
        n = x.shape[1]
        h0 = self._initial(hx, "hx", input.shape, batched, n, x.dtype)
        y, finals, caches = self._run(x, [h0])
        self.save_for_backward((caches, batched, hx is not None, y.shape))
        output = self._from_sequence(y, batched).copy()
        return output, self._state_out(finals, batched)

    def _layer_forward(self, k, x, states):
        w_ih, w_hh, b_ih, b_hh = self._layer(k)
        L, n = x.shape[:2]
        x_part = R.input_part(x, w_ih, b_ih, b_hh)  # all steps in one product
        hs = np.empty((L + 1, n, self.hidden_size), x.dtype)  # h_0 .. h_L
        hs[0] = 0 if states[0] is None else states[0]
        for t in range(L):
            R.rnn_cell_forward(x_part[t], hs[t], w_hh, self.nonlinearity, out=hs[t + 1])
        return hs[1:], hs[L], (x, hs)

    def backward(self, d_output: np.ndarray | None, d_h_n: np.ndarray | None = None):
        """d_output like the output (None: zeros), d_h_n like h_n (None: zeros) ->
        (d_input like the input, d_h_0 like hx or None when forward got no hx)."""
        caches, batched, had_hx, y_shape = self.saved_for_backward()
        n = y_shape[1]
        out_shape = self._output_shape(y_shape, batched)
        d_y = None if d_output is None else self._to_sequence(
            _check_grad("RNN", "d_output", d_output, out_shape), batched)
        d_hn = self._grad_state(d_h_n, "d_h_n", batched, n)
        d_x, d_h0 = self._backprop(d_y, [d_hn], caches)
        d_input = self._from_sequence(d_x, batched)
        return d_input, (self._state_out([d[0] for d in d_h0], batched) if had_hx else None)

    def _layer_backward(self, k, d_out, d_finals, cache):
        x, hs = cache
        w_hh = self._parameters[f"weight_hh_l{k}"]
        L = x.shape[0]
        d_pre = np.empty((L,) + hs.shape[1:], hs.dtype)
        dh_next = np.zeros_like(hs[0]) if d_finals[0] is None else d_finals[0]
        for t in reversed(range(L)):
            dh = dh_next if d_out is None else d_out[t] + dh_next
            d_pre[t], dh_next = R.rnn_cell_backward(dh, hs[t + 1], w_hh,
                                                    self.nonlinearity)
        return self._accumulate(k, d_pre, x, hs[:-1]), [dh_next]


class LSTM(_RNNBase):
    r"""A multi-layer LSTM over whole sequences, like ``torch.nn.LSTM``.

    Each layer computes, for t = 1, ..., L (gates in torch's order i, f, g, o):

    $$\begin{aligned}
    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}), \quad
    f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}),\\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), \quad
    o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}),\\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t);
    \end{aligned}$$

    layer k > 0 reads layer k-1's $h_t$ as its $x_t$. Parameters ``weight_ih_l{k}`` (4H, H_in
    for k = 0, else 4H, H) = $[W_{ii}; W_{if}; W_{ig}; W_{io}]$, ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,), all starting U(-1/sqrt(H), 1/sqrt(H)).

    ``lstm(input, hx=None) -> (output, (h_n, c_n))``: input (L, N, H_in), (N, L, H_in) with
    ``batch_first``, or unbatched (L, H_in); hx = (h_0, c_0), each (num_layers, N, H) or
    (num_layers, H) unbatched (zeros when None). output holds the top layer's $h_t$ for every
    t; h_n and c_n the last states of every layer.

    ``lstm.backward(d_output, d_state=None) -> (d_input, (d_h_0, d_c_0))``: d_state is None
    or (d_h_n, d_c_n) (either may be None: zeros); the state gradient returned is None when
    forward got no hx. The gradients of all weights are added to their ``.grad``. dropout,
    bidirectional and proj_size exist for torch's signature; only 0, False and 0 are implemented.
    """

    gates = 4
    torch_args = _RNNBase.torch_args + ("proj_size",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, dtype=None, seed=None) -> None:
        if proj_size != 0:
            raise NotImplementedError(f"dlbook.nn.LSTM supports proj_size=0 only (no projection of "
                                      f"h_t), got proj_size={proj_size!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed)
        self.proj_size = 0

    def forward(self, input: np.ndarray, hx: tuple | None = None):
        """input (L, N, H_in) [(N, L, H_in) batch_first; (L, H_in) unbatched], hx = (h_0, c_0)
        or None -> (output like input with H features, (h_n, c_n))."""
        x, batched = self._sequence(input)
        n = x.shape[1]
        if hx is None:
            h0 = c0 = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                got = f"{len(hx)} items" if isinstance(hx, (tuple, list)) else type(hx).__name__
                raise TypeError(f"LSTM expects hx as a pair (h_0, c_0) of arrays, got {got}")
            h0 = self._initial(hx[0], "h_0", input.shape, batched, n, x.dtype)
            c0 = self._initial(hx[1], "c_0", input.shape, batched, n, x.dtype)
        y, finals, caches = self._run(x, [h0, c0])
        self.save_for_backward((caches, batched, hx is not None, y.shape))
        output = self._from_sequence(y, batched).copy()
        return output, (self._state_out([f[0] for f in finals], batched),
                        self._state_out([f[1] for f in finals], batched))

    def _layer_forward(self, k, x, states):
        w_ih, w_hh, b_ih, b_hh = self._layer(k)
        L, n = x.shape[:2]
        H = self.hidden_size
        x_part = R.input_part(x, w_ih, b_ih, b_hh)  # all steps at once: (L, N, 4H)
        hs = np.empty((L + 1, n, H), x.dtype)  # h_0 .. h_L
        cs = np.empty((L + 1, n, H), x.dtype)  # c_0 .. c_L
        gates = np.empty((L, n, 4 * H), x.dtype)
        tanh_cs = np.empty((L, n, H), x.dtype)
        hs[0] = 0 if states[0] is None else states[0]
        cs[0] = 0 if states[1] is None else states[1]
        for t in range(L):
            R.lstm_cell_forward(x_part[t], hs[t], cs[t], w_hh,
                                out=(hs[t + 1], cs[t + 1], gates[t], tanh_cs[t]))
        return hs[1:], (hs[L], cs[L]), (x, hs, cs, gates, tanh_cs)

    def backward(self, d_output: np.ndarray | None, d_state: tuple | None = None):
        """d_output like the output (None: zeros), d_state None or (d_h_n, d_c_n) ->
        (d_input like the input, (d_h_0, d_c_0), or None when forward got no hx)."""
        caches, batched, had_hx, y_shape = self.saved_for_backward()
        n = y_shape[1]
        out_shape = self._output_shape(y_shape, batched)
        d_y = None if d_output is None else self._to_sequence(
            _check_grad("LSTM", "d_output", d_output, out_shape), batched)
        if d_state is None:
            d_state = (None, None)
        if not isinstance(d_state, (tuple, list)) or len(d_state) != 2:
            raise TypeError(f"LSTM.backward expects d_state as None or a pair (d_h_n, d_c_n), got "
                            f"{type(d_state).__name__}")
        d_hn = self._grad_state(d_state[0], "d_h_n", batched, n)
        d_cn = self._grad_state(d_state[1], "d_c_n", batched, n)
        d_x, d_init = self._backprop(d_y, [d_hn, d_cn], caches)
        d_input = self._from_sequence(d_x, batched)
        if not had_hx:
            return d_input, None
        return d_input, (self._state_out([d[0] for d in d_init], batched),
                         self._state_out([d[1] for d in d_init], batched))

    def _layer_backward(self, k, d_out, d_finals, cache):
        x, hs, cs, gates, tanh_cs = cache
        w_hh = self._parameters[f"weight_hh_l{k}"]
        L = x.shape[0]
        d_pre = np.empty_like(gates)
        dh_next = np.zeros_like(hs[0]) if d_finals[0] is None else d_finals[0]
        dc_next = d_finals[1]
        for t in reversed(range(L)):
            dh = dh_next if d_out is None else d_out[t] + dh_next
            _, dh_next, dc_next = R.lstm_cell_backward(
                dh, dc_next, cs[t], gates[t], tanh_cs[t], w_hh, out=d_pre[t])
        dc0 = np.zeros_like(cs[0]) if dc_next is None else dc_next
        return self._accumulate(k, d_pre, x, hs[:-1]), [dh_next, dc0]


# -- cells: one time step per call ------------------------------------------------------------
class _CellBase(Module):
    gates = 1
    torch_args = ("input_size", "hidden_size", "bias")

    def __init__(self, input_size, hidden_size, bias, dtype, seed) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        rng, dtype = as_generator(seed), as_dtype(dtype)
        H, G = self.hidden_size, self.gates * self.hidden_size
        shapes = [("weight_ih", (G, self.input_size)), ("weight_hh", (G, H))]
        shapes += [("bias_ih", (G,)), ("bias_hh", (G,))] if self.bias else []
        for param, shape in shapes:
            setattr(self, param, Parameter(default_uniform_(np.empty(shape, dtype), fan_in=H,
                                                            generator=rng)))
        if not self.bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _step_input(self, x) -> tuple[np.ndarray, bool]:
        """x as (N, H_in) and whether it had a batch axis."""
        name = type(self).__name__
        what = f"(N, input_size) or unbatched (input_size,) with input_size = {self.input_size}"
        self._check_input(x, (1, 2), what)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name} expects input of shape {what}, got {x.shape}")
        return (x, True) if x.ndim == 2 else (x[None], False)

    def _step_state(self, value, name: str, x: np.ndarray, batched: bool) -> np.ndarray:
        n, H = x.shape[0], self.hidden_size
        if value is None:
            return np.zeros((n, H), x.dtype)
        shape = (n, H) if batched else (H,)
        context = f"(N, hidden_size) for input of shape {x.shape}" if batched else \
            f"(hidden_size,) for unbatched input of shape {x.shape[1:]}"
        _check_state(type(self).__name__, name, value, shape, x.dtype, context)
        return value if batched else value[None]

    def _grad_step(self, value, name, shape, batched):
        if value is None:
            return None
        _check_grad(type(self).__name__, name, value, shape if batched else shape[1:])
        return value if batched else value[None]

    def _accumulate_step(self, d_pre, x, h) -> np.ndarray:
        d_w_ih, d_w_hh, d_b = R.recurrent_weight_grads(d_pre, x, h, self.bias)
        accumulate_grad(self.weight_ih, d_w_ih)
        accumulate_grad(self.weight_hh, d_w_hh)
        if self.bias:
            accumulate_grad(self.bias_ih, d_b)
            accumulate_grad(self.bias_hh, d_b)
        return d_pre @ self.weight_ih


class RNNCell(_CellBase):
    r"""One Elman step, like ``torch.nn.RNNCell``:
    $h' = \tanh(x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh})$ (or ReLU).

    Parameters ``weight_ih`` (H, H_in), ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh`` (H,),
    U(-1/sqrt(H), 1/sqrt(H)). ``cell(x, h=None) -> h'``: x (N, H_in) or (H_in,), h (N, H) or
    (H,) (zeros when None). ``cell.backward(d_h') -> (d_x, d_h)``, d_h None when the call got
    no h. Called once per time step, the cell keeps each call's values on the stack and its
    backward calls come in reverse order; every call adds its share to the weight gradients.
    """

    torch_args = ("input_size", "hidden_size", "bias", "nonlinearity")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, dtype=None, seed=None) -> None:
        nonlinearity = _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, seed)
        self.nonlinearity = nonlinearity

    def forward(self, x: np.ndarray, h: np.ndarray | None = None) -> np.ndarray:
        """x (N, H_in) or (H_in,), h (N, H) or (H,) or None -> h' like h."""
        x2, batched = self._step_input(x)
        h2 = self._step_state(h, "h", x2, batched)
        x_part = R.input_part(x2, self.weight_ih, self.bias_ih, self.bias_hh)
        h_new = R.rnn_cell_forward(x_part, h2, self.weight_hh, self.nonlinearity)
        self.save_for_backward((x2, h2, h_new, batched, h is not None))
        return h_new if batched else h_new[0]

    def backward(self, d_h_new: np.ndarray):
        """d_h' like h' -> (d_x like x, d_h like h, or None when the call got no h)."""
        x, h, h_new, batched, had_h = self.saved_for_backward()
        d_h_new = self._grad_step(d_h_new, "d_h_new", h_new.shape, batched)
        d_pre, d_h = R.rnn_cell_backward(d_h_new, h_new, self.weight_hh, self.nonlinearity)
        d_x = self._accumulate_step(d_pre, x, h)
        if not batched:
            d_x, d_h = d_x[0], d_h[0]
        return d_x, (d_h if had_h else None)


class LSTMCell(_CellBase):
    r"""One LSTM step, like ``torch.nn.LSTMCell`` (equations in :class:`LSTM` and
    :func:`dlbook.nn.functional.recurrent.lstm_cell_forward`; gates i, f, g, o).

    Parameters ``weight_ih`` (4H, H_in), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh``
    (4H,), U(-1/sqrt(H), 1/sqrt(H)). ``cell(x, (h, c)=None) -> (h', c')``: x (N, H_in) or
    (H_in,), h and c (N, H) or (H,) (zeros when None).
    ``cell.backward((d_h', d_c')) -> (d_x, (d_h, d_c))``: d_c' (or d_h') may be None (zeros),
    and a bare array is taken as d_h'; the state gradient is None when the call got no state.
    Called once per time step; backward calls come in reverse order.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 dtype=None, seed=None) -> None:
        super().__init__(input_size, hidden_size, bias, dtype, seed)

    def forward(self, x: np.ndarray, hx: tuple | None = None):
        """x (N, H_in) or (H_in,), hx = (h, c) or None -> (h', c')."""
        x2, batched = self._step_input(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell expects hx as a pair (h, c) of arrays or None, got "
                            f"{type(hx).__name__}")
        h = self._step_state(None if hx is None else hx[0], "h", x2, batched)
        c = self._step_state(None if hx is None else hx[1], "c", x2, batched)
        x_part = R.input_part(x2, self.weight_ih, self.bias_ih, self.bias_hh)
        h_new, c_new, gates, tanh_c = R.lstm_cell_forward(x_part, h, c, self.weight_hh)
        self.save_for_backward((x2, h, c, gates, tanh_c, batched, hx is not None))
        return (h_new, c_new) if batched else (h_new[0], c_new[0])

    def backward(self, d_state, d_c_new: np.ndarray | None = None):
        """d_state = (d_h', d_c') (either None: zeros), or d_h' alone -> (d_x, (d_h, d_c)),
        the state gradient None when the call got no state."""
        x, h, c, gates, tanh_c, batched, had_hx = self.saved_for_backward()
        if isinstance(d_state, (tuple, list)):
            if len(d_state) != 2:
                raise TypeError(f"LSTMCell.backward expects (d_h_new, d_c_new), got {len(d_state)} items")
            d_h_new, d_c_new = d_state
        else:
            d_h_new = d_state
        d_h_new = self._grad_step(d_h_new, "d_h_new", h.shape, batched)
        d_c_new = self._grad_step(d_c_new, "d_c_new", c.shape, batched)
        if d_h_new is None:
            d_h_new = np.zeros_like(h)
        d_pre, d_h, d_c = R.lstm_cell_backward(d_h_new, d_c_new, c, gates, tanh_c, self.weight_hh)
        d_x = self._accumulate_step(d_pre, x, h)
        if not batched:
            d_x, d_h, d_c = d_x[0], d_h[0], d_c[0]
        return d_x, ((d_h, d_c) if had_hx else None)
