"""Checkable exercises: write a function, and the checker tells you where it goes wrong.

    >>> from dlbook import exercises
    >>> print(exercises.starter("conv2d_forward"))       # the signature to implement
    >>> result = exercises.check("conv2d_forward", my_conv2d_forward, lang="zh")
    >>> result.passed, result.slip                        # also printed: result.message

or on the command line, with a file that defines a function of the starter's name::

    dlbook check conv2d_forward solution.py      # exit status 0 on pass, 1 on fail
    dlbook list                                  # every exercise id with its title

:func:`check` runs the reader's function on seeded random cases (edge cases included: a single
sample, a stride larger than the kernel, float32), compares each result with the reference
solution (normwise relative error from :func:`dlbook.check.rel_error`, atol 0; 1e-10 for
float64, 1e-5 for float32) and stops at the first mismatch. Its report, in Chinese or English
(``lang``, default ``$DLBOOK_LANG``, else English), names the input (shapes and parameters),
the output element, expected against got, and the likely slip: the reader's output is compared
with wrong variants of the reference (off-by-one padding, a transposed weight, a missing bias
gradient, a mean where a sum belongs, a softmax without the max shift, ...) and with generic
patterns (transposed, a sign, a constant factor, nan/inf, dtype). An exception raised by the
reader's code is reported with the case that raised it, not re-raised.

How a chapter adds an exercise
------------------------------
1. In the chapter's module here (``basics``, ``backprop``, ``components``, ``cnn``,
   ``classic``, ``recurrent``, ``word2vec``, ``practice``, ``gan``: named like ``dlbook/experiments``;
   a new chapter adds a module and lists it in ``_CHAPTERS`` below),
   write ``reference_<id>(...)``: the starter's signature (parameter names and defaults are
   taken from it), its body a call into the library (``dlbook.nn.functional``,
   ``dlbook.cnn_shapes``, ...) so that no logic is written twice. The id is the function name
   the reader writes.
2. Write ``_cases_<id>(rng)`` returning a list of :class:`Case`: ``args`` names every parameter,
   in order; draw all randomness from ``rng`` (the check is reproducible from its seed). Put a
   plain case first, where the typical slips still run (a square weight, so that a transposed
   one does not just raise), then the edge cases, each with a ``note`` in zh and en.
3. List the typical slips as :class:`Slip` (key, hint in zh and en, ``variants``: wrong
   solutions with the starter's signature, written on top of the reference; or ``detect`` for
   a slip no single variant captures). Order matters: the first match names the slip.
4. Add an :class:`Exercise` (id, chapter, title and statement in zh and en, reference, cases,
   ``outputs``: the names of what it returns, slips) to the module's ``EXERCISES``.
5. In ``tests/test_exercises.py``: check the reference against torch (or another independent
   computation) on the exercise's cases, and add a wrong solution written as a reader would
   (loops, not the variant) for each slip that matters, with the hint it must get in both
   languages (``WRONG``). ``test_every_exercise_has_a_wrong_solution`` fails until you do.
6. On the chapter page's last section (both languages, identical cells): the statement, a cell
   that prints ``exercises.starter(id, lang=LANG)``, a cell that checks the reference
   (``assert result.passed``) and one typical wrong solution
   (``assert not wrong.passed and wrong.slip == "..."``), then a hint (``:::{dropdown}``) and a
   worked solution (a ``:tags: [hide-input]`` code cell that checks itself).
"""

from __future__ import annotations

from typing import Callable

from . import backprop, basics, classic, cnn, components, gan, practice, recurrent, word2vec
from .core import LANG_ENV, LANGS, Case, CheckResult, Exercise, Slip, UnknownExerciseError, run_check

_CHAPTERS = (basics, backprop, components, cnn, classic, recurrent, word2vec, practice, gan)


def _registry() -> dict[str, Exercise]:
    registry: dict[str, Exercise] = {}
    for module in _CHAPTERS:
        for exercise in module.EXERCISES:
            if exercise.id in registry:
                raise ValueError(f"exercise id {exercise.id!r} is defined twice")
            registry[exercise.id] = exercise
    return registry


#: every exercise by id, in chapter order
EXERCISES: dict[str, Exercise] = _registry()


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; :class:`UnknownExerciseError` lists the known ids."""
    if not isinstance(exercise_id, str):
        raise TypeError(f"an exercise id is a string, got {type(exercise_id).__name__}")
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(exercise_id, EXERCISES, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownExerciseError(f"no exercise {exercise_id!r}.{guess} Known ids: "
                                   f"{', '.join(EXERCISES)}") from None


def list_exercises(chapter: int | None = None) -> list[Exercise]:
    """Every exercise, or those of one chapter, in the book's order."""
    chapters = {e.chapter for e in EXERCISES.values()}
    if chapter is not None and chapter not in chapters:
        raise ValueError(f"no exercises for chapter {chapter!r}; chapters with exercises: {sorted(chapters)}")
    return [e for e in EXERCISES.values() if chapter is None or e.chapter == chapter]


def check(exercise_id: str, solution: Callable, *, lang: str | None = None, seed: int = 0,
          show: bool = True) -> CheckResult:
    """Check ``solution`` (a function with the starter's signature) against the reference.

    Returns a :class:`CheckResult` (``passed``, ``message``, ``slip``, ``failed_case``, ``error``)
    and prints the message unless ``show=False``. ``lang`` is "zh" or "en" (default
    ``$DLBOOK_LANG``, else "en"); ``seed`` fixes the random cases, so a report is reproducible.
    """
    return run_check(get(exercise_id), solution, lang=lang, seed=seed, show=show)


def starter(exercise_id: str, lang: str | None = None) -> str:
    """Source of the starter: signature, statement (in ``lang``), ``raise NotImplementedError``."""
    return get(exercise_id).starter(lang)


def reference(exercise_id: str) -> Callable:
    """The reference solution (it calls dlbook's library), with the starter's signature."""
    return get(exercise_id).reference


__all__ = ["EXERCISES", "LANGS", "LANG_ENV", "Case", "CheckResult", "Exercise", "Slip",
           "UnknownExerciseError", "check", "get", "list_exercises", "reference", "starter"]
