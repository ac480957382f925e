"""Run the four benchmarks and write the results the performance appendix plots.

    python scripts/benchmarks.py [--quick] [--only conv layers lstm word2vec] [--out DIR]
                                 [--threads N] [--clock wall|cpu]

Writes ``book/data/benchmarks/<name>.json`` for conv, layers, lstm and word2vec (see
``benchtools.write_json``; read by :mod:`dlbook.benchmarks`), each with the machine, the
date and the library versions. The layer benchmarks run on one thread and time this
process's CPU time (``--threads 1 --clock cpu``): steady on a machine shared with other
work. word2vec keeps its own setting (2 workers each for dlbook and gensim, wall clock,
runs alternating). With CUDA the torch rows are also timed on the GPU.

``--quick`` is a smoke run (few repeats, small sizes, one word2vec epoch) that writes to a
temporary folder unless ``--out`` is given: its numbers are not for the book.
The full run takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

SCRIPTS = pathlib.Path(__file__).resolve().parent
RESULTS = SCRIPTS.parent / "book" / "data" / "benchmarks"

#: name: (script, arguments of the full run, arguments of the quick run)
BENCHMARKS = {
    "conv": ("bench_conv.py", ["--repeats", "50"], ["--repeats", "2"]),
    "layers": ("bench_layers.py", ["--repeats", "30"], ["--repeats", "2"]),
    "lstm": ("bench_lstm.py", ["--repeats", "20"],
             ["--repeats", "2", "--seq", "8", "--batch", "4", "--input", "16", "--hidden", "16"]),
    "word2vec": ("bench_word2vec.py", ["--repeats", "3", "--threads", "2"],
                 ["--repeats", "1", "--epochs", "1", "--threads", "2"]),
}
#: the benchmarks that take --threads and --clock
LAYER_BENCHMARKS = ("conv", "layers", "lstm")


def command(name: str, out: pathlib.Path, quick: bool, threads: int, clock: str) -> list[str]:
    """The command line that runs benchmark ``name`` and writes ``out/<name>.json``."""
    script, full, smoke = BENCHMARKS[name]
    args = [sys.executable, str(SCRIPTS / script), *(smoke if quick else full),
            "--json", str(out / f"{name}.json")]
    if name in LAYER_BENCHMARKS:
        args += ["--threads", str(threads), "--clock", clock]
    return args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: few repeats, small sizes (written to a temporary folder)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help=f"folder for the JSON files (default: {RESULTS.relative_to(SCRIPTS.parent)}"
                             ", or a temporary folder with --quick)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of the layer benchmarks (default 1)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="cpu",
                        help="clock of the layer benchmarks (default: this process's CPU time)")
    args = parser.parse_args(argv)
    out = args.out or (pathlib.Path(tempfile.mkdtemp(prefix="dlbook-bench-")) if args.quick
                       else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for step, name in enumerate(args.only, 1):
        cmd = command(name, out, args.quick, args.threads, args.clock)
        print(f"[{step}/{len(args.only)}] {name}: {' '.join(cmd[1:])}", flush=True)
        began = time.perf_counter()
        subprocess.run(cmd, cwd=SCRIPTS, check=True)
        print(f"[{step}/{len(args.only)}] {name} done in {time.perf_counter() - began:.0f} s "
              f"({time.perf_counter() - start:.0f} s in all)\n", flush=True)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
