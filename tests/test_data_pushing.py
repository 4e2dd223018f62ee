"""The pushing generator, and the optional action / state columns of the dataset format."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from common.errors import UserError
from data import Dataset
from data.pushing import (
    IMAGE_SIZE,
    MAX_SPEED,
    PUSHER_RADIUS,
    Scene,
    draw,
    push,
    simulate,
    walk,
    write_pushing,
)
from data.schema import COLUMNS, read_map
from data.verify import verify


def stored(root: Path, split: str, column: str) -> np.ndarray:
    """A split's arrays from `column` as written, concatenated in map order."""
    return np.concatenate([np.load(root / getattr(row, column)) for row in read_map(root)
                           if row.split == split])


def test_generated_set_shapes_split_columns_and_loader(cli, tmp_path):
    status, out, _ = cli("data", "pushing", "--out", tmp_path / "d", "--count", "30",
                         "--seed", "2")
    assert status == 0 and "wrote" in out
    with open(tmp_path / "d" / "map.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == [*COLUMNS, "action_np_path", "state_np_path"]
    assert {"id", "img_bitmap_path", "img_np_path", "action_np_path", "state_np_path"} <= \
        set(header)  # the seed's columns
    rows = read_map(tmp_path / "d")
    assert {(r.split, r.seq_len, r.height, r.width, r.channels, r.dtype, r.norm_scale)
            for r in rows} == {(s, 12, 64, 64, 3, "uint8", 255.0) for s in ("train", "test")}
    frames, actions, states = simulate(draw(2, 0, 12, 30))
    assert actions.shape == states.shape == (30, 12, 2)
    assert actions.dtype == states.dtype == np.float32
    for column, expected in (("img_np_path", frames), ("action_np_path", actions),
                             ("state_np_path", states)):
        np.testing.assert_array_equal(stored(tmp_path / "d", "test", column), expected[::10])
        np.testing.assert_array_equal(stored(tmp_path / "d", "train", column),
                                      np.delete(expected, np.s_[::10], axis=0))
    test = Dataset(tmp_path / "d", "test")
    assert test.vector_names == ("actions", "states")
    arrays = test.get_arrays([2, 0])
    np.testing.assert_array_equal(arrays["images"], test.get([2, 0]))
    np.testing.assert_array_equal(arrays["actions"], actions[[20, 0]])
    np.testing.assert_array_equal(arrays["states"], states[[20, 0]])
    assert cli("data", "verify", tmp_path / "d")[0] == 0


def test_batches_with_arrays_follow_the_image_stream(tmp_path):
    write_pushing(tmp_path / "d", seed=1, count=40, shard_size=7)
    train = Dataset(tmp_path / "d", "train")
    images = list(train.batches(4, seed=3, epochs=2))
    arrays = list(train.batches(4, seed=3, epochs=2, arrays=True))
    resumed = next(train.batches(4, seed=3, start_step=11, arrays=True))
    assert len(arrays) == len(images) == 2 * (36 // 4)
    for image, array in zip(images, arrays, strict=True):
        np.testing.assert_array_equal(array["images"], image)
        assert array["actions"].shape == array["states"].shape == (4, 12, 2)
    for name in ("images", "actions", "states"):
        np.testing.assert_array_equal(resumed[name], arrays[11][name])


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    first = write_pushing(tmp_path / "a", seed=7, count=25, shard_size=8)
    write_pushing(tmp_path / "b", seed=7, count=25, shard_size=8)
    other = write_pushing(tmp_path / "c", seed=8, count=25, shard_size=8)
    names = ["map.csv"] + [path for row in first
                           for path in (row.img_np_path, row.action_np_path, row.state_np_path)]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not {r.sha256 for r in first} & {r.sha256 for r in other}


def test_count_takes_a_prefix_across_blocks():
    assert np.array_equal(draw(3, 0, count=40).centre, draw(3, 0).centre[:40])
    assert not np.array_equal(draw(3, 1, count=40).centre, draw(3, 0, count=40).centre)
    small, large = simulate(draw(3, 1, count=3)), simulate(draw(3, 1))
    for part, whole in zip(small, large, strict=True):
        np.testing.assert_array_equal(part, whole[:3])


def test_the_state_follows_the_actions_smoothly_inside_the_table():
    states, actions = walk(draw(0, 0, seq_len=20))
    np.testing.assert_allclose(states[:, 1:], states[:, :-1] + actions[:, :-1], atol=1e-4)
    assert states.min() >= PUSHER_RADIUS and states.max() <= IMAGE_SIZE - 1 - PUSHER_RADIUS
    speed = np.linalg.norm(actions, axis=-1)
    assert speed.max() <= MAX_SPEED + 1e-4 and speed.mean() > 1  # it keeps moving
    # Smooth: consecutive actions change less than they would if drawn independently.
    turn = np.linalg.norm(np.diff(actions, axis=1), axis=-1).mean()
    assert turn < 0.5 * speed.mean()


def two_objects(pusher_row: float) -> Scene:
    """One sequence: a square at (32, 32) of radius 5 in the pusher's path, a disc at (10, 54)
    far away; the pusher starts at (pusher_row, 20) and walks right at 2 px per frame."""
    seq_len = 10
    return Scene(start=np.array([[pusher_row, 20.0]]), noise=np.zeros((1, seq_len, 2)),
                 active=np.array([[True, True, False]]), disc=np.array([[False, True, True]]),
                 radius=np.array([[5, 5, 5]]), colour=np.array([[0, 1, 2]]),
                 centre=np.array([[[32.0, 32.0], [10.0, 54.0], [50.0, 10.0]]]))


def test_an_object_the_pusher_touches_moves_with_it_and_a_far_one_does_not():
    scene = two_objects(pusher_row=32.0)
    states = np.stack([np.full(10, 32.0), 20.0 + 2 * np.arange(10)], axis=-1)[None]
    actions = np.broadcast_to(np.float32([0, 2]), (1, 10, 2)).astype(np.float32)
    centres = push(scene, states.astype(np.float32), actions)  # [1, 10, 3, 2]
    # Pusher at col 20 + 2t, reach 4 + 5: it meets the square once its next col > 23.
    square = centres[0, :, 0]
    np.testing.assert_array_equal(square[:, 0], 32.0)
    np.testing.assert_array_equal(square[:, 1], [32, 32, 34, 36, 38, 40, 42, 44, 46, 48])
    np.testing.assert_array_equal(centres[0, :, 1], np.broadcast_to([10.0, 54.0], (10, 2)))
    np.testing.assert_array_equal(centres[0, :, 2], np.broadcast_to([50.0, 10.0], (10, 2)))
    # A pusher passing 12 rows above the square never touches it.
    beside = two_objects(pusher_row=20.0)
    states[..., 0] = 20.0
    np.testing.assert_array_equal(push(beside, states.astype(np.float32), actions)[0, :, 0],
                                  np.broadcast_to([32.0, 32.0], (10, 2)))


def test_rendered_frames_show_the_pusher_at_its_state():
    frames, _, states = simulate(draw(4, 0, count=8))
    assert frames.shape == (8, 12, 64, 64, 3) and frames.dtype == np.uint8
    row, col = np.rint(states).astype(int).transpose(2, 0, 1)
    centre = frames[np.arange(8)[:, None], np.arange(12), row, col]  # [8, 12, 3]
    assert (centre == [40, 40, 48]).all()


def test_seq_len_below_ten_is_refused(cli, tmp_path):
    status, _, err = cli("data", "pushing", "--out", tmp_path / "d", "--seq-len", "9")
    assert status == 2 and err.count("\n") == 1 and "--seq-len" in err
    assert not (tmp_path / "d").exists()


def test_old_datasets_without_the_new_columns_still_load(moving_objects_dir):
    with open(moving_objects_dir / "map.csv", newline="") as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    train = Dataset(moving_objects_dir, "train")
    assert train.vector_names == ()
    arrays = train.get_arrays([0, 1])
    assert list(arrays) == ["images"] and arrays["images"].shape == (2, 2, 64, 64, 3)


def test_a_bad_state_shard_is_one_named_error(tmp_path):
    rows = write_pushing(tmp_path / "d", seed=0, count=12)
    state = tmp_path / "d" / rows[0].state_np_path
    np.save(state, np.zeros((1, 12, 2), np.float32))
    with pytest.raises(UserError, match="states.npy: float32 \\(1, 12, 2\\) but map.csv"):
        Dataset(tmp_path / "d", rows[0].split)
    state.write_bytes(state.read_bytes()[:-8])  # truncated
    with pytest.raises(UserError, match="states.npy: not a valid .npy file"):
        verify(tmp_path / "d")
    state.unlink()
    with pytest.raises(UserError, match="missing states array"):
        verify(tmp_path / "d")
