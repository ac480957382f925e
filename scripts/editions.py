"""Build the book as two editions, each a Sphinx site in its own language, plus a landing page.

    python scripts/editions.py BOOK_ROOT [jupyter-book options...]

The top-level ``_config.yml`` and ``_toc.yml`` stay the entry point: each part of the table of
contents (中文, English) becomes one edition whose first chapter is its home page. An edition's
configuration is the shared one plus its language: the interface text (search, contents,
previous/next) and the search index (jieba word segmentation for Chinese, stemming for English)
follow it. The result::

    _build/html/index.html     the landing page (book/index.md), leading to both editions
    _build/html/zh/...         the Chinese edition, one page per chapter
    _build/html/en/...         the English edition

Both editions run with the same ``DLBOOK_CACHE_DIR``, so work shared by the zh and en pages
(``dlbook.cache.cached_call``) is computed once per build: the Chinese edition computes it, the
English one reuses it. The pages link to their twins with plain relative links
(``../en/01_basics.html``), which the two sites' identical layouts make valid.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

EDITIONS = {
    "zh": {"caption": "中文", "language": "zh_CN", "search": "zh", "title": "dlbook · 可执行的深度学习",
           "footer": "每一个结论都由构建时运行的代码检验。"},
    "en": {"caption": "English", "language": "en", "search": "en", "title": "dlbook · Executable Deep Learning",
           "footer": "Every claim is checked by code that runs at build time."},
}


def dlbook_version(root: Path) -> str:
    """The package's version, read from its one home (dlbook/__init__.py) without importing it."""
    init = (root / "dlbook" / "__init__.py")
    if not init.exists():  # a trimmed copy of the book: the package is this repository's
        init = Path(__file__).resolve().parents[1] / "dlbook" / "__init__.py"
    match = re.search(r'^__version__ = "([^"]+)"', init.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise SystemExit(f"{init}: no __version__ = \"...\" line")
    return match.group(1)


def base_config(root: Path) -> dict:
    """The shared _config.yml, with local extension folders made absolute (the edition configs live
    in _build/editions/, and Jupyter Book resolves those paths from the config's folder)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((root / folder).resolve())
    # one bibliography for both editions, whose source folders are book/zh/ and book/en/
    config["bibtex_bibfiles"] = [str((root / "book" / "references.bib").resolve())]
    return config


def edition_files(root: Path, lang: str, work: Path) -> tuple[Path, Path]:
    """Write the edition's _config.yml and _toc.yml into ``work``; return their paths."""
    config = base_config(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    edition = EDITIONS[lang]
    part = next((p for p in toc["parts"] if p["caption"] == edition["caption"]), None)
    if part is None:
        raise SystemExit(f"_toc.yml has no part with caption {edition['caption']!r}")
    files = [Path(chapter["file"]) for chapter in part["chapters"]]
    prefix = Path("book") / lang
    if any(f.parent != prefix for f in files):
        raise SystemExit(f"every chapter of the {lang} part must live in {prefix}/, got {files}")
    ed_config = copy.deepcopy(config)
    ed_config["title"] = edition["title"]
    ed_config["exclude_patterns"] = ["_build", ".ipynb_checkpoints"]
    ed_config.setdefault("html", {})["extra_footer"] = f"dlbook {dlbook_version(root)} · {edition['footer']}"
    sphinx = ed_config.setdefault("sphinx", {}).setdefault("config", {})
    # book/_ext/backmatter.py: where the glossary is (terms link to it) and scripts/notebooks.py
    glossary = [f.stem for f in files if f.stem.endswith("_glossary")]
    sphinx["dlbook_glossary_doc"] = glossary[0] if glossary else ""
    sphinx["dlbook_scripts_dir"] = str(Path(__file__).resolve().parent)
    sphinx["language"] = edition["language"]
    sphinx["html_search_language"] = edition["search"]
    ed_toc = {"format": "jb-book", "root": files[0].name}
    if len(files) > 1:
        ed_toc["chapters"] = [{"file": f.name} for f in files[1:]]
    work.mkdir(parents=True, exist_ok=True)
    (work / "_config.yml").write_text(yaml.safe_dump(ed_config, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    (work / "_toc.yml").write_text(yaml.safe_dump(ed_toc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return work / "_config.yml", work / "_toc.yml"


def landing_files(root: Path, work: Path) -> tuple[Path, Path]:
    """The landing page (book/index.md) as a one-page site with an English interface."""
    config = base_config(root)
    config["exclude_patterns"] = ["_build", "zh", "en", "_ext"]  # the editions are built on their own
    config.setdefault("sphinx", {}).setdefault("config", {})["language"] = "en"
    config["execute"]["execute_notebooks"] = "off"
    work.mkdir(parents=True, exist_ok=True)
    (work / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (work / "_toc.yml").write_text("format: jb-book\nroot: index\n", encoding="utf-8")
    return work / "_config.yml", work / "_toc.yml"


def build(source: Path, config: Path, toc: Path, output: Path, extra: list[str], jupyter_book: str) -> int:
    command = [jupyter_book, "build", str(source), "--builder", "html", "--config", str(config), "--toc", str(toc),
               "--path-output", str(output), "-W", "--keep-going", *extra]
    return subprocess.run(command).returncode


def main(root: Path, extra: list[str], jupyter_book: str) -> int:
    build_dir = root / "_build"
    site = build_dir / "html"
    work = build_dir / "editions"
    for stale in (site, work):  # a fresh Sphinx build each time: an incremental one would not re-warn
        if stale.exists():
            shutil.rmtree(stale)
    status = 0
    for lang in EDITIONS:  # zh first: it computes the shared results, en reuses them
        start = time.time()
        config, toc = edition_files(root, lang, work / lang)
        code = build(root / "book" / lang, config, toc, work / lang, extra, jupyter_book)
        print(f"book: {lang} edition {'built' if code == 0 else 'FAILED'} in {time.time() - start:.0f} s",
              flush=True)
        status |= code
        if code == 0:
            shutil.copytree(work / lang / "_build" / "html", site / lang)
    config, toc = landing_files(root, work / "landing")
    code = build(root / "book", config, toc, work / "landing", extra, jupyter_book)
    status |= code
    if code == 0:
        shutil.copytree(work / "landing" / "_build" / "html", site, dirs_exist_ok=True)
    return status


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: editions.py JUPYTER_BOOK BOOK_ROOT [jupyter-book options...]")
    sys.exit(main(Path(sys.argv[2]).resolve(), sys.argv[3:], sys.argv[1]))
