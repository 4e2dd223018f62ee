"""`twinport data moving-objects`: the seed's example_gen, vectorized."""

from __future__ import annotations

import numpy as np
import pytest

from data import Dataset
from data.moving_objects import GRID_SIZE, Objects, render, sample
from data.schema import read_map


def seed_example_gen(objects: Objects, i: int) -> np.ndarray:
    """The seed's _add_object loop for both objects of sequence i (its two frames)."""
    image, image2 = np.zeros([64, 64, 3]), np.zeros([64, 64, 3])
    for k, obj_type in enumerate(["rectangle", "square"]):
        xpos, ypos = objects.row[i, k], objects.col[i, k]
        obj_size, channel, move = objects.size[i, k], objects.channel[i, k], objects.move[i, k]
        obj = np.zeros([obj_size, obj_size, 3])
        if obj_type == "rectangle":
            xpos2, ypos2 = xpos + move, ypos
            for r in range(obj_size):
                obj[r, 0 : r + 1, channel] = 1.0
        else:
            xpos2, ypos2 = xpos, ypos + move
            obj[:, :, channel] = 1.0
        for x in range(obj_size):
            for y in range(obj_size):
                if obj[x, y, channel] == 1.0:
                    image[xpos + x, ypos + y, channel] = 1.0
                    image2[xpos2 + x, ypos2 + y, channel] = 1.0
    return np.stack([image, image2])


def test_render_matches_the_seed_loop_pixel_for_pixel():
    objects, _ = sample(seed=3, count=150)
    frames = render(objects, seq_len=2)
    assert frames.dtype == np.uint8 and frames.shape == (150, 2, 64, 64, 3)
    for i in range(len(objects)):
        np.testing.assert_array_equal(frames[i], seed_example_gen(objects, i), err_msg=f"#{i}")


def test_sample_covers_the_seed_grid_with_seed_ranges():
    objects, is_test = sample(seed=0)
    assert len(objects) == GRID_SIZE == 14**4
    starts = {tuple(p) for p in np.concatenate([objects.row, objects.col], axis=1)}
    assert len(starts) == GRID_SIZE  # every (xpos, ypos, xpos2, ypos2) once
    assert set(np.unique(objects.row)) == set(range(0, 40, 3))
    assert set(np.unique(objects.size)) == {8, 9, 10}
    assert set(np.unique(objects.channel)) == {0, 1, 2}
    assert set(np.unique(objects.move)) == {6, 7, 8, 9, 10}
    assert is_test.sum() == 3842 and is_test[::10].all()


def test_generated_objects_move_by_move_rows_and_columns(cli, tmp_path):
    status, out, _ = cli("data", "moving-objects", "--out", tmp_path / "d", "--count", "60",
                         "--seed", "5")
    assert status == 0 and "train" in out
    objects, is_test = sample(seed=5, count=60)
    raw = np.load(tmp_path / "d" / "train_00000.npy")
    assert raw.shape == (54, 2, 64, 64, 3) and raw.dtype == np.uint8
    assert set(np.unique(raw)) == {0, 1}
    train = objects[~is_test]
    checked = 0
    for frames, (tri, sq), (tri_move, sq_move) in zip(raw, train.channel, train.move,
                                                      strict=True):
        if tri == sq:
            continue  # both objects share a channel: their shifts are not separable
        before, after = frames[0], frames[1]
        np.testing.assert_array_equal(np.roll(before[..., tri], tri_move, axis=0),
                                      after[..., tri])
        np.testing.assert_array_equal(np.roll(before[..., sq], sq_move, axis=1),
                                      after[..., sq])
        checked += 1
    assert checked > 20


def test_longer_sequences_bounce_at_the_borders_at_constant_speed():
    # Triangle at row 30 moving 10 rows per frame, square at column 39 moving 7: both bounce.
    objects = Objects(row=np.array([[30, 5]]), col=np.array([[2, 39]]), size=np.array([[9, 10]]),
                      channel=np.array([[0, 1]]), move=np.array([[10, 7]]))
    frames = render(objects, seq_len=9)[0]

    tri_rows = [np.flatnonzero(f[..., 0].any(axis=1))[0] for f in frames]
    sq_cols = [np.flatnonzero(f[..., 1].any(axis=0))[0] for f in frames]
    # The corner may go up to 64 - size (55 and 54), then comes back at the same speed.
    assert tri_rows == [30, 40, 50, 50, 40, 30, 20, 10, 0]
    assert sq_cols == [39, 46, 53, 48, 41, 34, 27, 20, 13]
    assert [f[..., 0].sum() for f in frames] == [45] * 9  # the whole triangle, every frame
    assert [f[..., 1].sum() for f in frames] == [100] * 9


def test_split_is_nine_to_one(moving_objects_dir):
    assert len(Dataset(moving_objects_dir, "train")) == 180
    assert len(Dataset(moving_objects_dir, "test")) == 20


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    from data.moving_objects import write_moving_objects

    first = write_moving_objects(tmp_path / "a", seed=7, count=120)
    again = write_moving_objects(tmp_path / "b", seed=7, count=120)
    other = write_moving_objects(tmp_path / "c", seed=8, count=120)
    assert [r.sha256 for r in first] == [r.sha256 for r in again]
    for row in first:
        assert (tmp_path / "a" / row.img_np_path).read_bytes() == (
            tmp_path / "b" / row.img_np_path).read_bytes()
    assert not {r.sha256 for r in first} & {r.sha256 for r in other}


def test_count_takes_a_prefix_of_the_full_shuffled_grid(tmp_path, moving_objects_dir):
    from data.moving_objects import write_moving_objects

    write_moving_objects(tmp_path / "small", seed=0, count=50)
    small = Dataset(tmp_path / "small", "train")
    large = Dataset(moving_objects_dir, "train")
    np.testing.assert_array_equal(small.get(range(45)), large.get(range(45)))


def test_map_describes_the_shards(moving_objects_dir):
    rows = read_map(moving_objects_dir)
    assert [r.num_sequences for r in rows if r.split == "train"] == [64, 64, 52]
    for row in rows:
        assert (row.seq_len, row.height, row.width, row.channels) == (2, 64, 64, 3)
        assert (row.dtype, row.norm_scale) == ("uint8", 1.0)
        assert (moving_objects_dir / row.img_bitmap_path).stat().st_size > 0


@pytest.mark.parametrize("argv", [["--count", "0"], ["--count", str(GRID_SIZE + 1)],
                                  ["--seq-len", "1"]])
def test_bad_options_are_one_line_errors(cli, tmp_path, argv):
    status, _, err = cli("data", "moving-objects", "--out", tmp_path / "d", *argv)
    assert status == 2 and err.count("\n") == 1 and argv[0] in err
    assert not list(tmp_path.iterdir())
