"""Moving MNIST: the generator, and the two importers on files written here in their formats."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import data.moving_mnist_import as importer
from data import Dataset
from data.moving_mnist import SPAN, STEP, Motion, corners, digit_bank, draw, render
from data.schema import read_map


def stored(root: Path, split: str) -> np.ndarray:
    """A split's shards as written, concatenated in map order."""
    return np.concatenate([np.load(root / row.img_np_path) for row in read_map(root)
                           if row.split == split])


def test_digit_bank_is_mnist_shaped():
    bank = digit_bank()
    assert bank.shape == (1797, 28, 28) and bank.dtype == np.uint8
    assert not bank[:, :4].any() and not bank[:, -4:].any()  # MNIST's 4 px border
    assert not bank[:, :, :4].any() and not bank[:, :, -4:].any()
    assert (bank.max(axis=(1, 2)) >= 200).all()  # every digit has bright strokes
    ink = (bank > 0).mean()
    assert 0.1 < ink < 0.4  # MNIST's digits cover about 19% of their 28x28 images


def test_generated_set_shapes_split_and_range(cli, tmp_path):
    status, out, _ = cli("data", "moving-mnist", "--out", tmp_path / "d", "--count", "30",
                         "--seed", "2")
    assert status == 0 and "wrote" in out
    rows = read_map(tmp_path / "d")
    assert {(r.split, r.seq_len, r.height, r.width, r.channels, r.dtype, r.norm_scale)
            for r in rows} == {(s, 20, 64, 64, 1, "uint8", 255.0) for s in ("train", "test")}
    frames = render(draw(2, 0, 30), 20)
    np.testing.assert_array_equal(stored(tmp_path / "d", "test"), frames[::10])
    np.testing.assert_array_equal(stored(tmp_path / "d", "train"),
                                  np.delete(frames, np.s_[::10], axis=0))
    test = Dataset(tmp_path / "d", "test").get(range(3))
    assert test.shape == (3, 20, 64, 64, 1) and 0 <= test.min() and test.max() == 1
    assert cli("data", "verify", tmp_path / "d")[0] == 0


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    from data.moving_mnist import write_moving_mnist

    first = write_moving_mnist(tmp_path / "a", seed=7, count=25, shard_size=8)
    write_moving_mnist(tmp_path / "b", seed=7, count=25, shard_size=8)
    other = write_moving_mnist(tmp_path / "c", seed=8, count=25, shard_size=8)
    for name in ["map.csv"] + [row.img_np_path for row in first]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not {r.sha256 for r in first} & {r.sha256 for r in other}


def test_count_takes_a_prefix_across_blocks():
    # Each block of 512 has its own stream and always draws all 512: a smaller count is a
    # prefix of a larger one, and block 1 does not repeat block 0.
    assert np.array_equal(draw(3, 0, 40).start, draw(3, 0).start[:40])
    assert not np.array_equal(draw(3, 1, 40).start, draw(3, 0, 40).start)
    np.testing.assert_array_equal(render(draw(3, 1, 3), 20), render(draw(3, 1), 20)[:3])


def one_digit(row: float, col: float, angle: float) -> Motion:
    """Both digits the same digit on the same path, so every frame shows that digit alone."""
    return Motion(digit=np.array([[5, 5]]), start=np.array([[[row, col], [row, col]]]),
                  angle=np.array([[angle, angle]]))


def test_a_digit_moves_at_step_speed_and_bounces_off_the_edges():
    frames = render(one_digit(30.0, 10.0, np.pi / 2), seq_len=8)[0, ..., 0]  # straight down
    digit = digit_bank()[5]
    top = np.flatnonzero(digit.any(axis=1))[0]
    left = np.flatnonzero(digit.any(axis=0))[0]
    rows = [np.flatnonzero(f.any(axis=1))[0] - top for f in frames]
    cols = [np.flatnonzero(f.any(axis=0))[0] - left for f in frames]
    # 30 + 3.6 t, reflected at SPAN = 36: 30, 33.6, 34.8, 31.2, 27.6, 24, 20.4, 16.8
    assert STEP == pytest.approx(3.6) and SPAN == 36
    assert rows == [30, 34, 35, 31, 28, 24, 20, 17]
    assert cols == [10] * 8
    for t, frame in enumerate(frames):  # the whole digit, uncut, at its corner
        np.testing.assert_array_equal(frame[rows[t]:rows[t] + 28, 10:38], digit)
        assert frame.sum() == digit.sum()


