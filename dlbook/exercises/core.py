"""The machinery behind :mod:`dlbook.exercises`: exercises, cases, slips, the checker and its report.

An :class:`Exercise` pairs a reference solution (with the starter's signature) with a list of
seeded :class:`Case`\\ s and the :class:`Slip`\\ s readers typically make. :func:`run_check` calls
the reader's function on each case, compares with the reference (normwise relative error,
``rel_error``, with atol 0) and, on the first mismatch, explains it in the reader's language:
the case, the output element, expected against got, and the likely slip, found by comparing the
reader's output with each slip's wrong variant.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import os
import re
import traceback
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..check import DEFAULT_RTOL, rel_error

LANGS = ("zh", "en")
#: environment variable that sets the default language of the reports
LANG_ENV = "DLBOOK_LANG"
_HERE = str(Path(__file__).resolve().parent)


class UnknownExerciseError(LookupError):
    """An exercise id that is not registered; the message lists the known ids."""


def resolve_lang(lang: str | None = None) -> str:
    """``lang``, else ``$DLBOOK_LANG``, else "en"; raises ValueError for anything but "zh"/"en"."""
    if lang is None:
        lang = os.environ.get(LANG_ENV) or "en"
        if lang not in LANGS:
            raise ValueError(f"{LANG_ENV}={lang!r}: the language must be one of {LANGS}")
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return lang


def _text(value, name: str) -> dict:
    if not isinstance(value, dict) or set(value) != set(LANGS) or not all(
            isinstance(v, str) and v.strip() for v in value.values()):
        raise ValueError(f"{name} must be a dict with non-empty 'zh' and 'en' strings, got {value!r}")
    return value


@dataclass(frozen=True)
class Case:
    """One input: ``args`` maps each parameter of the starter to its value, in the starter's
    order; ``note`` ({"zh", "en"}, optional) says what is special about it (an edge case)."""

    args: dict
    note: dict | None = None


@dataclass(frozen=True)
class Slip:
    """A typical mistake and the hint that names it.

    ``variants`` are wrong solutions with the starter's signature; the reader's output (or the
    output that differs first) equal to a variant's means this slip. ``detect(args, got,
    expected) -> bool`` recognizes a slip that no single variant captures (e.g. any overflow
    on large scores).
    """

    key: str
    hint: dict
    variants: tuple = ()
    detect: Callable | None = None

    def __post_init__(self):
        _text(self.hint, f"slip {self.key!r}: hint")
        if not self.variants and self.detect is None:
            raise ValueError(f"slip {self.key!r} needs variants or a detect function")


@dataclass(frozen=True)
class Exercise:
    """A checkable exercise. ``reference`` has the starter's signature (its parameter names and
    defaults become the starter's); ``cases(rng)`` returns the cases for one seed;
    ``outputs`` names what the function returns (several names: a tuple in that order)."""

    id: str
    chapter: int
    title: dict
    statement: dict
    reference: Callable
    cases: Callable[[np.random.Generator], list]
    outputs: tuple = ("output",)
    slips: tuple = ()

    def __post_init__(self):
        _text(self.title, f"exercise {self.id!r}: title")
        _text(self.statement, f"exercise {self.id!r}: statement")
        if not self.id.isidentifier():
            raise ValueError(f"an exercise id is the starter's function name, got {self.id!r}")
        keys = [s.key for s in self.slips]
        if len(set(keys)) != len(keys):
            raise ValueError(f"exercise {self.id!r}: slip keys repeat: {keys}")

    @property
    def parameters(self) -> list[str]:
        return list(inspect.signature(self.reference).parameters)

    def signature(self) -> str:
        """``conv2d_forward(x, weight, bias, stride=1, padding=0)``."""
        return f"{self.id}{inspect.signature(self.reference)}"

    def make_cases(self, seed: int = 0) -> list[Case]:
        """The cases of one check, reproducible from ``seed``; each names every parameter."""
        cases = list(self.cases(np.random.default_rng(seed)))
        for case in cases:
            if list(case.args) != self.parameters:
                raise ValueError(f"exercise {self.id!r}: a case names {list(case.args)}, "
                                 f"the starter takes {self.parameters}")
        return cases

    def starter(self, lang: str | None = None) -> str:
        """The starter: the signature, the statement as docstring, ``raise NotImplementedError``."""
        lang = resolve_lang(lang)
        body = "\n".join(("    " + line).rstrip() for line in self.statement[lang].strip().splitlines())
        check = {"en": "Check it: ", "zh": "检查："}[lang]
        return (f"def {self.signature()}:\n    \"\"\"{body.lstrip()}\n\n"
                f"    {check}dlbook.exercises.check(\"{self.id}\", {self.id})\n    \"\"\"\n"
                f"    raise NotImplementedError\n")


@dataclass(frozen=True)
class CheckResult:
    """What :func:`dlbook.exercises.check` found. ``message`` is the report (wrapped to 88
    columns); ``slip`` is the key of the recognized slip (an exercise's own, or one of the
    generic "transposed", "sign", "factor", "nonfinite", "dtype"), None when passed or
    unrecognized, and ``hint`` its text in ``lang``, unwrapped; ``error`` is the exception the
    solution raised ("ValueError: ..."), with ``failed_case`` the case that raised it."""

    exercise: str
    passed: bool
    message: str
    passed_cases: int
    total_cases: int
    failed_case: int | None = None
    slip: str | None = None
    hint: str | None = None
    error: str | None = None
    lang: str = "en"
    seed: int = 0

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"failed on case {self.failed_case}"
        return f"CheckResult({self.exercise}: {state}, {self.passed_cases}/{self.total_cases} cases)"


# -- report texts -------------------------------------------------------------------------
_T = {
    "pass": {"en": "{id}: all {n} cases passed (seed {seed}).",
             "zh": "{id}：{n} 个用例全部通过（种子 {seed}）。"},
    "fail": {"en": "{id}: case {i} of {n} fails.",
             "zh": "{id}：第 {i} 个用例（共 {n} 个）不通过。"},
    "raised": {"en": "{id}: case {i} of {n} raised {error}",
               "zh": "{id}：第 {i} 个用例（共 {n} 个）抛出了 {error}"},
    "todo": {"en": "{id}: not implemented yet: your function raised NotImplementedError on case 1. "
                   "Replace the starter's `raise NotImplementedError` with your code.",
             "zh": "{id}：还没有实现：你的函数在第 1 个用例上抛出了 NotImplementedError。"
                   "把起始代码里的 `raise NotImplementedError` 换成你的实现。"},
    "signature": {"en": "{id}: your function cannot be called as {signature}: {error}",
                  "zh": "{id}：你的函数不能按 {signature} 的方式调用：{error}"},
    "input": {"en": "  input: {desc}", "zh": "  输入：{desc}"},
    "note": {"en": " ({note})", "zh": "（{note}）"},
    "where": {"en": "  at {file}, line {line}{code}", "zh": "  出错位置：{file} 第 {line} 行{code}"},
    "count": {"en": "  expected {k} outputs ({names}), got {what}. Return them as a tuple: "
                    "return {names}.",
              "zh": "  应返回 {k} 个结果（{names}），实际返回了 {what}。以元组返回：return {names}。"},
    "type": {"en": "  {name}: expected {want}, got {what}.", "zh": "  {name}：应为{want}，实际是 {what}。"},
    "shape": {"en": "  {name}: expected shape {want}, got shape {got}.",
              "zh": "  {name}：形状应为 {want}，实际是 {got}。"},
    "dtype": {"en": "  {name}: expected dtype {want}, got {got}.",
              "zh": "  {name}：dtype 应为 {want}，实际是 {got}。"},
    "element": {"en": "  {name}{index}: expected {want}, got {got} ({bad} of {total} elements differ; "
                      "relative error {rel} > {rtol}).",
                "zh": "  {name}{index}：应为 {want}，实际是 {got}（{total} 个元素中有 {bad} 个不一致；"
                      "相对误差 {rel} > {rtol}）。"},
    "scalar": {"en": "  {name}: expected {want}, got {got} (relative error {rel} > {rtol}).",
               "zh": "  {name}：应为 {want}，实际是 {got}（相对误差 {rel} > {rtol}）。"},
    "integer": {"en": "  {name}: expected {want}, got {got}.", "zh": "  {name}：应为 {want}，实际是 {got}。"},
    "slip": {"en": "  Likely slip: {hint}", "zh": "  可能的错误：{hint}"},
    "unknown": {"en": "  No typical slip recognized: work out this element by hand for this input.",
                "zh": "  没有识别出常见错误：对这个输入手算一下这个元素。"},
    "unknown_shape": {"en": "  No typical slip recognized: work out the output's shape by hand for this input.",
                      "zh": "  没有识别出常见错误：对这个输入手算一下输出的形状。"},
    "an_int": {"en": "an int", "zh": "整数"},
    "a_scalar": {"en": "a number", "zh": "一个数"},
    "an_array": {"en": "an array of shape {shape}", "zh": "形状为 {shape} 的数组"},
    "one_value": {"en": "one value ({what})", "zh": "一个值（{what}）"},
    "n_values": {"en": "{k} values", "zh": "{k} 个值"},
}

GENERIC_HINTS = {
    "transposed": {"en": "your {name} is the transpose of the expected one: check which axis is which.",
                   "zh": "你的 {name} 是正确结果的转置：检查每个轴各代表什么。"},
    "sign": {"en": "your {name} has the wrong sign.", "zh": "你的 {name} 符号反了。"},
    "factor": {"en": "your {name} is {k} times the expected one: a normalization is missing or extra "
                     "(a sum where a mean belongs, or the other way round?).",
               "zh": "你的 {name} 是正确结果的 {k} 倍：是不是少了或多了一次归一化"
                     "（该求平均的地方求了和，或者反过来）？"},
    "nonfinite": {"en": "your {name} holds nan or inf where the expected values are finite: an overflow "
                        "(exp of a large number) or a division by zero?",
                  "zh": "你的 {name} 在应为有限值的地方出现了 nan 或 inf：是不是溢出（对很大的数取 exp）"
                        "或者除以了零？"},
    "dtype": {"en": "{name} should keep the input's dtype {want}: np.zeros(shape) and np.empty(shape) "
                    "are float64 unless you pass dtype=x.dtype.",
              "zh": "{name} 应保持输入的 dtype {want}：np.zeros(shape) 和 np.empty(shape) 默认是 "
                    "float64，除非传入 dtype=x.dtype。"},
}


def _say(key: str, lang: str, **fields) -> str:
    return _T[key][lang].format(**fields)


_CJK = "\u2e80-\u9fff"
_OPEN = "（《「『【〔“‘"
_CLOSE = "\u3000-\u303f\uff00-\uffef" + "”’"
#: one CJK character or a run of other non-space characters, with the opening punctuation
#: before it and the closing punctuation after it (a line never starts with "，" nor ends
#: with "（"), or a run of spaces
_CLOSING = rf"(?:(?![{_OPEN}])[{_CLOSE}])*"
_TOKEN = re.compile(rf"[{_OPEN}]*(?:[{_CJK}]|[^\s{_CJK}{_CLOSE}{_OPEN}]+)?{_CLOSING}|\s+")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(line: str, width: int = 88) -> str:
    """Wrap one report line to ``width`` columns (a CJK character counts two), continuing
    four spaces further in; breaks at spaces and between CJK characters."""
    first = len(line) - len(line.lstrip(" "))
    rows, row = [], ""
    for token in filter(None, _TOKEN.findall(line[first:])):
        room = width - first - (4 if rows else 0)
        if row and not token.isspace() and _width(row) + _width(token) > room:
            rows.append(row.rstrip())
            row = ""
        if not (token.isspace() and not row):
            row += token
    rows.append(row.rstrip())
    return "\n".join(" " * (first + (4 if i else 0)) + r for i, r in enumerate(rows))


def _number(v) -> str:
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return str(int(v))
    return f"{float(v) + 0.0:.7g}"  # + 0.0: no "-0"


def describe(args: dict, lang: str = "en") -> str:
    """``x (2, 3, 7, 7) float64, stride=2, padding=1``: shapes, dtypes and parameters."""
    parts = []
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {value.shape} {value.dtype}")
        elif isinstance(value, float):
            parts.append(f"{name}={value:g}")
        else:
            parts.append(f"{name}={value!r}")
    return ("，" if lang == "zh" else ", ").join(parts)


# -- comparing outputs ----------------------------------------------------------------------
@dataclass
class _Mismatch:
    kind: str            # "count", "type", "shape", "value", "dtype"
    lines: list          # report lines (already in the reader's language)
    position: int | None = None   # which output differs (None: the structure)
    name: str = "output"


def _rtol(expected) -> float:
    return DEFAULT_RTOL.get(np.asarray(expected).dtype, 1e-10)


def _is_int(v) -> bool:
    """A Python or NumPy integer (a 0-d integer array too), not a bool."""
    if isinstance(v, np.ndarray):
        return v.ndim == 0 and v.dtype.kind in "iu"
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _as_numeric(v):
    """``v`` as a numeric ndarray, or None (None, strings, objects, ragged lists)."""
    if v is None or isinstance(v, (str, bytes, dict)):
        return None
    try:
        a = np.asarray(v)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        return None
    return a if a.dtype.kind in "biuf" else None


def _values_close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    """Same shape, nan/inf in the same places, finite parts within ``rtol`` (normwise, atol 0)."""
    if got.shape != want.shape:
        return False
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not (np.array_equal(np.isnan(g), np.isnan(w))
            and np.array_equal(np.where(np.isinf(g), g, 0), np.where(np.isinf(w), w, 0))):
        return False
    finite = np.isfinite(w)
    return bool(rel_error(g[finite], w[finite]) <= rtol)


def _same(got, want, rtol: float) -> bool:
    """Whether two outputs (tuples, None, ints, numbers, arrays) agree."""
    if isinstance(want, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(want)
                and all(_same(g, w, rtol) for g, w in zip(got, want)))
    if want is None or got is None:
        return want is None and got is None
    if _is_int(want) or _is_int(got):
        return _is_int(want) and _is_int(got) and int(want) == int(got)
    g, w = _as_numeric(got), _as_numeric(want)
    return g is not None and w is not None and _values_close(g, w, rtol)


def _what(v, lang: str) -> str:
    if v is None:
        return "None"
    a = _as_numeric(v)
    if a is None:
        return type(v).__name__
    return f"{type(v).__name__} {a.shape}" if a.ndim else f"{type(v).__name__} {a.item()!r}"


def _compare_one(got, want, name: str, lang: str) -> _Mismatch | None:
    if _is_int(want):
        if not _is_int(got):
            return _Mismatch("type", [_say("type", lang, name=name, want=_say("an_int", lang),
                                           what=_what(got, lang))], name=name)
        if int(got) != int(want):
            return _Mismatch("value", [_say("integer", lang, name=name, want=int(want), got=int(got))],
                             name=name)
        return None
    w = np.asarray(want)
    g = _as_numeric(got)
    if g is None:
        expect = _say("an_array", lang, shape=w.shape) if w.ndim else _say("a_scalar", lang)
        return _Mismatch("type", [_say("type", lang, name=name, want=expect, what=_what(got, lang))],
                         name=name)
    if g.shape != w.shape:
        return _Mismatch("shape", [_say("shape", lang, name=name, want=w.shape, got=g.shape)], name=name)
    rtol = _rtol(w)
    if not _values_close(g, w, rtol):
        gf, wf = g.astype(np.float64), w.astype(np.float64)
        finite = np.isfinite(gf)
        scale = max(float(np.max(np.abs(gf[finite]), initial=0)), float(np.max(np.abs(wf), initial=0)))
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(gf - wf) <= rtol * scale)
        rel = rel_error(gf, wf) if finite.all() else math.inf
        fields = dict(name=name, rel=f"{rel:.1e}", rtol=f"{rtol:.0e}")
        if w.ndim:
            first = np.unravel_index(int(np.argmax(bad)), w.shape)  # the first bad element
            line = _say("element", lang, index=[int(i) for i in first], want=_number(wf[first]),
                        got=_number(gf[first]), bad=int(bad.sum()), total=w.size, **fields)
        else:
            line = _say("scalar", lang, want=_number(wf), got=_number(gf), **fields)
        return _Mismatch("value", [line], name=name)
    if w.ndim and w.dtype.kind == "f" and g.dtype != w.dtype:
        return _Mismatch("dtype", [_say("dtype", lang, name=name, want=w.dtype, got=g.dtype)], name=name)
    return None


def compare(got, want, outputs: tuple, lang: str) -> _Mismatch | None:
    """The first difference between the reader's output and the reference's, or None."""
    if len(outputs) == 1:
        return _compare_one(got, want, outputs[0], lang)
    if not isinstance(got, (tuple, list)) or len(got) != len(outputs):
        what = (_say("n_values", lang, k=len(got)) if isinstance(got, (tuple, list))
                else _say("one_value", lang, what=_what(got, lang)))
        return _Mismatch("count", [_say("count", lang, k=len(outputs), names=", ".join(outputs), what=what)])
    for position, (g, w, name) in enumerate(zip(got, want, outputs)):
        mismatch = _compare_one(g, w, name, lang)
        if mismatch is not None:
            mismatch.position = position
            return mismatch
    return None


# -- diagnosing a mismatch ------------------------------------------------------------------
_FAILED = object()


def _call(fn, args: dict):
    """``fn`` on a deep copy of the arguments, positionally; _FAILED if it raises."""
    try:
        with np.errstate(all="ignore"):
            return fn(*copy.deepcopy(list(args.values())))
    except Exception:  # noqa: BLE001 - a variant that does not apply to this case
        return _FAILED


def _generic(got, want, name: str, lang: str) -> tuple[str, str] | None:
    """(key, hint) from the output alone: transposed, nan/inf, a sign, a constant factor."""
    if _is_int(want) or got is None:
        return None
    g, w = _as_numeric(got), np.asarray(want, dtype=np.float64)
    if g is None:
        return None
    g = g.astype(np.float64)
    rtol = max(_rtol(want), 1e-12)
    if w.ndim >= 2 and g.shape == w.swapaxes(-1, -2).shape and _values_close(g, w.swapaxes(-1, -2), rtol):
        return "transposed", GENERIC_HINTS["transposed"][lang].format(name=name)
    if g.shape != w.shape:
        return None
    if not np.isfinite(g).all() and np.isfinite(w).all():
        return "nonfinite", GENERIC_HINTS["nonfinite"][lang].format(name=name)
    norm = float(np.sum(w * w))
    if norm > 0 and np.isfinite(g).all():
        k = float(np.sum(g * w)) / norm
        if not math.isclose(k, 1.0, rel_tol=1e-9) and _values_close(g, k * w, rtol):
            if math.isclose(k, -1.0, rel_tol=1e-9):
                return "sign", GENERIC_HINTS["sign"][lang].format(name=name)
            shown = f"{k:.6g}" if abs(k - 1) > 1e-5 else f"{k:.10g}"  # not "1 times"
            return "factor", GENERIC_HINTS["factor"][lang].format(name=name, k=shown)
    return None


def diagnose(exercise: Exercise, cases: list, index: int, solution, got, want, mismatch: _Mismatch,
             lang: str):
    """(key, hint) of the likely slip on ``cases[index]``, or None.

    A slip matches when one of its variants gives the reader's output (or, with several outputs,
    the output that differs first). When several slips match this case (an int output often
    cannot tell them apart), the one that also agrees with the reader on most other cases wins.
    """
    case = cases[index]
    if mismatch.kind == "dtype":
        w = np.asarray(want[mismatch.position] if mismatch.position is not None else want)
        return "dtype", GENERIC_HINTS["dtype"][lang].format(name=mismatch.name, want=w.dtype)
    rtol = _rtol(want if len(exercise.outputs) == 1 else next(
        (w for w in want if not _is_int(w)), 0.0))
    for slip in exercise.slips:
        if slip.detect is not None:
            try:
                with np.errstate(all="ignore"):
                    if slip.detect(case.args, got, want):
                        return slip.key, slip.hint[lang]
            except Exception:  # noqa: BLE001 - a detector that does not apply
                pass
    outputs = {v: _call(v, case.args) for slip in exercise.slips for v in slip.variants}

    def matches(part) -> list:
        """Slips with a variant whose output (or its ``part``-th output) equals the reader's."""
        found = []
        for slip in exercise.slips:
            for variant in slip.variants:
                out = outputs[variant]
                if part is not None:
                    if not (isinstance(out, (tuple, list)) and len(out) > part):
                        continue
                    out, mine = out[part], got[part]
                else:
                    mine = got
                if out is not _FAILED and _same(mine, out, rtol):
                    found.append((slip, variant))
                    break
        return found

    candidates = matches(None) or (matches(mismatch.position) if mismatch.position is not None else [])
    if len(candidates) > 1:
        others = [c for j, c in enumerate(cases) if j != index]
        theirs = [_call(solution, c.args) for c in others]

        def agreement(candidate) -> int:
            return sum(1 for c, mine in zip(others, theirs)
                       if mine is not _FAILED and _same(mine, _call(candidate[1], c.args), rtol))
        candidates = [max(candidates, key=agreement)]  # ties: the first listed
    if candidates:
        slip = candidates[0][0]
        return slip.key, slip.hint[lang]
    if mismatch.kind == "count":
        return None
    if mismatch.position is not None:
        i = mismatch.position
        return _generic(got[i], want[i], mismatch.name, lang)
    return _generic(got, want, mismatch.name, lang)


