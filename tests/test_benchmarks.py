"""The benchmark results: the loader (dlbook.benchmarks) rejects malformed files with clear
errors, each scripts/bench_*.py --json writes a file the loader accepts, with the rows the
script measured, and the plots draw one bar (or line) per implementation in the file.
No timing is asserted anywhere: only the files' structure and the ratios' arithmetic."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.container import BarContainer

from dlbook import benchmarks, plotting

matplotlib.use("Agg")
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
COMMITTED = Path(__file__).resolve().parents[1] / "book" / "data" / "benchmarks"
CUDA = ["torch-cuda"] if torch.cuda.is_available() else []


def _result():
    """A small valid result: two cases, three implementations, repeated runs for one pair."""
    rows = [{"case": case, "implementation": impl, "seconds": seconds}
            for case, impl, seconds in (("a", "numpy", 0.004), ("a", "numpy", 0.006),
                                        ("a", "numpy", 0.030), ("a", "torch-cpu", 0.002),
                                        ("a", "numpy-products", 0.003), ("b", "numpy", 0.010),
                                        ("b", "torch-cpu", 0.020))]
    return {"benchmark": "toy", "date": "2026-11-30T12:00:00+00:00",
            "machine": {"cpu": "Some CPU", "cores": 2, "memory_gib": 8.0, "gpu": None},
            "versions": {"python": "3.11", "numpy": "2.4", "torch": "2.13", "dlbook": "0.2",
                         "blas": "openblas 0.3 (Haswell)"},
            "settings": {"threads": 1, "clock": "cpu", "repeats": 3}, "rows": rows}


def test_a_valid_result_loads(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(_result()))
    assert benchmarks.load(path) == _result()


@pytest.mark.parametrize("change, error, words", [
    (lambda r: r.pop("machine"), ValueError, "missing field 'machine'"),
    (lambda r: r.update(rows={}), TypeError, "'rows' must be a list"),
    (lambda r: r.update(rows=[]), ValueError, "'rows' is empty"),
    (lambda r: r.update(date="yesterday"), ValueError, "ISO date-time"),
    (lambda r: r.update(date="2026-11-30T12:00:00+01:00"), ValueError, "UTC"),
    (lambda r: r["machine"].pop("gpu"), ValueError, "GPU's name or null"),
    (lambda r: r["machine"].update(cores=0), ValueError, "integer >= 1"),
    (lambda r: r["versions"].pop("torch"), ValueError, "versions['torch']"),
    (lambda r: r["rows"][0].update(seconds=-1.0), ValueError, "positive finite number"),
    (lambda r: r["rows"][0].update(seconds=float("nan")), ValueError, "positive finite number"),
    (lambda r: r["rows"][0].pop("seconds"), ValueError, "has no 'seconds'"),
    (lambda r: r["rows"][1].update(implementation=""), ValueError, "'implementation'"),
    (lambda r: r["rows"][1].update(implementation="torch-cuda"), ValueError,
     "measured on CUDA, but machine['gpu'] is null"),
])
def test_the_loader_names_what_is_wrong(tmp_path, change, error, words):
    result = copy.deepcopy(_result())
    change(result)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(result))
    with pytest.raises(error, match=str(path).replace("\\", "\\\\") + ".*") as caught:
        benchmarks.load(path)
    assert words in str(caught.value)


def test_the_loader_rejects_what_is_not_json(tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text(json.dumps(_result())[:50])
    with pytest.raises(ValueError, match="not valid JSON"):
        benchmarks.load(path)
    with pytest.raises(TypeError, match="expected a JSON object"):
        benchmarks.validate([_result()])


def test_medians_and_ratios_by_hand():
    result = _result()
    m = benchmarks.medians(result)
    assert m["a", "numpy"] == 0.006  # median of 0.004, 0.006, 0.030
    assert benchmarks.ratios(result, "numpy", "torch-cpu") == {"a": 0.006 / 0.002, "b": 0.5}
    assert benchmarks.ratios(result, "numpy-products", "torch-cpu") == {"a": 0.003 / 0.002}
    with pytest.raises(ValueError, match="no rows of implementation 'torch-cuda'"):
        benchmarks.ratios(result, "torch-cuda", "torch-cpu")


def _bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plot_bars_draws_one_bar_series_per_implementation(lang):
    plotting.setup(lang)
    result = _result()
    ax = benchmarks.plot_bars(result, lang)
    bars = _bars(ax)
    assert [b.get_label() for b in bars] == [benchmarks.label(i, lang) for i in
                                             ("numpy", "torch-cpu", "numpy-products")]
    # each series has one bar per case; a pair not measured is an empty (NaN) bar
    widths = [[patch.get_width() for patch in b.patches] for b in bars]
    np.testing.assert_allclose(widths[0], [6.0, 10.0], rtol=1e-12, atol=0)  # ms
    assert np.isnan(widths[2][1])
    provenance = [t.get_text() for t in ax.figure.texts]
    assert len(provenance) == 1 and "Some CPU" in provenance[0] and "2026-11-30" in provenance[0]
    assert "openblas 0.3 (Haswell)" in provenance[0]


def test_plot_ratios_draws_a_line_for_the_baseline_and_bars_for_the_others():
    result = _result()
    ax = benchmarks.plot_ratios(result, "en", denominator="torch-cpu")
    assert [line.get_label() for line in ax.lines] == ["torch (CPU) = 1"]
    bars = _bars(ax)
    assert [b.get_label() for b in bars] == ["dlbook (NumPy)", "matrix products alone (NumPy)"]
    # bars start at 1 and end at the ratio
    ends = [patch.get_x() + patch.get_width() for patch in bars[0].patches]
    np.testing.assert_allclose(ends, [3.0, 0.5], rtol=1e-12, atol=0)


def test_provenance_says_plainly_when_no_gpu_was_measured():
    assert "no GPU (not measured)" in benchmarks.provenance(_result(), "en")
    assert "GPU 未测" in benchmarks.provenance(_result(), "zh")
    with pytest.raises(ValueError, match="lang must be one of"):
        benchmarks.provenance(_result(), "fr")


def _run(script, tmp_path, *args):
    out = tmp_path / f"{script}.json"
    subprocess.run([sys.executable, str(SCRIPTS / script), *args, "--json", str(out)],
                   cwd=SCRIPTS, check=True, capture_output=True, text=True, timeout=300)
    return benchmarks.load(out)


def _check_common(result, name):
    assert result["benchmark"] == name
    assert result["machine"]["gpu"] == (torch.cuda.get_device_name(0) if CUDA else None)
    assert result["versions"]["numpy"] == np.__version__
    assert result["versions"]["torch"] == torch.__version__
    assert ("not measured" in result["settings"]["cuda"]) == (not CUDA)


def test_bench_conv_writes_its_rows(tmp_path):
    result = _run("bench_conv.py", tmp_path, "--case", "1x1", "--repeats", "1", "--threads", "1")
    _check_common(result, "conv")
    assert result["settings"]["threads"] == 1 and result["settings"]["repeats"] == 1
    assert benchmarks.cases(result) == ["1x1", "3x3-forward-2-images"]
    assert benchmarks.implementations(result) == ["numpy", "numpy-products", "torch-cpu",
                                                  *CUDA, "numpy-naive"]


def test_bench_layers_writes_its_rows(tmp_path):
    result = _run("bench_layers.py", tmp_path, "--case", "ReLU", "MSELoss", "--repeats", "1",
                  "--clock", "cpu")
    _check_common(result, "layers")
    assert benchmarks.cases(result) == ["ReLU", "MSELoss"]
    assert benchmarks.implementations(result) == ["numpy", "torch-cpu", *CUDA]
    assert result["settings"]["clock"] == "cpu"


def test_bench_lstm_writes_its_rows(tmp_path):
    result = _run("bench_lstm.py", tmp_path, "--repeats", "1", "--seq", "3", "--batch", "2",
                  "--input", "4", "--hidden", "5", "--layers", "1")
    _check_common(result, "lstm")
    assert benchmarks.implementations(result) == ["numpy", "numpy-products", "torch-cpu", *CUDA]
    (row, *_) = result["rows"]
    assert (row["seq"], row["batch"], row["input_size"], row["hidden_size"]) == (3, 2, 4, 5)


@pytest.mark.slow
def test_bench_word2vec_writes_its_rows(tmp_path):
    result = _run("bench_word2vec.py", tmp_path, "--repeats", "1", "--epochs", "1")
    _check_common(result, "word2vec")
    assert isinstance(result["versions"]["gensim"], str)
    assert sorted(benchmarks.implementations(result)) == sorted(
        ["gensim", "dlbook-cpu"] + (["dlbook-cuda"] if CUDA else []))
    for row in result["rows"]:  # words per second is the corpus' tokens × epochs / seconds
        assert np.isclose(row["words_per_second"] * row["seconds"], result["settings"]["tokens"],
                          rtol=1e-6, atol=0)


def test_the_one_command_writes_a_file_per_benchmark(tmp_path):
    subprocess.run([sys.executable, str(SCRIPTS / "benchmarks.py"), "--quick", "--only", "lstm",
                    "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    assert [p.name for p in tmp_path.iterdir()] == ["lstm.json"]
    assert benchmarks.load(tmp_path / "lstm.json")["settings"]["repeats"] == 2


@pytest.mark.parametrize("name", ["conv", "layers", "lstm", "word2vec"])
def test_the_committed_results_load(name):
    result = benchmarks.load(COMMITTED / f"{name}.json")
    assert result["benchmark"] == name
