"""`twinport data sprites` on a folder of small JPEGs made here with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data import Dataset
from data.schema import read_map

# (character, pose): frames present. Frame 2 of (30, 1) is missing: no pairs (1,2) or (2,3).
FRAMES = {(3, 0): [0, 1, 2, 3], (23, 1): [1, 2], (24, 0): [0, 1, 2], (30, 1): [0, 1, 3]}


@pytest.fixture
def sprite_dir(tmp_path) -> Path:
    src = tmp_path / "sprites"
    src.mkdir()
    rng = np.random.default_rng(0)
    for (character, pose), frames in FRAMES.items():
        for frame in frames:
            pixels = rng.integers(0, 256, size=(60, 60, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(src / f"image_{character}_{pose}_{frame}.jpg")
    (src / "notes.txt").write_text("not an image")
    (src / "image_3_0_x.jpg").write_text("does not match the name pattern")
    return src


def decoded(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def expected_pairs(src: Path, characters: range) -> list[bytes]:
    pairs = []
    for (character, pose), frames in FRAMES.items():
        for frame in frames:
            if character in characters and frame + 1 in frames:
                first, second = (decoded(src / f"image_{character}_{pose}_{f}.jpg")
                                 for f in (frame, frame + 1))
                pairs.append(np.stack([first, second]).tobytes())
    return pairs


def test_consecutive_frame_pairs_split_by_character(cli, sprite_dir, tmp_path):
    status, out, _ = cli("data", "sprites", sprite_dir, "--out", tmp_path / "d")
    assert status == 0 and "wrote" in out
    rows = read_map(tmp_path / "d")
    assert {(r.dtype, r.norm_scale, r.seq_len, r.height, r.width, r.channels)
            for r in rows} == {("uint8", 255.0, 2, 60, 60, 3)}
    test = np.load(tmp_path / "d" / "test_00000.npy")
    train = np.load(tmp_path / "d" / "train_00000.npy")
    # Characters 3 and 23 (< 24) are test: pairs (0,1) (1,2) (2,3) and (1,2), in name order.
    assert [s.tobytes() for s in test] == expected_pairs(sprite_dir, range(24))
    # Train: (0,1) (1,2) of character 24 and only (0,1) of 30, shuffled.
    assert sorted(s.tobytes() for s in train) == sorted(expected_pairs(sprite_dir, range(24, 99)))
    assert len(train) == 3
    dataset = Dataset(tmp_path / "d", "test")
    np.testing.assert_array_equal(dataset.get([1]), test[1:2] / np.float32(255))


def test_train_shuffle_depends_on_the_seed_only(cli, sprite_dir, tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert cli("data", "sprites", sprite_dir, "--out", tmp_path / name, "--seed", seed)[0] == 0
    shas = {name: [r.sha256 for r in read_map(tmp_path / name)] for name in "abc"}
    assert shas["a"] == shas["b"]
    orders = [np.random.default_rng(seed).permutation(3).tolist() for seed in (0, 1)]
    assert orders[0] != orders[1]  # so the two seeds must store the 3 train pairs differently
    assert shas["a"] != shas["c"]


def test_folder_without_matching_images_is_refused(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(b"")
    status, out, err = cli("data", "sprites", src, "--out", tmp_path / "d")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert f"{src}: no images named image_<character>_<pose>_<frame>.jpg" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_unreadable_image_is_refused_whole(cli, sprite_dir, tmp_path):
    broken = sprite_dir / "image_24_0_1.jpg"
    broken.write_bytes(b"not a jpeg")
    status, _, err = cli("data", "sprites", sprite_dir, "--out", tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and f"{broken}: cannot read image" in err
    assert not (tmp_path / "d").exists()


def test_image_of_another_size_is_refused(cli, sprite_dir, tmp_path):
    odd = sprite_dir / "image_24_0_2.jpg"
    Image.new("RGB", (32, 60)).save(odd)
    status, _, err = cli("data", "sprites", sprite_dir, "--out", tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and f"{odd}: image is (60, 32, 3)" in err
    assert not (tmp_path / "d").exists()
