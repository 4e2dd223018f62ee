"""`twinport data from-push-tfrecord` on records written here in prediction_input.py's format."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from data import Dataset
from data.push_tfrecord import split_files, write_push_tfrecords
from data.schema import COLUMNS, read_map

tf = pytest.importorskip("tensorflow")

# The feature keys as prediction_input.py spells them (image, state, action).
GOOGLE = ("move/{}/image/encoded", "move/{}/endeffector/vec_pitch_yaw",
          "move/{}/commanded_pose/vec_pitch_yaw")
BERKELEY = ("{}/image_aux1/encoded", "{}/endeffector_pos", "{}/action")


def example(features: dict[str, bytes | np.ndarray]) -> bytes:
    """A serialized tf.train.Example: bytes as a bytes_list of one, arrays as a float_list."""
    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
               if isinstance(value, bytes)
               else tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(value)))
               for key, value in features.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def push_record(keys: tuple[str, str, str], images: list[bytes], states: np.ndarray,
                actions: np.ndarray) -> bytes:
    """One record of len(images) steps: image, state and action of each."""
    return example({key.format(step): value for step in range(len(images))
                    for key, value in zip(keys, (images[step], states[step], actions[step]),
                                          strict=True)})


def write_file(path: Path, records: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def camera_image(rng: np.random.Generator) -> np.ndarray:
    """A 512x640x3 uint8 frame with smooth shading, edges and noise (a JPEG of ~50 KB)."""
    rows, cols = np.mgrid[0:512, 0:640]
    image = np.stack([rows / 2, cols / 2.5, (rows + cols) / 4.5], axis=-1)
    top, left = rng.integers(0, 400, size=2)
    image[top:top + 100, left:left + 120] = rng.integers(0, 256, size=3)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


def legacy_bicubic(image: np.ndarray, size: int) -> np.ndarray:
    """TF1's resize_bicubic(align_corners=False) in float64, from its definition: output pixel
    o samples source x = o * in / out with Keys' cubic (a = -0.75) on taps floor(x) - 1 ..
    floor(x) + 2, indices clamped to the image."""

    def matrix(n_in: int) -> np.ndarray:
        x = np.arange(size) * (n_in / size)
        taps = np.floor(x)[:, None] + np.arange(-1, 3)
        d, a = np.abs(x[:, None] - taps), -0.75
        w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                     np.where(d < 2, ((d - 5) * d + 8) * d * a - 4 * a, 0))
        m = np.zeros((size, n_in))
        taps = np.clip(taps, 0, n_in - 1).astype(int)
        np.add.at(m, (np.repeat(np.arange(size), 4), taps.ravel()), w.ravel())
        return m

    return np.einsum("ri,ijc,sj->rsc", matrix(image.shape[0]), image.astype(np.float64),
                     matrix(image.shape[1]), optimize=True)


def test_google_records_import_as_tf_reads_them(cli, tmp_path):
    rng = np.random.default_rng(0)
    steps, records_per_file = 12, 2  # records hold more steps than the default --seq-len 10
    written = []  # per record: (jpegs, states, actions), in file order
    for f in range(3):
        records = []
        for _ in range(records_per_file):
            jpegs = [tf.io.encode_jpeg(camera_image(rng)).numpy() for _ in range(steps)]
            states, actions = (rng.normal(size=(steps, 5)).astype(np.float32) for _ in "sa")
            records.append(push_record(GOOGLE, jpegs, states, actions))
            written.append((jpegs, states, actions))
        write_file(tmp_path / "push" / f"push_train.tfrecord-{f:05d}-of-00003", records)
    status, out, _ = cli("data", "from-push-tfrecord", tmp_path / "push", "--out",
                         tmp_path / "d")
    assert status == 0 and "wrote" in out
    with open(tmp_path / "d" / "map.csv", newline="") as f:
        assert next(csv.reader(f)) == [*COLUMNS, "action_np_path", "state_np_path"]
    rows = read_map(tmp_path / "d")
    assert {(r.split, r.seq_len, r.height, r.width, r.channels, r.dtype, r.norm_scale)
            for r in rows} == {(s, 10, 64, 64, 3, "float32", 1.0) for s in ("train", "test")}
    # floor(0.95 * 3) = 2 files of train, 1 of test, records in file order.
    for split, first, count in (("train", 0, 4), ("test", 4, 2)):
        dataset = Dataset(tmp_path / "d", split)
        assert len(dataset) == count and dataset.vector_names == ("actions", "states")
        arrays = dataset.get_arrays(range(count))
        for i, (jpegs, states, actions) in enumerate(written[first:first + count]):
            decoded = tf.stack([tf.io.decode_jpeg(jpeg, channels=3) for jpeg in jpegs[:10]])
            resized = tf.compat.v1.image.resize_bicubic(decoded, (64, 64), align_corners=False,
                                                        half_pixel_centers=False)
            expected = (tf.cast(resized, tf.float32) / 255.0).numpy()
            np.testing.assert_array_equal(arrays["images"][i], expected)
            # The scales 512/64 and 640/64 are whole, so the bicubic samples pixel (8r, 10c).
            np.testing.assert_array_equal(
                expected, decoded.numpy()[:, ::8, ::10].astype(np.float32) / np.float32(255))
            np.testing.assert_allclose(arrays["images"][i, 3],
                                       legacy_bicubic(decoded[3].numpy(), 64) / 255, atol=1e-6)
            np.testing.assert_array_equal(arrays["states"][i], states[:10])
            np.testing.assert_array_equal(arrays["actions"][i], actions[:10])
    batch = next(Dataset(tmp_path / "d", "train").batches(2, seed=0, arrays=True))
    assert {k: v.shape for k, v in batch.items()} == {
        "images": (2, 10, 64, 64, 3), "actions": (2, 10, 5), "states": (2, 10, 5)}
    assert cli("data", "verify", tmp_path / "d")[0] == 0


def test_berkeley_records_keep_order_and_pad_the_state_as_tf_pad_does(cli, tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(45, 3, 64, 64, 3), dtype=np.uint8)
    states = rng.normal(size=(45, 3, 3)).astype(np.float32)
    actions = rng.normal(size=(45, 3, 4)).astype(np.float32)
    records = [push_record(BERKELEY, [frame.tobytes() for frame in images[i]], states[i],
                           actions[i]) for i in range(45)]
    write_file(tmp_path / "push" / "a", records[:40])  # more than one parse batch of 32
    write_file(tmp_path / "push" / "b", records[40:])
    rows = write_push_tfrecords(tmp_path / "push", tmp_path / "d", fmt="berkeley", seq_len=3,
                                split=0.5, shard_size=16)
    assert [(r.split, r.num_sequences) for r in rows] == [("train", 16), ("train", 16),
                                                         ("train", 8), ("test", 5)]
    # tf.pad(state, [[0, 0], [1, 4 - 3]]): a zero before the 3 values and one after.
    padded = np.concatenate([np.zeros((45, 3, 1)), states, np.zeros((45, 3, 1))], axis=-1)
    for split, part in (("train", np.s_[:40]), ("test", np.s_[40:])):
        arrays = Dataset(tmp_path / "d", split).get_arrays(range(len(images[part])))
        np.testing.assert_array_equal(arrays["images"],
                                      images[part].astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(arrays["states"], padded[part].astype(np.float32))
        np.testing.assert_array_equal(arrays["actions"], actions[part])
    assert cli("data", "verify", tmp_path / "d")[0] == 0


@pytest.mark.parametrize("files, split, train", [(1, 0.95, 0), (3, 0.95, 2), (20, 0.95, 19),
                                                 (264, 0.95, 250), (5, 0.0, 0), (5, 1.0, 5)])
def test_split_takes_the_first_floor_of_split_times_n_files_for_train(files, split, train):
    paths = [Path(f"f{i:03d}") for i in range(files)]
    assert split_files(paths, split) == [(p, "train") for p in paths[:train]] + [
        (p, "test") for p in paths[train:]]


# -- bad input: one line, exit status 2, nothing written ----------------------------------------

def berkeley_file(steps: int = 3, count: int = 2, drop: str | None = None,
                  state: np.ndarray | None = None,
                  image: bytes = bytes(64 * 64 * 3)) -> Callable[[Path], None]:
    """Writes `in/records`: `count` Berkeley records of `steps` steps, the last of which lacks
    key `drop` or has `state` at step 1."""

    def setup(folder: Path) -> None:
        records = []
        for i in range(count):
            features = {key.format(t): value for t in range(steps) for key, value in
                        zip(BERKELEY, (image, np.zeros(3), np.zeros(4)), strict=True)}
            if i == count - 1:
                features.pop(drop, None)
                if state is not None:
                    features["1/endeffector_pos"] = state
            records.append(example(features))
        write_file(folder / "records", records)

    return setup


def google_file(image: bytes) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        write_file(folder / "records", [push_record(GOOGLE, [image] * 2, np.zeros((2, 5)),
                                                    np.zeros((2, 5)))])

    return setup


def junk_file(folder: Path) -> None:
    folder.mkdir()
    (folder / "records").write_bytes(b"this is not a TFRecord file at all")


def a_sub_folder(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)


BAD = {
    "no files": ([], lambda folder: folder.mkdir(), "{in}: no files match {in}/*"),
    "no folder": ([], None, "{in}: not a folder"),
    "a sub-folder": ([], a_sub_folder, "{in}/sub: a folder"),
    "not a TFRecord file": ([], junk_file, "{in}/records: not a file of tf.train.Example"),
    "a record missing a feature": (
        ["--format", "berkeley", "--seq-len", "3"], berkeley_file(drop="2/action"),
        "{in}/records: record 1 has no '2/action' (step 2)"),
    "missing feature past the first batch": (
        ["--format", "berkeley", "--seq-len", "3"],
        berkeley_file(count=36, drop="0/image_aux1/encoded"),
        "{in}/records: record 35 has no '0/image_aux1/encoded' (step 0)"),
    "--seq-len past the records' steps": (
        ["--format", "berkeley", "--seq-len", "4"], berkeley_file(),
        "{in}/records: record 0 has no '3/image_aux1/encoded' (step 3): every record needs "
        "steps 0..3 of the berkeley format (check --seq-len and --format)"),
    "--seq-len 1": (["--seq-len", "1"], berkeley_file(), "need --seq-len >= 2"),
    "--split above 1": (["--split", "1.5"], berkeley_file(), "0 <= --split <= 1, got 10 and 1.5"),
    "the wrong --format": ([], berkeley_file(),
                           "record 0 has no 'move/0/image/encoded' (step 0)"),
    "a state of the wrong size": (
        ["--format", "berkeley", "--seq-len", "3"], berkeley_file(state=np.zeros(5)),
        "record 1 has 5 values under '1/endeffector_pos', expected 3 (check --format)"),
    "raw image of the wrong size": (
        ["--format", "berkeley", "--seq-len", "3"], berkeley_file(image=bytes(100)),
        "record 0: '0/image_aux1/encoded' is not a raw uint8 image of 64x64x3 (cannot decode"),
    "an image that is not a JPEG": (
        ["--seq-len", "2"], google_file(b"not a jpeg"),
        "record 0: 'move/0/image/encoded' is not a JPEG image of 512x640x3 (cannot decode"),
    "a JPEG of the wrong size": (
        ["--seq-len", "2"], google_file(tf.io.encode_jpeg(np.zeros((48, 80, 3), np.uint8))
                                        .numpy()),
        "record 0: 'move/0/image/encoded' is not a JPEG image of 512x640x3 (it is 48x80x3)"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, name):
    options, setup, expect = BAD[name]
    folder = tmp_path / "in"
    if setup:
        setup(folder)
    status, out, err = cli("data", "from-push-tfrecord", folder, "--out", tmp_path / "d",
                           *options)
    assert status == 2 and out == "", (status, out, err)
    assert err.startswith("twinport: error: ") and err.count("\n") == 1, err
    assert expect.format(**{"in": folder}) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in"] if setup else [])
