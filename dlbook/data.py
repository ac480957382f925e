"""Data that is available offline: scikit-learn's digits, scikit-image's sample images, pictures
sorted into one folder per class, the 300 Tang poems of Debian's fortunes-zh package (text for
character-level language models), and gensim's test corpora.

Nothing here downloads. Each loader validates its arguments and returns arrays in the
layouts the rest of dlbook uses: (N, features) or (N, C, H, W), float64 in [0, 1]; text comes
as a ``str`` that :class:`CharVocabulary` turns into int64 character ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

#: skimage.data images shipped inside the scikit-image wheel (the others download on first use).
OFFLINE_IMAGES = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
                  "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
                  "logo", "microaneurysms", "moon", "page", "retina", "rocket", "text")


@dataclass(frozen=True)
class Split:
    """Training, validation and test sets: ``X_*`` of shape (N, 64) or (N, 1, 8, 8), ``y_*`` int64.

    The book's one convention: the training set fits the weights, the validation set chooses
    hyper-parameters, the test set is used once, at the end, for the number a page reports.
    """

    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def load_digits_split(test_size: float = 0.25, seed: int = 0, flatten: bool = True,
                      val_size: float = 0.0) -> Split:
    """scikit-learn's 1,797 handwritten 8×8 digits, pixels scaled to [0, 1], split stratified.

    ``test_size`` and ``val_size`` are fractions of all 1,797 digits; the test set does not depend
    on ``val_size`` (the validation set is carved out of the rest), so a page that adds a
    validation set keeps its test set. ``val_size=0`` gives empty validation arrays.
    ``flatten=True`` gives X of shape (N, 64); ``flatten=False`` gives (N, 1, 8, 8) images.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size}")
    if not 0 <= val_size < 1 - test_size:
        raise ValueError(f"val_size must be a fraction in [0, 1 - test_size) = [0, {1 - test_size:g}), "
                         f"got {val_size}")
    digits = load_digits()
    X = digits.images.astype(np.float64) / 16.0  # pixel values are 0..16
    X = X.reshape(len(X), 64) if flatten else X[:, None, :, :]
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y)
    if val_size == 0:
        return Split(X_rest, X_rest[:0], X_test, y_rest, y_rest[:0], y_test)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size / (1 - test_size), random_state=seed, stratify=y_rest)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test)


def load_image(name: str, gray: bool = False) -> np.ndarray:
    """A scikit-image sample image as float64 in [0, 1]: (H, W, 3) colour or (H, W) gray."""
    from skimage import color, data, util

    if name not in OFFLINE_IMAGES:
        raise ValueError(f"unknown or non-offline image {name!r}; expected one of {OFFLINE_IMAGES}")
    image = util.img_as_float64(getattr(data, name)())
    if image.ndim == 3 and image.shape[-1] == 4:
        image = color.rgba2rgb(image)
    if gray and image.ndim == 3:
        image = color.rgb2gray(image)
    return image


def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (X_batch, y_batch) covering every sample once; shuffled when ``rng`` is given."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(len(X)) if rng is not None else np.arange(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]


# -- pictures in folders: one folder per class ------------------------------------------------
class ImageFolder(NamedTuple):
    """What :func:`load_image_folder` returns: ``images`` float32 in [0, 1], (N, H, W) gray or
    (N, H, W, 3) colour; ``labels`` the class (folder) name of each picture; ``paths`` the files,
    in the same order; ``classes`` the folder names, sorted."""

    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    classes: list[str]


def save_image_folder(images, labels, root: str | Path) -> Path:
    """Write pictures as ``root/<label>/<index:05d>.png``, one folder per class; returns ``root``.

    images: (N, H, W) gray or (N, H, W, 3) colour, floats in [0, 1] or uint8; labels: N
    strings (folder names). The layout is the one :func:`load_image_folder` (and torchvision's
    ``ImageFolder``, and Keras' ``image_dataset_from_directory``) reads.
    """
    from PIL import Image

    images, labels = np.asarray(images), [str(label) for label in labels]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"images must be (N, H, W) gray or (N, H, W, 3) colour, got shape {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"need one label per picture: {len(images)} pictures, {len(labels)} labels")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
            raise ValueError(f"float pictures must lie in [0, 1] (or pass uint8), got dtype {images.dtype}"
                             f" and range [{images.min()}, {images.max()}]")
        images = np.rint(images * 255).astype(np.uint8)
    bad = [label for label in set(labels) if not label or "/" in label or label.startswith(".")]
    if bad:
        raise ValueError(f"labels become folder names: no empty names, '/' or leading '.', got {bad}")
    root = Path(root)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    return root


