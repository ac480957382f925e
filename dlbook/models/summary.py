r"""What each layer of a network does: output shape, parameters, receptive field.

:func:`summary` runs one input of a given shape through a torch model (or a
:mod:`dlbook.nn` one) and records, for every leaf layer in the order it ran,

- its output shape (forward hooks; on the ``"meta"`` device nothing is computed, so a
  VGG of 138 million parameters is summarized at once),
- its own parameter count (a layer used twice counts at its first use only),
- the receptive field size and jump of its output, in input pixels along the height
  axis, from :mod:`dlbook.receptive_field`, where the field is defined.

A receptive field is defined while every layer looks at a local window or at each
pixel alone: convolution, pooling, point-wise layers, LocalResponseNorm (it mixes
channels, not positions), an AdaptiveAvgPool2d with equal bins (input size a multiple
of the output size) and, between layers, operations that keep the spatial grid (a
residual sum ``out + shortcut`` sees what either term sees). It ends (None) at Flatten
and Linear, which see the whole input. In a NumPy model only chains of layers are
followed (NumPy's ``+`` cannot be watched).

:class:`Table` shows rows as HTML (in a notebook), Markdown or plain text, with the
headers in the page's language.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from html import escape
from typing import Iterable, Sequence

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from .. import nn
from ..cnn_shapes import WindowGeometry
from ..receptive_field import (POINTWISE, WINDOWED, ReceptiveField, receptive_fields,
                               window_of)

#: Layers that mix channels but not positions: the receptive field passes unchanged.
SPATIALLY_POINTWISE = POINTWISE | {"LocalResponseNorm"}

#: Column headers by field name, per language.
HEADERS = {
    "name": {"en": "layer", "zh": "层"},
    "type": {"en": "type", "zh": "类型"},
    "output_shape": {"en": "output shape", "zh": "输出形状"},
    "params": {"en": "parameters", "zh": "参数量"},
    "rf_size": {"en": "receptive field", "zh": "感受野"},
    "rf_jump": {"en": "jump", "zh": "跳步"},
    "weight_shape": {"en": "weight shape", "zh": "权重形状"},
    "weights": {"en": "weights", "zh": "权重数"},
    "biases": {"en": "biases", "zh": "偏置数"},
}
TOTAL = {"en": "total", "zh": "合计"}
SUMMED = ("params", "weights", "biases")


# -- tables ----------------------------------------------------------------------------
def format_cell(value) -> str:
    """1234567 -> "1,234,567"; a shape (1, 64, 55, 55) -> "1×64×55×55"; None -> "–"."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value) if value else "()"
    return str(value)


