"""Read and plot benchmark results: the JSON files that ``scripts/bench_*.py --json`` write.

A result file holds one benchmark::

    {"benchmark": "conv", "date": "2026-11-30T19:40:00+00:00",
     "machine": {"cpu": "...", "cores": 2, "memory_gib": 23.5, "gpu": null},
     "versions": {"python": "3.11.7", "numpy": "2.4.6", "torch": "2.13.0", "dlbook": "0.2.0",
                  "blas": "openblas 0.3.31 (Haswell)", ...},
     "settings": {"threads": 1, "clock": "cpu", "repeats": 30, ...},
     "rows": [{"case": "3x3", "implementation": "numpy", "seconds": 0.0123, ...}, ...]}

``gpu`` is null when the machine had no CUDA device: then no row is "torch-cuda". Rows with
the same case and implementation (repeated runs) are summarized by their median.
"""

from __future__ import annotations

import datetime
import json
import math
import pathlib
import statistics

#: How an implementation is named in a figure, per language (others keep their own name).
IMPLEMENTATIONS = {
    "numpy": {"zh": "dlbook（NumPy）", "en": "dlbook (NumPy)"},
    "numpy-products": {"zh": "仅三个矩阵乘积（NumPy）", "en": "matrix products alone (NumPy)"},
    "numpy-naive": {"zh": "朴素循环（NumPy）", "en": "naive loops (NumPy)"},
    "torch-cpu": {"zh": "torch（CPU）", "en": "torch (CPU)"},
    "torch-cuda": {"zh": "torch（GPU）", "en": "torch (GPU)"},
    "dlbook-cpu": {"zh": "dlbook（torch，CPU）", "en": "dlbook (torch, CPU)"},
    "dlbook-cuda": {"zh": "dlbook（torch，GPU）", "en": "dlbook (torch, GPU)"},
}
#: Axis label and scale factor of each plotted value.
VALUES = {
    "seconds": ({"zh": "时间（毫秒）", "en": "time (ms)"}, 1e3),
    "words_per_second": ({"zh": "每秒训练的词数（千）", "en": "thousand words trained per second"},
                         1e-3),
    "spearman": ({"zh": "WordSim-353 Spearman 相关系数", "en": "WordSim-353 Spearman correlation"},
                 1.0),
}
LANGS = ("zh", "en")
_FIELDS = {"benchmark": str, "date": str, "machine": dict, "versions": dict, "settings": dict,
           "rows": list}
_REQUIRED_VERSIONS = ("python", "numpy", "torch", "dlbook")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate(result, source: str = "benchmark result") -> dict:
    """Check that ``result`` has the schema above; returns it, or raises ValueError / TypeError
    naming ``source`` and the field that is wrong."""
    if not isinstance(result, dict):
        raise TypeError(f"{source}: expected a JSON object, got {type(result).__name__}")
    for field, kind in _FIELDS.items():
        if field not in result:
            raise ValueError(f"{source}: missing field {field!r} (expected {list(_FIELDS)})")
        if not isinstance(result[field], kind):
            raise TypeError(f"{source}: {field!r} must be a {kind.__name__}, "
                            f"got {type(result[field]).__name__}")
    try:
        date = datetime.datetime.fromisoformat(result["date"])
    except ValueError:
        raise ValueError(f"{source}: 'date' must be an ISO date-time, got {result['date']!r}") from None
    if date.utcoffset() != datetime.timedelta(0):
        raise ValueError(f"{source}: 'date' must be in UTC (+00:00), got {result['date']!r}")
    machine = result["machine"]
    if not isinstance(machine.get("cpu"), str):
        raise ValueError(f"{source}: machine['cpu'] must be the CPU model (a string)")
    if not (isinstance(machine.get("cores"), int) and machine["cores"] >= 1):
        raise ValueError(f"{source}: machine['cores'] must be an integer >= 1, "
                         f"got {machine.get('cores')!r}")
    if machine.get("memory_gib") is not None and not _is_number(machine["memory_gib"]):
        raise ValueError(f"{source}: machine['memory_gib'] must be a number or null")
    if "gpu" not in machine or not (machine["gpu"] is None or isinstance(machine["gpu"], str)):
        raise ValueError(f"{source}: machine['gpu'] must be the GPU's name or null (none)")
    for name in _REQUIRED_VERSIONS:
        if not isinstance(result["versions"].get(name), str):
            raise ValueError(f"{source}: versions[{name!r}] must be a version string "
                             f"(required: {list(_REQUIRED_VERSIONS)})")
    if not result["rows"]:
        raise ValueError(f"{source}: 'rows' is empty")
    for i, row in enumerate(result["rows"]):
        if not isinstance(row, dict):
            raise TypeError(f"{source}: rows[{i}] must be an object, got {type(row).__name__}")
        for key in ("case", "implementation"):
            if not (isinstance(row.get(key), str) and row[key]):
                raise ValueError(f"{source}: rows[{i}][{key!r}] must be a non-empty string")
        for key in ("seconds", "words_per_second"):
            if key in row and not (_is_number(row[key]) and row[key] > 0):
                raise ValueError(f"{source}: rows[{i}][{key!r}] must be a positive finite "
                                 f"number, got {row[key]!r}")
        if "seconds" not in row:
            raise ValueError(f"{source}: rows[{i}] has no 'seconds'")
        if row["implementation"].endswith("cuda") and machine["gpu"] is None:
            raise ValueError(f"{source}: rows[{i}] was measured on CUDA, but machine['gpu'] is null")
    return result


