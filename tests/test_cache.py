"""The result cache: hits, misses, and invalidation by a change of the dlbook source."""

import shutil

import numpy as np
import pytest

from dlbook import cache

calls = []


def expensive(n, scale=1.0):
    calls.append((n, scale))
    return {"values": np.arange(n) * scale}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_CACHE_DIR", str(tmp_path / "cache"))
    calls.clear()
    return tmp_path / "cache"


def test_second_call_is_served_from_the_cache(cache_dir):
    first = cache.cached_call(expensive, n=4, scale=2.0)
    second = cache.cached_call(expensive, n=4, scale=2.0)
    assert calls == [(4, 2.0)]
    assert np.array_equal(first["values"], second["values"])
    assert len(list(cache_dir.iterdir())) == 1


def test_different_arguments_miss(cache_dir):
    cache.cached_call(expensive, n=4)
    cache.cached_call(expensive, n=5)
    cache.cached_call(expensive, n=4, scale=1.5)
    assert len(calls) == 3


def test_array_arguments_are_keyed_by_content(cache_dir):
    def total(x):
        calls.append(x.sum())
        return x.sum()

    cache.cached_call(total, x=np.arange(3.0))
    cache.cached_call(total, x=np.arange(3.0))
    cache.cached_call(total, x=np.arange(3.0) + 1)
    cache.cached_call(total, x=np.arange(3.0).astype(np.float32))
    assert len(calls) == 3


def test_a_change_in_dlbook_source_invalidates(cache_dir, tmp_path, monkeypatch):
    package = tmp_path / "dlbook_copy"
    shutil.copytree(cache.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", package)
    monkeypatch.setattr(cache.source_digest, "__defaults__", (package,))
    cache.cached_call(expensive, n=3)
    cache.cached_call(expensive, n=3)
    assert len(calls) == 1
    target = package / "nn" / "functional" / "loss.py"
    target.write_text(target.read_text() + "\n# an edit anywhere in the library\n")
    cache.cached_call(expensive, n=3)
    assert len(calls) == 2  # recomputed after the edit
    (package / "new_module.py").write_text("x = 1\n")
    cache.cached_call(expensive, n=3)
    assert len(calls) == 3  # a new file counts too


def test_source_digest_depends_on_file_contents(tmp_path):
    (tmp_path / "a.py").write_text("a = 1\n")
    before = cache.source_digest(tmp_path)
    assert cache.source_digest(tmp_path) == before
    (tmp_path / "a.py").write_text("a = 2\n")
    assert cache.source_digest(tmp_path) != before


def test_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("DLBOOK_CACHE_DIR", "off")
    calls.clear()
    cache.cached_call(expensive, n=2)
    cache.cached_call(expensive, n=2)
    assert len(calls) == 2


def test_unhashable_arguments_are_refused(cache_dir):
    with pytest.raises(TypeError, match="plain data"):
        cache.cached_call(expensive, n=object())
