"""How fast is dlbook's word2vec? Against gensim's, same corpus, settings and threads.

    python scripts/bench_word2vec.py [--repeats 3] [--threads 2] [--epochs 15] [--cbow]
                                     [--batch-size N] [--no-gpu] [--json PATH]

Workload (issue 13): gensim's Wikipedia excerpt (106 articles, 452,944 tokens), skip-gram (or
CBOW) with negative sampling, 100 dimensions, window 5, 5 negatives, min_count 5, sample 1e-3,
15 epochs. dlbook (:func:`dlbook.models.word2vec.train_word2vec`) runs on the CPU with
``--threads`` workers (torch's own threads at 1), gensim with as many ``workers``; then dlbook on
the GPU when there is one.

Words per second = corpus tokens × epochs / training seconds, the same count for both (building
the vocabulary is not timed on either side). Runs alternate between gensim and dlbook, so
background load hits both alike; each run prints its speed and its WordSim-353 Spearman
correlation, then the ratio of each pair of neighbouring runs, their median and spread.
Goal on the CPU: dlbook at least 0.25× gensim's words per second at >= 90% of its Spearman.
``--json PATH`` also writes every run (implementation "gensim", "dlbook-cpu", "dlbook-cuda").
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchtools import add_json_argument, cuda_available, write_json
from dlbook.data import load_wiki_excerpt, load_word_similarity
from dlbook.experiments.word_vectors import similarity_correlation, train_dlbook, train_gensim

SPEED_GOAL, QUALITY_GOAL = 0.25, 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="dlbook's and gensim's workers (2)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram")
    parser.add_argument("--batch-size", type=int, default=None, help="dlbook's examples per step")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU run")
    add_json_argument(parser)
    args = parser.parse_args()
    rows = []

    corpus = load_wiki_excerpt()
    pairs = load_word_similarity("wordsim353")
    settings = dict(sg=not args.cbow, dim=100, window=5, negative=5, epochs=args.epochs,
                    sample=1e-3, min_count=5, workers=args.threads, seed=0)
    model = "CBOW" if args.cbow else "skip-gram"
    print(f"{model}, {len(corpus)} articles, {sum(map(len, corpus)):,} tokens, {settings}")
    print(f"{'run':>4} {'who':<14} {'words/s':>10} {'seconds':>8} {'Spearman':>9}")

    def run(who: str, number: int, device: str | None = None) -> tuple[float, float]:
        """Train once, print and record the run; returns (words per second, Spearman)."""
        if who == "gensim":
            words, vectors, stats = train_gensim(corpus, **settings)
        else:
            words, vectors, stats = train_dlbook(corpus, **settings, batch_size=args.batch_size,
                                                 device=device, progress=False)
        spearman = similarity_correlation(words, vectors, pairs)[0]
        label = who if device is None else f"{who} ({device})"
        print(f"{number:>4} {label:<14} {stats['words_per_second']:>10,.0f} {stats['seconds']:>8.1f} "
              f"{spearman:>9.3f}", flush=True)
        rows.append({"case": model, "implementation": who if device is None else f"{who}-{device}",
                     "run": number, "seconds": stats["seconds"],
                     "words_per_second": stats["words_per_second"], "spearman": spearman})
        return stats["words_per_second"], spearman

    speed_ratios, quality_ratios = [], []
    for number in range(args.repeats):
        order = ["gensim", "dlbook"] if number % 2 == 0 else ["dlbook", "gensim"]
        result = {who: run(who, number, "cpu" if who == "dlbook" else None) for who in order}
        speed_ratios.append(result["dlbook"][0] / result["gensim"][0])
        quality_ratios.append(result["dlbook"][1] / result["gensim"][1])

    print(f"\ndlbook (CPU) / gensim, {args.threads} threads each, {args.repeats} pairs of runs:")
    for name, ratios, goal in (("words per second", speed_ratios, SPEED_GOAL),
                               ("Spearman", quality_ratios, QUALITY_GOAL)):
        print(f"  {name:<17} median {statistics.median(ratios):.2f}x  (min {min(ratios):.2f}, "
              f"max {max(ratios):.2f}; goal >= {goal}x): " + ", ".join(f"{r:.2f}" for r in ratios))

    if cuda_available() and not args.no_gpu:
        gpu_speed, _ = run("dlbook", args.repeats, "cuda")
        gensim_speed, _ = run("gensim", args.repeats)
        print(f"\ndlbook (GPU) / gensim ({args.threads} CPU threads): {gpu_speed / gensim_speed:.2f}x")
    else:
        print("\nno GPU run: torch.cuda.is_available() is False" if not args.no_gpu else "")
    settings = {"threads": args.threads, "clock": "wall", "repeats": args.repeats,
                "corpus": "gensim's Wikipedia excerpt", "tokens": sum(map(len, corpus)),
                "articles": len(corpus), "similarity": "WordSim-353",
                "batch_size": args.batch_size, **settings, "sg": bool(settings["sg"]),
                "speed_goal": SPEED_GOAL, "quality_goal": QUALITY_GOAL}
    write_json(args.json, "word2vec", settings, rows, extra_versions=("gensim",))


if __name__ == "__main__":
    main()