def load(path) -> dict:
    """Read one result file and :func:`validate` it."""
    path = pathlib.Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    return validate(result, str(path))


def cases(result: dict) -> list[str]:
    """The cases in the order the file lists them."""
    return list(dict.fromkeys(row["case"] for row in result["rows"]))


def implementations(result: dict) -> list[str]:
    """The implementations in the order the file lists them."""
    return list(dict.fromkeys(row["implementation"] for row in result["rows"]))


def medians(result: dict, value: str = "seconds") -> dict[tuple[str, str], float]:
    """{(case, implementation): median of ``value`` over that pair's rows}."""
    values = {}
    for row in result["rows"]:
        if value not in row:
            raise ValueError(f"{result['benchmark']}: a row has no {value!r} "
                             f"(it has {sorted(row)})")
        values.setdefault((row["case"], row["implementation"]), []).append(row[value])
    return {key: statistics.median(v) for key, v in values.items()}


def ratios(result: dict, numerator: str, denominator: str,
           value: str = "seconds") -> dict[str, float]:
    """{case: median ``value`` of ``numerator`` / that of ``denominator``}, for every case
    measured with both (seconds: above 1 means the numerator is slower)."""
    known = implementations(result)
    for name in (numerator, denominator):
        if name not in known:
            raise ValueError(f"{result['benchmark']}: no rows of implementation {name!r} "
                             f"(the file has {known})")
    m = medians(result, value)
    return {case: m[case, numerator] / m[case, denominator] for case in cases(result)
            if (case, numerator) in m and (case, denominator) in m}


def label(implementation: str, lang: str) -> str:
    """The implementation's name in a figure in ``lang``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return IMPLEMENTATIONS.get(implementation, {}).get(lang, implementation)


def provenance(result: dict, lang: str) -> str:
    """Two lines: where, when and with what the result was measured (for under a figure)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    m, v, s = result["machine"], result["versions"], result["settings"]
    gpu = m["gpu"] or {"zh": "无 GPU（GPU 未测）", "en": "no GPU (not measured)"}[lang]
    memory = "" if m.get("memory_gib") is None else f", {m['memory_gib']:g} GiB"
    others = ", ".join(f"{name} {version}" for name, version in v.items()
                       if name not in ("python", "numpy", "torch", "dlbook", "blas") and version)
    clock = {"cpu": {"zh": "CPU 时间", "en": "CPU time"},
             "wall": {"zh": "墙钟时间", "en": "wall clock"}}.get(s.get("clock"), {}).get(lang, "")
    threads = s.get("threads")
    how = {"zh": f"{threads} 线程，{clock}，{s.get('repeats')} 轮交替的中位数",
           "en": f"{threads} thread{'s' if threads != 1 else ''}, {clock}, "
                 f"median of {s.get('repeats')} alternating runs"}[lang]
    return (f"{result['date'][:10]} · {m['cpu']} ({m['cores']} {'核' if lang == 'zh' else 'cores'}"
            f"{memory}) · {gpu} · {how}\n"
            f"Python {v['python']}, NumPy {v['numpy']}, torch {v['torch']}, dlbook {v['dlbook']}"
            + (f", {others}" if others else "") + (f" · BLAS {v['blas']}" if v.get("blas") else ""))