def load_image_folder(root: str | Path, *, size: tuple[int, int] | None = None,
                      gray: bool = False) -> ImageFolder:
    """Read ``root/<class>/<picture>``: every sub-folder is a class, every file in it a picture.

    size: (height, width) to resize every picture to (bilinear), as the notes' walkthrough
    resizes to 32×32; None keeps the sizes, which must then all agree. gray: one channel
    (N, H, W) instead of RGB (N, H, W, 3). Pixels are scaled from 0..255 to [0, 1] (float32).
    Classes are the folder names in sorted order; files are sorted by name within each class.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}: expected one sub-folder per class, each holding its "
                                f"pictures")
    if size is not None and not (len(size) == 2 and all(isinstance(s, (int, np.integer)) and s > 0
                                                        for s in size)):
        raise ValueError(f"size must be (height, width) with positive ints, or None, got {size!r}")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} has no class folders: expected {root}/<class>/<picture> (e.g. "
                         f"{root}/cat/0001.jpg)")
    pictures, labels, paths = [], [], []
    for name in classes:
        files = sorted(f for f in (root / name).iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise ValueError(f"class folder {root / name} is empty: every class needs at least one picture")
        for file in files:
            try:
                with Image.open(file) as picture:
                    picture = picture.convert("L" if gray else "RGB")
                    if size is not None:
                        picture = picture.resize((int(size[1]), int(size[0])), Image.BILINEAR)
                    pictures.append(np.asarray(picture, dtype=np.float32) / 255.0)
            except (UnidentifiedImageError, OSError) as error:
                raise ValueError(f"{file} is not a readable picture ({error})") from None
            labels.append(name)
            paths.append(file)
    shapes = {p.shape for p in pictures}
    if len(shapes) > 1:
        first = pictures[0].shape
        other = next(i for i, p in enumerate(pictures) if p.shape != first)
        raise ValueError(f"pictures differ in size: {paths[0]} is {first[:2]}, {paths[other]} is "
                         f"{pictures[other].shape[:2]} (height, width); pass size=(height, width) to "
                         f"resize them all")
    return ImageFolder(np.stack(pictures), np.array(labels), paths, classes)


# -- text: the 300 Tang poems ------------------------------------------------------------------
#: where Debian's (and Ubuntu's) package fortunes-zh installs the 300 Tang poems
TANG300_PATH = Path("/usr/share/games/fortunes/tang300")
#: SHA-256 of that file in fortunes-zh 2.98 (the loader refuses any other content)
TANG300_SHA256 = "b69cab0cb84c49dc1808d95aea7156c8911a7022ec630e194eecf360b78feff5"
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def load_tang_poems(path: str | Path | None = None, sha256: str | None = TANG300_SHA256) -> str:
    """The 300 Tang poems (唐诗三百首) of fortunes-zh as one text: poems separated by a blank line.

    The fortune file colours each title and author with ANSI escape codes and separates the
    poems by lines holding ``%``; both are removed, as are trailing spaces and the blank lines
    inside a poem (between a preface and its verses), so that a blank line always means "next
    poem". Each poem stays whole: title line 《…》, author line 作者：…, then its lines.
    The result is ``"poem 1\\n\\npoem 2\\n\\n…poem n\\n"``; :func:`poems_in` splits it again.

    path: the fortune file (default :data:`TANG300_PATH`). sha256: the expected SHA-256 of its
    bytes (default: fortunes-zh 2.98's file); None skips the check (for other fortune files).
    """
    path = TANG300_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the Tang poems come from the Debian/Ubuntu package "
                                f"fortunes-zh (sudo apt-get install fortunes-zh; scripts/setup.sh "
                                f"installs it)")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise ValueError(f"{path}: SHA-256 {digest} differs from the expected {sha256} (fortunes-zh "
                         f"2.98's tang300); pass sha256=None to read another version")
    try:
        text = _ANSI_COLOUR.sub("", raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text: {error}") from None
    poems = []
    for chunk in re.split(r"^%[ \t]*$", text, flags=re.M):
        lines = [line.rstrip() for line in chunk.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            poems.append("\n".join(lines))
    if not poems:
        raise ValueError(f"{path} holds no poems (expected fortunes separated by lines holding '%')")
    return "\n\n".join(poems) + "\n"


def poems_in(text: str) -> list[str]:
    """The poems of a text in :func:`load_tang_poems`'s layout (blank-line separated), in order."""
    if not isinstance(text, str):
        raise TypeError(f"poems_in expects a str, got {type(text).__name__}")
    return [poem.strip("\n") for poem in re.split(r"\n[ \t]*\n", text) if poem.strip()]


@dataclass(frozen=True)
class TextSplit:
    """Training, validation and test texts, each in :func:`load_tang_poems`'s layout."""

    train: str
    val: str
    test: str


def split_by_poem(text: str, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  seed: int = 0) -> TextSplit:
    """Put whole poems into the training, validation and test texts (never cut inside a poem).

    The poems are shuffled by ``seed`` and dealt out until each held-out text has at least its
    fraction of the characters (validation first, then test); the rest is the training text.
    Within each text the poems keep their original order.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction and test_fraction must be in [0, 1) with a sum below 1, "
                         f"got {val_fraction} and {test_fraction}")
    poems = poems_in(text)
    if len(poems) < 3 and (val_fraction > 0 or test_fraction > 0):
        raise ValueError(f"split_by_poem needs at least 3 poems to fill three sets, got {len(poems)}")
    total = sum(len(p) for p in poems)
    order = np.random.default_rng(seed).permutation(len(poems))
    which = np.zeros(len(poems), dtype=np.int64)  # 0 train, 1 validation, 2 test
    position = 0
    for label, fraction in ((1, val_fraction), (2, test_fraction)):
        taken = 0
        while taken < fraction * total and position < len(order) - 1:
            which[order[position]] = label
            taken += len(poems[order[position]])
            position += 1

    def join(label: int) -> str:
        chosen = [p for p, w in zip(poems, which) if w == label]
        return "\n\n".join(chosen) + "\n" if chosen else ""

    return TextSplit(join(0), join(1), join(2))


class CharVocabulary:
    """The characters of a text, numbered 0..len-1 in sorted (code point) order.

    ``encode(text)`` gives an int64 array of ids; ``decode(ids)`` the text back.
    """

    def __init__(self, chars) -> None:
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("CharVocabulary expects a non-empty sequence of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocabulary: the characters must be distinct")
        self.chars: tuple[str, ...] = tuple(chars)
        self.index: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocabulary":
        """Every distinct character of ``text``, sorted."""
        if not isinstance(text, str) or not text:
            raise ValueError("CharVocabulary.from_text expects a non-empty str")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} characters)"

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) int64 ids; a character outside the vocabulary raises a KeyError naming it."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            unknown = sorted(set(text) - set(self.index))
            raise KeyError(f"characters not in the vocabulary: {''.join(unknown[:20])!r}") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids (any integer array or list, flattened)."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"decode expects integer ids, got dtype {ids.dtype}")
        ids = ids.reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must be in [0, {len(self)}), got values in [{ids.min()}, {ids.max()}]")
        return "".join(self.chars[i] for i in ids)


def tbptt_windows(ids, seq_len: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-character targets laid out for truncated BPTT over ``batch_size`` streams.

    The id sequence is cut into ``batch_size`` equal streams (the tail that does not fill
    a window is dropped); stream b is read in windows of ``seq_len``. Returns X, Y of shape
    (n_batches * batch_size, seq_len), int64, with Y[i, t] the id after X[i, t]. Row
    ``k * batch_size + b`` is window k of stream b, so taken in order (``fit(...,
    batch_size=batch_size, shuffle=False)``), batch k + 1 continues batch k row by row and a
    recurrent state carried from one batch to the next is the state of the same stream.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"tbptt_windows expects a 1-D integer array of ids, got {ids.dtype} of "
                         f"shape {ids.shape}")
    for name, value in (("seq_len", seq_len), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"tbptt_windows: {name} must be a positive int, got {value!r}")
    stream_len = (len(ids) - 1) // batch_size
    n_windows = stream_len // seq_len
    if n_windows < 1:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams of at least one window of "
                         f"{seq_len} (+1 for the targets)")
    used = n_windows * seq_len
    streams = np.stack([ids[b * stream_len: b * stream_len + used + 1] for b in range(batch_size)])
    X = streams[:, :-1].reshape(batch_size, n_windows, seq_len).transpose(1, 0, 2)
    Y = streams[:, 1:].reshape(batch_size, n_windows, seq_len).transpose(1, 0, 2)
    return (np.ascontiguousarray(X.reshape(-1, seq_len), dtype=np.int64),
            np.ascontiguousarray(Y.reshape(-1, seq_len), dtype=np.int64))


# -- words: gensim's packaged test data (chapter 7) --------------------------------------------
#: the English Wikipedia excerpt that ships inside gensim's wheel (gensim/test/test_data)
WIKI_EXCERPT_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
#: word-similarity sets shipped with gensim: name -> file (tab-separated word, word, mean human score)
WORD_SIMILARITY_FILES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
#: Mikolov et al.'s analogy questions (``: section`` lines, then ``a b c d`` per question)
ANALOGIES_FILE = "questions-words.txt"


def _gensim_data(name: str) -> Path:
    """The path of one of gensim's packaged test-data files; a clear error when gensim is missing."""
    import importlib.util

    if importlib.util.find_spec("gensim") is None:
        raise ModuleNotFoundError(
            f"reading {name!r} needs gensim (its wheel ships the file), which comes with dlbook's "
            f"book extra: pip install 'dlbook[book]' (or pip install 'gensim>=4.4,<5')", name="gensim")
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: this gensim installation lacks its test data "
                                f"(dlbook expects gensim>=4.4,<5, whose wheel includes it)")
    return path


