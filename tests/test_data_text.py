"""Text data: the Tang poems loader (on a fake fortune file and on fortunes-zh's), the character
vocabulary, the split by poem and the layout of windows for truncated BPTT."""

import hashlib

import numpy as np
import pytest

from dlbook.data import (TANG300_PATH, CharVocabulary, load_tang_poems, poems_in, split_by_poem,
                         tbptt_windows)

GREEN, YELLOW, RESET = "\x1b[32m", "\x1b[33m", "\x1b[m"
FAKE = (f"{GREEN}《春晓》{RESET}\n{YELLOW}作者：孟浩然{RESET}\n春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。\n%\n"
        f"{GREEN}《序诗》{RESET}\n{YELLOW}作者：某人{RESET}\n序言一句。  \n  \n正文一句，\n正文二句。\n%\n"
        f"{GREEN}《静夜思》{RESET}\n{YELLOW}作者：李白{RESET}\n床前明月光，疑是地上霜。\n%\n")
# what the loader must make of FAKE, written out by hand: colours, '%' lines, trailing spaces and
# the blank line inside the second poem gone; poems separated by one blank line
EXPECTED = ("《春晓》\n作者：孟浩然\n春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。\n\n"
            "《序诗》\n作者：某人\n序言一句。\n正文一句，\n正文二句。\n\n"
            "《静夜思》\n作者：李白\n床前明月光，疑是地上霜。\n")


@pytest.fixture
def fake_fortunes(tmp_path):
    path = tmp_path / "tang300"
    path.write_bytes(FAKE.encode("utf-8"))
    return path


def test_the_loader_strips_colours_and_separators_and_keeps_poems_whole(fake_fortunes):
    digest = hashlib.sha256(fake_fortunes.read_bytes()).hexdigest()
    assert load_tang_poems(fake_fortunes, sha256=digest) == EXPECTED
    assert load_tang_poems(str(fake_fortunes), sha256=None) == EXPECTED
    assert poems_in(EXPECTED) == [p for p in EXPECTED.strip("\n").split("\n\n")]
    assert len(poems_in(EXPECTED)) == 3


def test_the_loader_checks_the_checksum_and_names_the_package(fake_fortunes, tmp_path):
    with pytest.raises(ValueError, match="SHA-256 .* differs from the expected"):
        load_tang_poems(fake_fortunes)  # fortunes-zh's checksum: the fake file is not it
    with pytest.raises(FileNotFoundError, match="fortunes-zh"):
        load_tang_poems(tmp_path / "missing")
    bad = tmp_path / "latin1"
    bad.write_bytes("caf\xe9\n%\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_tang_poems(bad, sha256=None)
    empty = tmp_path / "empty"
    empty.write_text("%\n%\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no poems"):
        load_tang_poems(empty, sha256=None)


@pytest.mark.skipif(not TANG300_PATH.is_file(), reason="fortunes-zh is not installed (scripts/setup.sh installs it)")
def test_the_installed_tang_poems():
    text = load_tang_poems()
    raw = TANG300_PATH.read_text(encoding="utf-8")
    poems = poems_in(text)
    assert len(poems) == raw.count("\n%\n")  # one poem per fortune, counted on the raw file
    assert all(p.startswith("《") and p.split("\n")[1].startswith("作者：") for p in poems)
    assert "\x1b" not in text and "%" not in text and "\n\n\n" not in text and text.endswith("。\n")
    assert len(set(poems)) == len(poems)  # no poem twice, so a split by poem cannot leak one


def test_vocabulary_round_trip_and_errors():
    vocab = CharVocabulary.from_text(EXPECTED)
    ids = vocab.encode(EXPECTED)
    assert ids.dtype == np.int64 and ids.shape == (len(EXPECTED),)
    assert vocab.decode(ids) == EXPECTED and vocab.decode(ids.reshape(1, -1)) == EXPECTED
    assert len(vocab) == len(set(EXPECTED)) and list(vocab.chars) == sorted(set(EXPECTED))
    assert ids.min() == 0 and ids.max() == len(vocab) - 1
    assert [vocab.index[c] for c in "春晓"] == list(vocab.encode("春晓"))
    with pytest.raises(KeyError, match="not in the vocabulary: '秋'"):
        vocab.encode("春秋")
    with pytest.raises(ValueError, match=r"ids must be in \[0, "):
        vocab.decode([len(vocab)])
    with pytest.raises(TypeError, match="integer ids"):
        vocab.decode(np.array([0.0]))
    with pytest.raises(TypeError, match="expects a str"):
        vocab.encode(list("春"))
    with pytest.raises(ValueError, match="non-empty"):
        CharVocabulary.from_text("")
    with pytest.raises(ValueError, match="distinct"):
        CharVocabulary("aa")


def _many_poems(n=40, seed=0):
    rng = np.random.default_rng(seed)
    chars = [chr(0x4E00 + i) for i in range(200)]
    poems = [f"《题{i}》\n作者：某{i}\n" + "".join(rng.choice(chars, size=rng.integers(10, 60)))
             for i in range(n)]
    return "\n\n".join(poems) + "\n", poems


def test_split_by_poem_never_cuts_a_poem_and_keeps_the_fractions():
    text, poems = _many_poems()
    split = split_by_poem(text, val_fraction=0.2, test_fraction=0.1, seed=3)
    parts = [poems_in(t) for t in (split.train, split.val, split.test)]
    assert sorted(p for part in parts for p in part) == sorted(poems)  # every poem once, whole
    assert all(not set(a) & set(b) for i, a in enumerate(parts) for b in parts[i + 1:])  # no poem in two
    total = sum(len(p) for p in poems)
    assert sum(map(len, parts[1])) >= 0.2 * total and sum(map(len, parts[2])) >= 0.1 * total
    for part in parts:  # each set keeps the text's order
        assert [poems.index(p) for p in part] == sorted(poems.index(p) for p in part)
    again = split_by_poem(text, val_fraction=0.2, test_fraction=0.1, seed=3)
    assert again == split and split_by_poem(text, 0.2, 0.1, seed=4) != split
    assert split_by_poem(text, 0.0, 0.0) == type(split)(text, "", "")


def test_split_by_poem_bad_input():
    text, _ = _many_poems(5)
    with pytest.raises(ValueError, match="sum below 1"):
        split_by_poem(text, 0.6, 0.5)
    with pytest.raises(ValueError, match="at least 3 poems"):
        split_by_poem("《一》\n一\n\n《二》\n二\n")
    with pytest.raises(TypeError, match="expects a str"):
        poems_in(b"bytes")


def test_tbptt_windows_continue_each_stream_from_batch_to_batch():
    ids = np.arange(1000)
    X, Y = tbptt_windows(ids, seq_len=7, batch_size=4)
    stream_len = (1000 - 1) // 4
    n_windows = stream_len // 7
    assert X.shape == Y.shape == (n_windows * 4, 7) and X.dtype == np.int64
    assert np.array_equal(Y, X + 1)  # the target is the next id
    batches = X.reshape(n_windows, 4, 7)
    assert np.array_equal(batches[1:, :, 0], batches[:-1, :, -1] + 1)  # row b of batch k+1 continues row b
    assert np.array_equal(batches[0, :, 0], np.arange(4) * stream_len)  # stream b starts at b * stream_len
    with pytest.raises(ValueError, match="too few"):
        tbptt_windows(np.arange(10), seq_len=5, batch_size=4)
    with pytest.raises(ValueError, match="1-D integer array"):
        tbptt_windows(np.zeros(100), 5, 2)
    with pytest.raises(ValueError, match="seq_len must be a positive int"):
        tbptt_windows(ids, 0, 2)
