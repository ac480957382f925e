"""The ``dlbook`` command (also ``python -m dlbook``).

    dlbook info                          versions, the torch device, where data and caches live
    dlbook list [--chapter N]            exercise ids with their titles
    dlbook starter ID                    the starter of an exercise (redirect it into solution.py)
    dlbook check ID FILE [--seed N]      check the function named like the starter in FILE

``--lang zh|en`` (default ``$DLBOOK_LANG``, else en) picks the language of titles and reports.
Exit status: 0 on success (``check``: the solution passed), 1 when ``check`` finds a mismatch
(or FILE itself raises), 2 for a bad call (unknown exercise, missing file or function).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import runpy
import sys
from pathlib import Path

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def info_lines() -> list[str]:
    """What ``dlbook info`` prints, one "name: value" per line."""
    import dlbook
    from dlbook.cache import cache_dir
    from dlbook.devices import best_device

    import numpy
    import sympy
    import torch

    lines = [f"dlbook: {dlbook.__version__} ({Path(dlbook.__file__).parent})",
             f"python: {platform.python_version()} ({sys.executable})",
             f"numpy: {numpy.__version__}",
             f"torch: {torch.__version__}",
             f"sympy: {sympy.__version__}"]
    device = best_device()
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    lines.append(f"torch device: {device}{name}")
    folder = cache_dir()
    source = "DLBOOK_CACHE_DIR" if os.environ.get("DLBOOK_CACHE_DIR") else "default"
    lines.append(f"result cache: {folder if folder is not None else 'off'} ({source})")
    try:
        from sklearn.datasets import get_data_home

        lines.append(f"scikit-learn data: {get_data_home()}")
    except ImportError:
        lines.append("scikit-learn data: scikit-learn is not installed")
    from dlbook import plotting

    find_font = getattr(plotting, "_installed_cjk_font", None)
    font = find_font() if find_font is not None else None
    lines.append(f"CJK font: {font or 'none (Chinese figure labels need one, e.g. fonts-wqy-microhei)'}")
    lines.append(f"exercise language: {os.environ.get('DLBOOK_LANG') or 'en'} (DLBOOK_LANG)")
    return lines


def _info(args) -> int:
    print("\n".join(info_lines()))
    return EXIT_PASSED


def _list(args) -> int:
    from dlbook import exercises

    try:
        rows = exercises.list_exercises(args.chapter)
    except ValueError as exc:
        print(f"dlbook list: {exc}", file=sys.stderr)
        return EXIT_USAGE
    width = max(len(e.id) for e in rows)
    for e in rows:
        tag = f"chapter {e.chapter}" if args.lang == "en" else f"第 {e.chapter} 章  "
        print(f"{tag}  {e.id:<{width}}  {e.title[args.lang]}")
    return EXIT_PASSED


def _starter(args) -> int:
    from dlbook import exercises

    print(exercises.starter(args.id, lang=args.lang), end="")
    return EXIT_PASSED


_MESSAGES = {
    "no_file": {"en": "dlbook check: no such file: {path}", "zh": "dlbook check：没有这个文件：{path}"},
    "load_error": {"en": "dlbook check: running {path} raised {error}",
                   "zh": "dlbook check：运行 {path} 时抛出了 {error}"},
    "no_function": {"en": "dlbook check: {path} defines no function {name}(...); it defines: {found}",
                    "zh": "dlbook check：{path} 中没有定义函数 {name}(...)；它定义了：{found}"},
}


def _check(args) -> int:
    from dlbook import exercises

    exercise = exercises.get(args.id)
    path = Path(args.file)
    say = lambda key, **kw: print(_MESSAGES[key][args.lang].format(**kw), file=sys.stderr)  # noqa: E731
    if not path.is_file():
        say("no_file", path=path)
        return EXIT_USAGE
    sys.path.insert(0, str(path.resolve().parent))  # the solution may import its neighbours
    try:
        namespace = runpy.run_path(str(path), run_name="__dlbook_solution__")
    except Exception as exc:  # noqa: BLE001 - the reader's file is reported, not raised
        say("load_error", path=path, error=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        sys.path.pop(0)
    solution = namespace.get(exercise.id)
    if not callable(solution):
        found = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("_")
                       and getattr(v, "__module__", None) == "__dlbook_solution__")
        say("no_function", path=path, name=exercise.id, found=", ".join(found) or "-")
        return EXIT_USAGE
    result = exercises.check(args.id, solution, lang=args.lang, seed=args.seed)
    return EXIT_PASSED if result.passed else EXIT_FAILED


def _lang(value: str) -> str:
    if value not in ("zh", "en"):
        raise argparse.ArgumentTypeError(f"choose zh or en, not {value!r}")
    return value


def parser() -> argparse.ArgumentParser:
    default_lang = os.environ.get("DLBOOK_LANG") or "en"
    p = argparse.ArgumentParser(prog="dlbook", description="dlbook: the package behind the executable "
                                "bilingual deep-learning book.")
    p.add_argument("--version", action="version", version=f"dlbook {_version('dlbook')}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{info,list,starter,check}")
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument("--lang", type=_lang, default=default_lang,
                      help="zh or en (default: $DLBOOK_LANG, else en)")

    sub.add_parser("info", help="versions, the torch device, where data and caches live").set_defaults(run=_info)
    listing = sub.add_parser("list", parents=[lang], help="exercise ids with their titles")
    listing.add_argument("--chapter", type=int, default=None, help="only this chapter's exercises")
    listing.set_defaults(run=_list)
    starter = sub.add_parser("starter", parents=[lang], help="print an exercise's starter")
    starter.add_argument("id", help="exercise id (see dlbook list)")
    starter.set_defaults(run=_starter)
    check = sub.add_parser("check", parents=[lang], help="check your solution: exit 0 on pass, 1 on fail")
    check.add_argument("id", help="exercise id (see dlbook list)")
    check.add_argument("file", help="a Python file that defines a function named like the id")
    check.add_argument("--seed", type=int, default=0, help="seed of the random cases (default 0)")
    check.set_defaults(run=_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from dlbook.exercises import UnknownExerciseError

    try:
        return args.run(args)
    except UnknownExerciseError as exc:
        print(f"dlbook {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
