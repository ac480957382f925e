"""A result cache for work that the zh and en pages share (training runs, long derivations).

The key covers the function, its keyword arguments, the versions of numpy and torch, and
the bytes of every ``.py`` file of dlbook itself: any library change invalidates every
entry, unlike a cache keyed on the notebook's code alone.

Location: ``$DLBOOK_CACHE_DIR`` (the build script points it into ``_build/``), else
``~/.cache/dlbook``. ``DLBOOK_CACHE_DIR=off`` disables caching.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    configured = os.environ.get("DLBOOK_CACHE_DIR")
    if configured == "off":
        return None
    return Path(configured) if configured else Path.home() / ".cache" / "dlbook"


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the relative paths and bytes of every ``.py`` file in the package."""
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        h.update(str(path.relative_to(package_dir)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _feed(h, value) -> None:
    """Hash a value by content; only plain data is accepted, so a key can't silently collide."""
    if isinstance(value, np.ndarray):
        h.update(f"ndarray{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"dict")
        for k in sorted(value, key=repr):
            _feed(h, k)
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(type(value).__name__.encode() + str(len(value)).encode())
        for item in value:
            _feed(h, item)
    elif value is None or isinstance(value, (bool, int, float, str, bytes, np.generic)):
        h.update(f"{type(value).__name__}:{value!r}".encode())
    else:
        raise TypeError(f"cached_call arguments must be plain data (numbers, strings, arrays, lists, "
                        f"dicts), got {type(value).__name__}")


def cache_key(fn, kwargs: dict) -> str:
    import torch

    h = hashlib.sha256()
    _feed(h, [fn.__module__, fn.__qualname__, np.__version__, torch.__version__, source_digest()])
    _feed(h, kwargs)
    return h.hexdigest()


def cached_call(fn, /, **kwargs):
    """``fn(**kwargs)``, read from the cache when the same call was made with the same dlbook.

    Results are pickled; they must be picklable (arrays, dicts, state dicts, dataclasses).
    """
    folder = cache_dir()
    if folder is None:
        return fn(**kwargs)
    path = folder / f"{fn.__qualname__}-{cache_key(fn, kwargs)[:32]}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    result = fn(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as f:  # atomic: no half-written entry
        pickle.dump(result, f)
    os.replace(f.name, path)
    return result