@dataclass
class Table:
    """Rows of cells under column headers, and an optional footer row (a total, its
    empty cells None); a notebook shows it as an HTML table."""

    columns: list[str]
    rows: list[tuple]
    footer: tuple | None = None

    def __post_init__(self) -> None:
        for row in self.rows + ([self.footer] if self.footer is not None else []):
            if len(row) != len(self.columns):
                raise ValueError(f"Table: every row needs {len(self.columns)} cells "
                                 f"({self.columns}), got {row!r}")

    def _cells(self) -> list[list[str]]:
        cells = [[format_cell(v) for v in row] for row in self.rows]
        if self.footer is not None:
            cells.append(["" if v is None else format_cell(v) for v in self.footer])
        return cells

    def _right(self) -> list[bool]:
        """Numbers and shapes are right-aligned."""
        if not self.rows:
            return [False] * len(self.columns)
        return [all(v is None or isinstance(v, (numbers.Number, tuple)) for v in col)
                and any(v is not None for v in col) for col in zip(*self.rows)]

    def to_markdown(self) -> str:
        align = ["---:" if right else ":---" for right in self._right()]
        lines = ["| " + " | ".join(self.columns) + " |",
                 "| " + " | ".join(align) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in self._cells()]
        return "\n".join(lines)

    def to_html(self) -> str:
        styles = [f'style="text-align: {"right" if right else "left"}"'
                  for right in self._right()]

        def line(cells, tag):
            return "<tr>" + "".join(f"<{tag} {style}>{escape(cell)}</{tag}>"
                                    for style, cell in zip(styles, cells)) + "</tr>"

        body = "".join(line(row, "td") for row in self._cells())
        return (f"<table><thead>{line(self.columns, 'th')}</thead>"
                f"<tbody>{body}</tbody></table>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        cells = [list(self.columns)] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        right = self._right()
        lines = ["  ".join(cell.rjust(w) if r else cell.ljust(w)
                           for cell, w, r in zip(row, widths, right)).rstrip()
                 for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def as_table(records: Sequence, lang: str = "en", *, total: bool = True,
             fields: Sequence[str] | None = None) -> Table:
    """A :class:`Table` of dataclass records (:class:`LayerRow`,
    :class:`LayerArithmetic`), headers in ``lang`` ("en" or "zh").

    ``fields`` picks and orders the columns (default: every field with a header in
    :data:`HEADERS`). With ``total``, a footer sums the parameter columns (params,
    weights, biases).
    """
    if lang not in TOTAL:
        raise ValueError(f"as_table: lang must be one of {sorted(TOTAL)}, "
                         f"got {lang!r}")
    records = list(records)
    if not records or not all(dataclasses.is_dataclass(r) for r in records):
        raise TypeError("as_table expects a non-empty list of dataclass records "
                        "(LayerRow, LayerArithmetic)")
    names = [f.name for f in dataclasses.fields(records[0]) if f.name in HEADERS]
    names += [n for n in SUMMED if n not in names and hasattr(records[0], n)]
    fields = names if fields is None else list(fields)
    unknown = [f for f in fields if f not in names]
    if unknown:
        raise ValueError(f"as_table: no column {unknown}; the records have {names}")
    rows = [tuple(getattr(r, f) for f in fields) for r in records]
    footer = None
    if total:
        footer = tuple(sum(getattr(r, f) for r in records) if f in SUMMED else None
                       for f in fields)
        footer = (TOTAL[lang],) + footer[1:]
    return Table([HEADERS[f][lang] for f in fields], rows, footer)


# -- an architecture worked out by hand ------------------------------------------------
@dataclass(frozen=True)
class LayerArithmetic:
    """One layer worked out with :mod:`dlbook.cnn_shapes`: its output shape (no batch
    axis) and its parameters, weights and biases counted from their shapes."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | None
    weights: int
    biases: int

    @property
    def params(self) -> int:
        return self.weights + self.biases


# -- the summary of a built model ------------------------------------------------------
@dataclass(frozen=True)
class LayerRow:
    """One layer call: its name in ``named_modules``, type, output shape (batch axis
    first), parameter count, and the receptive field size and jump of its output in
    input pixels along the height axis (None where undefined; ``field``: both axes)."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    rf_size: int | None
    rf_jump: int | None
    field: ReceptiveField | None = None


@dataclass
class Summary:
    """The rows of :func:`summary` (the input first) and the model's parameter count."""

    rows: list[LayerRow]
    total_params: int

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        """A row by position, or by layer name (its first call)."""
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            names = [r.name for r in self.rows]
            raise KeyError(f"no layer {key!r}; the layers are {names}")
        return self.rows[key]

    def table(self, lang: str = "en", total: bool = True) -> Table:
        """The rows as a :class:`Table`, headers in ``lang``."""
        return as_table(self.rows, lang, total=total)

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __str__(self) -> str:
        return str(self.table())


#: The field of an input pixel: itself.
INPUT = ReceptiveField((1, 1), (1, 1), (0.0, 0.0))


def compose(first: ReceptiveField, then: ReceptiveField) -> ReceptiveField:
    """The field of ``then`` (counted in units of ``first``'s output) in input pixels.

    Per axis: size r1 + (r2 - 1)·j1, jump j1·j2, start s1 + s2·j1, the rules of
    :mod:`dlbook.receptive_field` applied to a whole stack at once.
    """
    return ReceptiveField(
        tuple(r1 + (r2 - 1) * j1
              for r1, r2, j1 in zip(first.size, then.size, first.jump)),
        tuple(j1 * j2 for j1, j2 in zip(first.jump, then.jump)),
        tuple(s1 + s2 * j1
              for s1, s2, j1 in zip(first.start, then.start, first.jump)))


def union(fields: Iterable[ReceptiveField | None]) -> ReceptiveField | None:
    """What a sum of maps on one grid sees: the union of their fields (None unless all
    are defined with equal jumps)."""
    fields = list(fields)
    if not fields or any(f is None for f in fields):
        return None
    if len({f.jump for f in fields}) > 1:
        return None
    size, start = [], []
    for axis in range(2):
        low = min(f.start[axis] - (f.size[axis] - 1) / 2 for f in fields)
        high = max(f.start[axis] + (f.size[axis] - 1) / 2 for f in fields)
        size.append(int(round(high - low)) + 1)
        start.append((low + high) / 2)
    return ReceptiveField(tuple(size), fields[0].jump, tuple(start))


def layer_field(layer, field: ReceptiveField | None, in_shape, out_shape
                ) -> ReceptiveField | None:
    """The receptive field after ``layer`` (torch or dlbook), given its input's."""
    if field is None:
        return None
    name = type(layer).__name__
    if name in SPATIALLY_POINTWISE:
        return field
    if name in WINDOWED:
        return compose(field, receptive_fields([window_of(layer)])[-1])
    if name == "AdaptiveAvgPool2d" and len(in_shape) >= 3 and len(out_shape) >= 3:
        (h, w), (oh, ow) = tuple(in_shape[-2:]), tuple(out_shape[-2:])
        if h % oh or w % ow:
            return None  # bins of unequal sizes: no one field size
        kernel = (h // oh, w // ow)
        window = WindowGeometry(kernel, kernel, ((0, 0), (0, 0)))
        return compose(field, receptive_fields([window])[-1])
    return None  # Flatten, Linear, or a layer without a rule


def _check_shape(input_shape) -> tuple[int, ...]:
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) < 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                       and s >= 1 for s in input_shape)):
        raise ValueError(f"summary expects input_shape as a tuple of positive ints, "
                         f"batch axis first, e.g. (1, 3, 224, 224), "
                         f"got {input_shape!r}")
    return tuple(int(s) for s in input_shape)