def test_digits_stay_inside_the_frame_move_every_frame_and_bounce():
    motion = draw(0, 0)
    where = corners(motion, 20)  # [512, 2, 20, 2]
    assert where.min() == 0 and where.max() == SPAN  # the edges are reached, never passed
    step = np.abs(np.diff(where, axis=2))
    assert step.max() <= np.ceil(STEP)  # 3.6 px, rounded to whole pixels
    assert (step.sum(axis=-1) > 0).mean() > 0.95  # a digit almost always moves each frame
    velocity = np.diff(where, axis=2)
    flips = (np.sign(velocity[:, :, 1:]) * np.sign(velocity[:, :, :-1]) < 0).any(axis=(2, 3))
    assert flips.mean() > 0.5  # most digits bounce at least once in 20 frames
    frames = render(draw(0, 0, 40), 20)[..., 0]
    digits = digit_bank()[motion.digit[:40]].sum(axis=(2, 3), dtype=np.int64)  # [40, 2]
    mass = frames.sum(axis=(2, 3), dtype=np.int64)  # [40, 20]
    # Max-combined: no digit is ever cut by the border, overlaps only lose ink.
    assert (mass >= digits.max(axis=1, keepdims=True)).all()
    assert (mass <= digits.sum(axis=1, keepdims=True)).all()
    assert (np.abs(np.diff(frames.astype(np.int16), axis=1)).sum(axis=(2, 3)) > 0).all()


def test_npy_importer_round_trips_the_toronto_layout(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "_CHUNK", 4)  # several chunks and shards
    sequences = render(draw(1, 0, 23), 20)[..., 0]  # [23, 20, 64, 64]
    np.save(tmp_path / "mnist_test_seq.npy", sequences.swapaxes(0, 1))  # time first
    status, _, _ = cli("data", "from-moving-mnist-npy", tmp_path / "mnist_test_seq.npy",
                       "--out", tmp_path / "d")
    assert status == 0
    np.testing.assert_array_equal(stored(tmp_path / "d", "test"), sequences[::10, ..., None])
    np.testing.assert_array_equal(stored(tmp_path / "d", "train"),
                                  np.delete(sequences, np.s_[::10], axis=0)[..., None])
    assert {r.norm_scale for r in read_map(tmp_path / "d")} == {255.0}
    assert cli("data", "verify", tmp_path / "d")[0] == 0


def write_npz(path: Path, raw: np.ndarray, clips: np.ndarray, /, compressed: bool = False,
              **replace: np.ndarray | None) -> None:
    """The E3D-LSTM / PredRNN layout: frames [T, 1, 64, 64], clips [2, N, 2], dims [[1, 64, 64]];
    `replace` swaps an array, or drops it when None."""
    arrays = {"clips": clips, "dims": np.array([[1, 64, 64]], np.int32),
              "input_raw_data": raw, **replace}
    save = np.savez_compressed if compressed else np.savez
    save(path, **{key: value for key, value in arrays.items() if value is not None})


def predrnn_clips(count: int, order: np.ndarray | None = None) -> np.ndarray:
    """Clip i: frames 20i..20i+9 as input, 20i+10..20i+19 as output; listed in `order`."""
    start = 20 * np.arange(count) if order is None else 20 * order
    return np.stack([np.stack([start, np.full(count, 10)], axis=1),
                     np.stack([start + 10, np.full(count, 10)], axis=1)]).astype(np.int32)


def test_npz_importer_round_trips_clips_in_their_order(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "_CHUNK", 3)
    frames = render(draw(4, 0, 12), 20)  # [12, 20, 64, 64, 1]
    raw = (frames.transpose(0, 1, 4, 2, 3).reshape(-1, 1, 64, 64) / np.float32(255))
    order = np.random.default_rng(0).permutation(5)  # backward seeks through the member
    write_npz(tmp_path / "moving-mnist-train.npz", raw[: 7 * 20], predrnn_clips(7))
    write_npz(tmp_path / "moving-mnist-valid.npz", raw[7 * 20 :], predrnn_clips(5, order),
              compressed=True)
    status, _, _ = cli("data", "from-moving-mnist-npz", tmp_path / "moving-mnist-train.npz",
                       tmp_path / "moving-mnist-valid.npz", "--out", tmp_path / "d")
    assert status == 0
    expected = frames / np.float32(255)
    np.testing.assert_array_equal(stored(tmp_path / "d", "train"), expected[:7])
    np.testing.assert_array_equal(stored(tmp_path / "d", "test"), expected[7:][order])
    assert {(r.dtype, r.norm_scale) for r in read_map(tmp_path / "d")} == {("float32", 1.0)}
    assert cli("data", "verify", tmp_path / "d")[0] == 0


