"""The image-folder loader (chapter 8): one folder per class, round trip, resizing, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dlbook.data import load_image_folder, save_image_folder


def _pictures(rng, n=6, shape=(5, 7)):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def test_round_trip_keeps_pixels_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = _pictures(rng)
    labels = ["dog", "cat", "panda", "cat", "dog", "panda"]
    save_image_folder(images, labels, tmp_path)
    folder = load_image_folder(tmp_path, gray=True)
    assert folder.classes == ["cat", "dog", "panda"]
    assert folder.images.dtype == np.float32 and folder.images.shape == (6, 5, 7)
    # each picture comes back under its own label, pixels scaled by 1/255
    for image, label in zip(images, labels):
        matches = [i for i, p in enumerate(folder.images) if np.array_equal(p * 255, image.astype(np.float32))]
        assert len(matches) == 1 and folder.labels[matches[0]] == label
    assert [p.parent.name for p in folder.paths] == list(folder.labels)
    assert list(folder.labels) == sorted(folder.labels)  # classes in sorted order


def test_float_pictures_and_colour(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.random((3, 4, 4, 3))
    save_image_folder(images, ["a", "b", "a"], tmp_path)
    folder = load_image_folder(tmp_path)
    assert folder.images.shape == (3, 4, 4, 3)
    # 8-bit quantisation: within half a grey level of the original
    originals = images[[0, 2, 1]]  # a/00000, a/00002, b/00001
    assert np.abs(folder.images - originals).max() <= 0.5 / 255 + 1e-7


def test_resize_to_common_size_matches_pillow(tmp_path):
    for name, shape in [("x", (10, 12)), ("y", (6, 9))]:
        (tmp_path / name).mkdir()
        Image.fromarray(np.full(shape, 200, dtype=np.uint8)).save(tmp_path / name / "p.png")
    with pytest.raises(ValueError, match=r"differ in size.*size=\(height, width\)"):
        load_image_folder(tmp_path, gray=True)
    folder = load_image_folder(tmp_path, size=(8, 4), gray=True)
    assert folder.images.shape == (2, 8, 4)
    # a constant picture stays constant under bilinear resizing
    np.testing.assert_allclose(folder.images, 200 / 255, rtol=1e-6, atol=0)


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="one sub-folder per class"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class folders"):
        load_image_folder(tmp_path)
    (tmp_path / "cat").mkdir()
    with pytest.raises(ValueError, match="is empty"):
        load_image_folder(tmp_path)
    (tmp_path / "cat" / "notes.txt").write_text("not a picture")
    with pytest.raises(ValueError, match="notes.txt is not a readable picture"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="size must be"):
        load_image_folder(tmp_path, size=(0, 3))


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="one label per picture"):
        save_image_folder(np.zeros((2, 3, 3)), ["a"], tmp_path)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        save_image_folder(np.full((1, 3, 3), 2.0), ["a"], tmp_path)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        save_image_folder(np.zeros((1, 3, 3, 2)), ["a"], tmp_path)
    with pytest.raises(ValueError, match="folder names"):
        save_image_folder(np.zeros((1, 3, 3)), ["a/b"], tmp_path)
