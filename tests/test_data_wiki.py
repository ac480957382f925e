"""Chapter 7's offline data: the Wikipedia excerpt, the word-similarity sets and the analogy
questions that ship inside gensim's wheel, read without any download."""

import sys
from pathlib import Path

import pytest

from dlbook import data
from dlbook.data import load_analogies, load_wiki_excerpt, load_word_similarity

pytest.importorskip("gensim", reason="gensim comes with the book and test extras")


@pytest.fixture(scope="module")
def wiki(tmp_path_factory):
    """Parsed once for the module, into an empty cache (so the parse itself runs)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLBOOK_CACHE_DIR", str(folder))
        first = load_wiki_excerpt()
        second = load_wiki_excerpt()  # from the cache
        entries = list(folder.iterdir())
    return first, second, entries


def test_the_wiki_excerpt_has_106_articles_and_452944_tokens(wiki):
    articles, _, _ = wiki
    assert isinstance(articles, list) and all(isinstance(a, list) for a in articles)
    assert len(articles) == 106
    assert sum(len(a) for a in articles) == 452_944
    # the dump starts with the article "Anarchism"; WikiCorpus lower-cases and drops 1-letter tokens
    assert articles[0][:4] == ["anarchism", "is", "political", "philosophy"]
    tokens = {t for a in articles for t in a}
    assert all(t == t.lower() and 2 <= len(t) <= 15 for t in tokens)
    assert min(len(a) for a in articles) >= 50  # WikiCorpus leaves out articles under 50 tokens


def test_the_wiki_excerpt_is_cached(wiki):
    first, second, entries = wiki
    assert second == first
    assert len(entries) == 1 and entries[0].name.startswith("_parse_wiki_excerpt-")


def test_wordsim353_in_the_files_order():
    pairs = load_word_similarity()
    assert len(pairs) == 353
    # the first lines of wordsim353.tsv after its two comment lines
    assert pairs[:3] == [("love", "sex", 6.77), ("tiger", "cat", 7.35), ("tiger", "tiger", 10.0)]
    assert all(0 <= score <= 10 for _, _, score in pairs)
    assert ("jerusalem", "israel", 8.46) in pairs  # capitalised in the file, lower-cased here
    assert ("Jerusalem", "Israel", 8.46) in load_word_similarity(lower=False)


def test_simlex999():
    pairs = load_word_similarity("simlex999")
    assert len(pairs) == 999
    assert pairs[0] == ("old", "new", 1.58)
    assert pairs[-1] == ("attend", "arrive", 6.08)


def test_analogies_by_section():
    sections = load_analogies()
    assert len(sections) == 14
    assert list(sections)[:5] == ["capital-common-countries", "capital-world", "currency", "city-in-state",
                                  "family"]
    assert list(sections)[-1] == "gram9-plural-verbs"
    assert sum(len(q) for q in sections.values()) == 19_544  # 19,558 lines less 14 section lines
    assert len(sections["capital-common-countries"]) == 506
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
    as_written = load_analogies(lower=False)["capital-common-countries"][0]
    assert as_written == ("Athens", "Greece", "Baghdad", "Iraq")
    assert all(len(q) == 4 for qs in sections.values() for q in qs)


def test_the_files_come_from_gensims_wheel():
    import gensim

    folder = Path(gensim.__file__).parent / "test" / "test_data"
    for name in (data.WIKI_EXCERPT_FILE, data.ANALOGIES_FILE, *data.WORD_SIMILARITY_FILES.values()):
        assert data._gensim_data(name) == folder / name


def test_an_unknown_similarity_set_is_named():
    with pytest.raises(ValueError, match="wordsim353"):
        load_word_similarity("men3000")


@pytest.mark.parametrize("load", [load_wiki_excerpt, load_word_similarity, load_analogies])
def test_without_gensim_the_error_names_the_book_extra(monkeypatch, load):
    for name in [m for m in sys.modules if m == "gensim" or m.startswith("gensim.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: "import gensim" fails
    monkeypatch.setitem(sys.modules, "gensim", None)
    with pytest.raises(ModuleNotFoundError, match=r"dlbook\[book\]"):
        load()