def test_npz_of_uint8_frames_keeps_them_uint8(cli, tmp_path):
    frames = render(draw(5, 0, 3), 20)
    write_npz(tmp_path / "mnist_test.npz", frames.transpose(0, 1, 4, 2, 3).reshape(-1, 1, 64, 64),
              predrnn_clips(3))
    assert cli("data", "from-moving-mnist-npz", tmp_path / "mnist_test.npz", "--out",
               tmp_path / "d")[0] == 0
    np.testing.assert_array_equal(stored(tmp_path / "d", "test"), frames)
    assert Dataset(tmp_path / "d", "test").norm_scale == 255.0


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def truncated_raw_npz(path: Path) -> None:
    """A valid archive whose input_raw_data member lacks its last frame's bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("input_raw_data.npy",
                         npy_bytes(np.zeros((40, 1, 64, 64), np.uint8))[:-100])
        archive.writestr("clips.npy", npy_bytes(predrnn_clips(2)))
        archive.writestr("dims.npy", npy_bytes(np.array([[1, 64, 64]])))


RAW = np.zeros((40, 1, 64, 64), np.float32)
BAD_NPZ = {
    "missing key": ({"dims": None}, "missing key(s) dims"),
    "clips shape": ({"clips": np.zeros((2, 2))}, "clips has shape (2, 2)"),
    "clips float": ({"clips": predrnn_clips(2).astype(np.float32)}, "expected integers"),
    "clip range": ({"clips": predrnn_clips(3)}, "clip 2 input reads frames 40..50"),
    "clip lengths": ({"clips": np.array([[[0, 10], [20, 10]], [[10, 10], [30, 9]]])},
                     "clip 1 has 19 frames"),
    "dims": ({"dims": np.array([[1, 32, 32]])}, "expected [frames, 1, 32, 32]"),
    "dtype": ({"input_raw_data": RAW.astype(np.float64)}, "input_raw_data is float64"),
    "range": ({"input_raw_data": RAW + 2}, "values outside [0, 1]"),
    "raw shape": ({"input_raw_data": RAW[:, 0]}, "input_raw_data has shape (40, 64, 64)"),
}


@pytest.mark.parametrize("case", BAD_NPZ)
def test_bad_npz_is_one_line_and_writes_nothing(cli, tmp_path, case):
    replace, message = BAD_NPZ[case]
    write_npz(tmp_path / "bad.npz", RAW, predrnn_clips(2), **replace)
    status, _, err = cli("data", "from-moving-mnist-npz", tmp_path / "bad.npz", "--out",
                           tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert "bad.npz" in err and not (tmp_path / "d").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.npz"]  # no temporary folder left


def garbage(path: Path) -> None:
    path.write_bytes(b"not an array at all" * 10)


def npy(array: np.ndarray) -> Callable[[Path], None]:
    """Writes `array` as a .npy at exactly the path given (np.save would add a suffix)."""
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            np.save(f, array)
    return write


def truncated_npy(path: Path) -> None:
    npy(np.zeros((20, 4, 64, 64), np.uint8))(path)
    with open(path, "r+b") as f:
        f.truncate(1000)


def npz_named_npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.savez(f, frames=np.zeros(1))


BAD_FILES = {
    "npy missing": ("from-moving-mnist-npy", lambda p: None, "cannot read"),
    "npy garbage": ("from-moving-mnist-npy", garbage, "not a .npy file"),
    "npy float": ("from-moving-mnist-npy", npy(np.zeros((20, 2, 64, 64), np.float32)),
                  "float32 array"),
    "npy 3-d": ("from-moving-mnist-npy", npy(np.zeros((20, 64, 64), np.uint8)),
                "(20, 64, 64)"),
    "npy one frame": ("from-moving-mnist-npy", npy(np.zeros((1, 5, 64, 64), np.uint8)),
                      "frames >= 2"),
    "npy is npz": ("from-moving-mnist-npy", npz_named_npy, "a .npz archive"),
    "npy truncated": ("from-moving-mnist-npy", truncated_npy, "not a valid .npy file"),
    "npz missing": ("from-moving-mnist-npz", lambda p: None, "cannot read"),
    "npz garbage": ("from-moving-mnist-npz", garbage, "not a .npz file"),
    "npz truncated": ("from-moving-mnist-npz", truncated_raw_npz, "truncated"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_is_one_line_and_writes_nothing(cli, tmp_path, case):
    command, make, message = BAD_FILES[case]
    make(tmp_path / "input")
    status, _, err = cli("data", command, tmp_path / "input", "--out", tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert "input" in err and not [p for p in tmp_path.iterdir() if p.name != "input"]


def test_generator_refuses_a_count_below_one(cli, tmp_path):
    status, _, err = cli("data", "moving-mnist", "--out", tmp_path / "d", "--count", "0")
    assert status == 2 and err.count("\n") == 1 and "--count" in err
    assert not (tmp_path / "d").exists()