def _parse_wiki_excerpt(file: str, gensim_version: str) -> list[list[str]]:
    """WikiCorpus's tokens of each article (``gensim_version`` is part of the cache key only)."""
    from gensim.corpora import WikiCorpus

    # dictionary={} skips building a gensim Dictionary; one worker process keeps it light on 2 cores
    wiki = WikiCorpus(str(_gensim_data(file)), dictionary={}, processes=1)
    return [list(tokens) for tokens in wiki.get_texts()]


def load_wiki_excerpt() -> list[list[str]]:
    """The English Wikipedia excerpt gensim ships: 106 articles, 452,944 tokens, one list per article.

    The file is :data:`WIKI_EXCERPT_FILE` (the first articles of an enwiki dump, "Anarchism" first),
    tokenised by ``gensim.corpora.WikiCorpus(path, dictionary={}).get_texts()``: markup removed,
    lower-cased, tokens of 2 to 15 characters, articles under 50 tokens left out. Parsing takes a few
    seconds, so the result is cached (:func:`dlbook.cache.cached_call`). Nothing is downloaded.
    """
    import importlib.metadata

    from .cache import cached_call

    _gensim_data(WIKI_EXCERPT_FILE)  # the clear error before anything else when gensim is missing
    return cached_call(_parse_wiki_excerpt, file=WIKI_EXCERPT_FILE,
                       gensim_version=importlib.metadata.version("gensim"))


