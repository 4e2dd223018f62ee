"""`twinport data from-tfrecord` on records written here in the seed's exact format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data import Dataset
from data.moving_objects import render, sample
from data.schema import read_map
from data.tfrecord import split_of, write_tfrecords

tf = pytest.importorskip("tensorflow")


def write_records(path: Path, sequences, key: str = "moving_objs") -> None:
    """As example_gen's _images_to_example: one float_list of H*W*3 values per frame."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for sequence in sequences:
            example = tf.train.SequenceExample()
            feature_list = example.feature_lists.feature_list[key]
            for frame in sequence:
                feature = feature_list.feature.add()
                feature.float_list.value.extend(np.reshape(frame, [-1]).tolist())
            writer.write(example.SerializeToString())


def test_imports_the_seed_records_as_the_generator_writes_them(cli, tmp_path,
                                                               moving_objects_dir):
    objects, is_test = sample(seed=0, count=200)
    frames = render(objects, seq_len=2).astype(np.float64)  # the seed's np.zeros images
    write_records(tmp_path / "tfrecords", frames[~is_test])
    write_records(tmp_path / "tfrecords_test", frames[is_test])
    status, out, _ = cli("data", "from-tfrecord", tmp_path / "tfrecords*", "--out",
                         tmp_path / "imported")
    assert status == 0 and "wrote" in out
    rows = read_map(tmp_path / "imported")
    assert {(r.split, r.dtype, r.norm_scale) for r in rows} == {("train", "float32", 1.0),
                                                               ("test", "float32", 1.0)}
    for split, count in (("train", 180), ("test", 20)):
        imported = Dataset(tmp_path / "imported", split)
        generated = Dataset(moving_objects_dir, split)
        assert len(imported) == count
        np.testing.assert_array_equal(imported.get(range(count)), generated.get(range(count)))


def test_norm_scale_divides_the_stored_floats(cli, tmp_path):
    values = np.random.default_rng(0).integers(0, 256, size=(5, 3, 8, 8, 3)).astype(np.float32)
    write_records(tmp_path / "sprites_test", values, key="frames")
    status, _, _ = cli("data", "from-tfrecord", tmp_path / "sprites_test", "--out",
                       tmp_path / "d", "--feature", "frames", "--image-size", "8",
                       "--seq-len", "3", "--norm-scale", "255")
    assert status == 0
    np.testing.assert_array_equal(np.load(tmp_path / "d" / "test_00000.npy"), values)
    dataset = Dataset(tmp_path / "d", "test")
    assert (dataset.seq_len, dataset.frame_shape, dataset.norm_scale) == (3, (8, 8, 3), 255.0)
    np.testing.assert_array_equal(dataset.get(range(5)), values / np.float32(255))


def test_streams_many_records_into_bounded_shards_in_order(tmp_path):
    values = np.arange(600 * 2 * 4 * 4 * 3, dtype=np.float32).reshape(600, 2, 4, 4, 3)
    write_records(tmp_path / "a.tfrecord", values[:400])
    write_records(tmp_path / "b.tfrecord", values[400:])
    rows = write_tfrecords(str(tmp_path / "*.tfrecord"), tmp_path / "d", image_size=4,
                           shard_size=128)
    assert [r.num_sequences for r in rows] == [128] * 4 + [88]
    stored = np.concatenate([np.load(tmp_path / "d" / r.img_np_path) for r in rows])
    np.testing.assert_array_equal(stored, values)


@pytest.mark.parametrize("name, split", [("tfrecords", "train"), ("tfrecords_test", "test"),
                                         ("moving_test.rec", "test"), ("Test-0", "test"),
                                         ("train-00001", "train")])
def test_split_rule_reads_the_file_name(name, split):
    assert split_of(Path("/pytest-of-x/test_dir") / name) == split


def test_record_with_wrong_float_count_is_refused_whole(cli, tmp_path):
    good = np.zeros((300, 2, 8, 8, 3), np.float32)
    records = tmp_path / "records"
    write_records(records, [*good, np.zeros((2, 8, 7, 3))])
    status, out, err = cli("data", "from-tfrecord", records, "--out", tmp_path / "d",
                           "--image-size", "8")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and str(records) in err and "record 300" in err
    assert "336 floats" in err and "384" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records"]


def test_wrong_feature_key_is_refused(cli, tmp_path):
    write_records(tmp_path / "records", np.zeros((2, 2, 4, 4, 3)))
    status, _, err = cli("data", "from-tfrecord", tmp_path / "records", "--out",
                         tmp_path / "d", "--image-size", "4", "--feature", "frames")
    assert status == 2 and err.count("\n") == 1 and "'frames'" in err and "record 0" in err
    assert not (tmp_path / "d").exists()


def test_pattern_matching_nothing_is_refused(cli, tmp_path):
    status, _, err = cli("data", "from-tfrecord", tmp_path / "nothing*", "--out", tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and "nothing*: no files match" in err
    assert not list(tmp_path.iterdir())


def test_a_file_that_is_not_records_is_refused(cli, tmp_path):
    (tmp_path / "junk").write_bytes(b"this is not a TFRecord file at all")
    status, _, err = cli("data", "from-tfrecord", tmp_path / "junk", "--out", tmp_path / "d")
    assert status == 2 and err.count("\n") == 1 and str(tmp_path / "junk") in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk"]