def sign(fig, result: dict, lang: str) -> None:
    """Write :func:`provenance` in small type under the figure's axes."""
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))  # 0.4 inch for two lines
    fig.text(0.01, 0.01, provenance(result, lang), fontsize=6.5, color="0.35", va="bottom")


def _plain_log_ticks(axis) -> None:
    """Log-scale tick labels as plain numbers (2, 5, 10), not powers of ten."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 5)
        else ""))


def plot_bars(result: dict, lang: str, value: str = "seconds", cases_shown=None,
              implementations_shown=None, ax=None, title: str | None = None):
    """Horizontal bars: one group per case, one bar per implementation (its median
    ``value``; seconds in ms, on a log scale when they span more than a factor of 30).
    Without ``ax`` a new figure is drawn and signed with :func:`provenance`. Returns the axis."""
    import matplotlib.pyplot as plt
    import numpy as np

    if value not in VALUES:
        raise ValueError(f"value must be one of {list(VALUES)}, got {value!r}")
    axis_label, scale = VALUES[value]
    m = medians(result, value)
    shown = list(cases_shown or cases(result))
    unknown = [case for case in shown if case not in cases(result)]
    if unknown:
        raise ValueError(f"{result['benchmark']}: no case {unknown} (cases: {cases(result)})")
    names = [impl for impl in (implementations_shown or implementations(result))
             if any((case, impl) in m for case in shown)]
    signed = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.22 * len(shown) * len(names)))
    height = 0.8 / len(names)
    y = np.arange(len(shown))
    for i, impl in enumerate(names):
        widths = [scale * m.get((case, impl), np.nan) for case in shown]
        ax.barh(y + (i - (len(names) - 1) / 2) * height, widths, height,
                label=label(impl, lang), color=f"C{i}")
    ax.set_yticks(y, shown)
    ax.invert_yaxis()
    drawn = [m[key] for key in m if key[0] in shown and key[1] in names]
    log = value == "seconds" and max(drawn) > 30 * min(drawn)
    if log:  # bars then start at the axis' left end: read their right ends only
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    ax.set_xlabel(axis_label[lang] + ({"zh": "，对数坐标", "en": ", log scale"}[lang] if log else ""))
    _legend_outside(ax)
    if title is not None:
        ax.set_title(title)
    if signed:
        sign(ax.figure, result, lang)
    return ax


def _legend_outside(ax) -> None:
    """The legend right of the axes, clear of the bars."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def plot_ratios(result: dict, lang: str, denominator: str = "torch-cpu", ax=None,
                title: str | None = None):
    """Horizontal bars of each implementation's median time over ``denominator``'s, per case
    (log scale), and a vertical line at 1 for ``denominator`` itself: right of it is slower.
    Without ``ax`` a new figure is drawn and signed. Returns the axis."""
    import matplotlib.pyplot as plt
    import numpy as np

    others = [impl for impl in implementations(result) if impl != denominator]
    per_impl = {impl: ratios(result, impl, denominator) for impl in others}
    shown = cases(result)
    signed = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.25 * len(shown) * max(len(others), 1)))
    height = 0.8 / max(len(others), 1)
    y = np.arange(len(shown))
    ax.axvline(1, color="0.2", lw=1.2, label=label(denominator, lang) + " = 1")
    for i, impl in enumerate(others):
        widths = [per_impl[impl].get(case, np.nan) - 1 for case in shown]  # from 1: faster left
        ax.barh(y + (i - (len(others) - 1) / 2) * height, widths, height, left=1,
                label=label(impl, lang), color=f"C{i}")
    ax.set_yticks(y, shown)
    ax.invert_yaxis()
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel({"zh": f"时间 ÷ {label(denominator, lang)} 的时间（对数坐标）",
                   "en": f"time ÷ {label(denominator, lang)}'s time (log scale)"}[lang])
    _legend_outside(ax)
    if title is not None:
        ax.set_title(title)
    if signed:
        sign(ax.figure, result, lang)
    return ax