def load_word_similarity(name: str = "wordsim353", lower: bool = True) -> list[tuple[str, str, float]]:
    """A word-similarity set as (word, word, mean human score) triples, in the file's order.

    ``name``: ``"wordsim353"`` (353 pairs, scores 0..10, relatedness and similarity mixed) or
    ``"simlex999"`` (999 pairs, scores 0..10, similarity only). ``lower=True`` lower-cases the
    words (a few WordSim-353 words are capitalised: ``Jerusalem``; the Wikipedia excerpt is
    lower-cased). Comment lines (``#``) are skipped.
    """
    if name not in WORD_SIMILARITY_FILES:
        raise ValueError(f"unknown word-similarity set {name!r}; expected one of "
                         f"{sorted(WORD_SIMILARITY_FILES)}")
    path = _gensim_data(WORD_SIMILARITY_FILES[name])
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path}:{number}: expected 'word<TAB>word<TAB>score', got {line!r}")
        first, second = (w.lower() for w in fields[:2]) if lower else fields[:2]
        pairs.append((first, second, float(fields[2])))
    return pairs


def load_analogies(lower: bool = True) -> dict[str, list[tuple[str, str, str, str]]]:
    """Mikolov et al.'s 19,544 analogy questions ``a : b :: c : d``, by section, in the file's order.

    Sections (14): five semantic ones (``capital-common-countries``, ``capital-world``, ``currency``,
    ``city-in-state``, ``family``) and nine syntactic ones (``gram1-adjective-to-adverb`` …
    ``gram9-plural-verbs``). ``lower=True`` lower-cases the words (the file capitalises names:
    ``Athens Greece Baghdad Iraq``), as gensim's ``evaluate_word_analogies`` compares case-insensitively.
    """
    path = _gensim_data(ANALOGIES_FILE)
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
            continue
        words = line.lower().split() if lower else line.split()
        if current is None or len(words) != 4:
            raise ValueError(f"{path}:{number}: expected a ': section' line or four words, got {line!r}")
        sections[current].append(tuple(words))
    return sections