def summary(model, input_shape=None) -> Summary:
    """Run a zero input of ``input_shape`` (batch axis first, e.g. (1, 3, 224, 224))
    through ``model`` (torch or :mod:`dlbook.nn`) in eval mode without gradients; return
    a :class:`Summary`, one :class:`LayerRow` per call of a leaf layer, the input first.

    ``input_shape`` defaults to ``(1, *model.input_shape)`` for a model that states it
    (the AlexNet and VGG of :mod:`dlbook.models`). A torch input is made on the device
    and with the dtype of the model's first parameter (on ``"meta"``: shapes only).
    The model's train/eval modes are restored afterwards; nothing else changes.
    """
    if input_shape is None:
        if not hasattr(model, "input_shape"):
            raise ValueError("summary needs input_shape, e.g. (1, 3, 224, 224): this "
                             "model does not state the input it expects (.input_shape)")
        input_shape = (1, *model.input_shape)
    input_shape = _check_shape(input_shape)
    if isinstance(model, torch.nn.Module):
        rows = _trace_torch(model, input_shape)
        total = sum(p.numel() for p in model.parameters())
    elif isinstance(model, nn.Module):
        rows = _trace_numpy(model, input_shape)
        total = model.parameter_count()
    else:
        raise TypeError(f"summary expects a torch.nn.Module or a dlbook.nn.Module, "
                        f"got {type(model).__name__}")
    return Summary(rows, int(total))


def _row(name: str, layer, out_shape, params: int, field) -> LayerRow:
    return LayerRow(name, "" if layer is None else type(layer).__name__,
                    tuple(int(s) for s in out_shape), int(params),
                    None if field is None else field.size[0],
                    None if field is None else field.jump[0], field)