# -- the check --------------------------------------------------------------------------------
def _location(exc: BaseException, solution) -> tuple[str, int, str] | None:
    """(file, line, code) of the frame in the reader's code where the error happened."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HERE)]
    if not frames:
        return None
    own = getattr(getattr(solution, "__code__", None), "co_filename", None)
    mine = [f for f in frames if f.filename == own]
    frame = (mine or frames)[-1]
    return Path(frame.filename).name, frame.lineno, (frame.line or "").strip()


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_check(exercise: Exercise, solution, lang: str | None = None, seed: int = 0,
              show: bool = True) -> CheckResult:
    """Run ``solution`` on every case of ``exercise``; stop at the first mismatch and explain it."""
    lang = resolve_lang(lang)
    if not callable(solution):
        raise TypeError(f"check expects your function, e.g. check({exercise.id!r}, {exercise.id}); "
                        f"got {type(solution).__name__}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    cases = exercise.make_cases(seed)
    n = len(cases)

    def finish(passed_cases: int, lines: list, **kw) -> CheckResult:
        result = CheckResult(exercise.id, kw.get("failed_case") is None, "\n".join(map(wrap, lines)),
                             passed_cases, n, lang=lang, seed=seed, **kw)
        if show:
            print(result.message)
        return result

    try:
        signature = inspect.signature(solution)
    except (TypeError, ValueError):  # builtins and some callables have none
        signature = None
    if signature is not None:
        try:
            signature.bind(*cases[0].args.values())
        except TypeError as exc:
            line = _say("signature", lang, id=exercise.id, signature=exercise.signature(), error=exc)
            return finish(0, [line], failed_case=1, error=f"TypeError: {exc}")

    for i, case in enumerate(cases, 1):
        want = _call(exercise.reference, case.args)
        if want is _FAILED:  # a broken reference is dlbook's bug, not the reader's: raise it
            exercise.reference(*copy.deepcopy(list(case.args.values())))
        note = _say("note", lang, note=case.note[lang]) if case.note else ""
        inputs = _say("input", lang, desc=describe(case.args, lang)) + note
        try:
            with np.errstate(all="ignore"):
                got = solution(*copy.deepcopy(list(case.args.values())))
        except Exception as exc:  # noqa: BLE001 - the reader's error is reported, not raised
            error = _error_text(exc)
            if isinstance(exc, NotImplementedError) and i == 1:
                return finish(0, [_say("todo", lang, id=exercise.id)], failed_case=1, error=error)
            lines = [_say("raised", lang, id=exercise.id, i=i, n=n, error=error), inputs]
            where = _location(exc, solution)
            if where:
                code = (": " if lang == "en" else "：") + where[2] if where[2] else ""
                lines.append(_say("where", lang, file=where[0], line=where[1], code=code))
            return finish(i - 1, lines, failed_case=i, error=error)
        mismatch = compare(got, want, exercise.outputs, lang)
        if mismatch is None:
            continue
        lines = [_say("fail", lang, id=exercise.id, i=i, n=n), inputs, *mismatch.lines]
        found = diagnose(exercise, cases, i - 1, solution, got, want, mismatch, lang)
        if found:
            lines.append(_say("slip", lang, hint=found[1]))
        elif mismatch.kind in ("shape", "value"):
            lines.append(_say("unknown_shape" if mismatch.kind == "shape" else "unknown", lang))
        return finish(i - 1, lines, failed_case=i, slip=found[0] if found else None,
                      hint=found[1] if found else None)
    return finish(n, [_say("pass", lang, id=exercise.id, n=n, seed=seed)])
