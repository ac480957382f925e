"""A small copy of the book (landing page and the two prefaces) built with the real build command,
so the build's own behaviour is tested in seconds."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIMMED_TOC = """format: jb-book
root: book/index
parts:
  - caption: 中文
    chapters:
      - file: book/zh/00_preface
  - caption: English
    chapters:
      - file: book/en/00_preface
"""


def trimmed_book(parent: Path) -> Path:
    """Copy the configuration, the landing page and the prefaces into ``parent / "book_copy"``."""
    book = parent / "book_copy"
    (book / "book" / "zh").mkdir(parents=True)
    (book / "book" / "en").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book)
    shutil.copy(ROOT / "book" / "index.md", book / "book")
    shutil.copy(ROOT / "book" / "references.bib", book / "book")  # scripts/editions.py points Sphinx at it
    shutil.copy(ROOT / "book" / "terms.yml", book / "book")  # book/_ext/backmatter.py reads the term list
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext")  # the build's local Sphinx extension
    for lang in ("zh", "en"):
        shutil.copy(ROOT / "book" / lang / "00_preface.md", book / "book" / lang)
    (book / "_toc.yml").write_text(TRIMMED_TOC, encoding="utf-8")
    return book


def build(book: Path) -> subprocess.CompletedProcess:
    """Run scripts/build-book.sh on ``book``."""
    env = {**os.environ, "DLBOOK_BOOK_ROOT": str(book)}
    return subprocess.run(["bash", str(ROOT / "scripts" / "build-book.sh")], env=env,
                          capture_output=True, text=True, timeout=900)