class _Tracer:
    """Receptive fields by object identity: each traced output remembers its field."""

    def __init__(self, x) -> None:
        self.fields = {id(x): INPUT}
        self.alive = [x]      # traced arrays stay alive, so that their ids stay theirs
        self.rows = [_row("input", None, x.shape, 0, INPUT)]
        self.counted: set[int] = set()

    def field_of(self, value):
        return self.fields.get(id(value))

    def remember(self, value, field) -> None:
        self.fields[id(value)] = field
        self.alive.append(value)

    def record(self, name, layer, inputs, output, own_params: list) -> None:
        x = inputs[0] if inputs else None
        y = output[0] if isinstance(output, (tuple, list)) else output
        in_shape = getattr(x, "shape", ())
        field = layer_field(layer, self.field_of(x), in_shape, y.shape)
        self.remember(y, field)
        new = [p for p in own_params if id(p) not in self.counted]
        self.counted.update(id(p) for p in own_params)
        params = sum(math.prod(p.shape) for p in new)
        self.rows.append(_row(name, layer, y.shape, params, field))


class _GridOps(TorchFunctionMode):
    """Between layers, an operation on maps of the output's spatial grid (a residual
    sum, a concatenation of channels) sees the union of their fields; any other
    operation on a traced tensor (flatten, view) ends the field."""

    def __init__(self, tracer: _Tracer) -> None:
        super().__init__()
        self.tracer, self.depth = tracer, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.depth == 0 and isinstance(out, torch.Tensor):
            tensors = [a for a in _flatten(args) if isinstance(a, torch.Tensor)]
            traced = [a for a in tensors if id(a) in self.tracer.fields]
            if traced:
                grid = tuple(out.shape[-2:]) if out.ndim >= 3 else None
                on_grid = [a for a in tensors
                           if grid and a.ndim >= 3 and tuple(a.shape[-2:]) == grid]
                # constants and broadcast parameters (a per-channel scale) do not count
                mixed = any(all(a is not b for b in on_grid) for a in traced)
                field = None if mixed or not on_grid else union(
                    self.tracer.field_of(a) for a in on_grid)
                self.tracer.remember(out, field)
        return out


def _flatten(values):
    for v in values:
        if isinstance(v, (tuple, list)):
            yield from _flatten(v)
        else:
            yield v


def _leaves(named_modules):
    return [(name, m) for name, m in named_modules
            if next(iter(m.children()), None) is None]


def _trace_torch(model: torch.nn.Module, input_shape) -> list[LayerRow]:
    first = next(model.parameters(), None)
    device = torch.device("cpu") if first is None else first.device
    floating = first is not None and first.is_floating_point()
    x = torch.zeros(input_shape, device=device,
                    dtype=first.dtype if floating else torch.float32)
    tracer = _Tracer(x)
    mode = _GridOps(tracer)
    modes = {m: m.training for m in model.modules()}
    handles = []

    def enter(module, inputs):
        mode.depth += 1

    def leave(name):
        def hook(module, inputs, output):
            mode.depth -= 1
            tracer.record(name, module, inputs, output,
                          list(module.parameters(recurse=False)))
        return hook

    for name, module in _leaves(model.named_modules()):
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave(name)))
    try:
        model.eval()
        with torch.no_grad(), mode:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return tracer.rows


def _trace_numpy(model: nn.Module, input_shape) -> list[LayerRow]:
    x = np.zeros(input_shape, model.dtype or np.float32)
    tracer = _Tracer(x)
    modes = {m: m.training for m in model.modules()}
    patched = []

    def watch(name, module):
        def forward(*args, **kwargs):
            y = type(module).forward(module, *args, **kwargs)
            own = [p for p in module._parameters.values() if p is not None]
            tracer.record(name, module, args, y, own)
            return y
        return forward

    for name, module in _leaves(model.named_modules()):
        object.__setattr__(module, "forward", watch(name, module))  # for this run
        patched.append(module)
    try:
        model.eval()
        with nn.no_grad():
            model(x)
    finally:
        for module in patched:
            del module.__dict__["forward"]
        for module, training in modes.items():
            object.__setattr__(module, "training", training)
    return tracer.rows
