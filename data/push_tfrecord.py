"""`twinport data from-push-tfrecord`: the push data of Finn, Goodfellow & Levine (NIPS 2016).

Reads its TFRecord files as tensorflow/models `research/video_prediction/prediction_input.py`
(`build_tfrecord_input`) does, with `use_state`:

- **Files:** every entry of `DIR` (`gfile.Glob(DIR/*)`, hidden files included), sorted; the
  first `floor(split * n)` files are train, the rest test (its validation, `train_val_split`
  0.95). Records in file order; a sub-folder is refused (TF would fail reading it).
- **Records:** one `tf.train.Example` each. Step i of the first `seq_len` has one image, a
  state and an action (FixedLenFeature: exactly 1, `state_dim` and `action_dim` values):
  Google format `move/{i}/image/encoded` (JPEG, 512x640x3), `move/{i}/endeffector/vec_pitch_yaw`
  [5], `move/{i}/commanded_pose/vec_pitch_yaw` [5]; Berkeley format `{i}/image_aux1/encoded`
  (raw uint8 bytes, 64x64x3), `{i}/endeffector_pos` [3], `{i}/action` [4].
- **Frames:** `decode_jpeg(channels=3)` (or `decode_raw` reshaped), `central_crop` by 64/64 =
  1.0 (no crop), TF1's `resize_images(..., (64, 64), BICUBIC)` = `resize_bicubic` with
  `align_corners=False` and no half-pixel centres (skipped when the image is already 64x64, as
  TF1 did), then `cast(float32) / 255`. From 512x640 the scales are 8 and 10, whole numbers, so
  this bicubic samples pixel (8r, 10c) exactly. Stored as float32 with `norm_scale` 1; values
  are kept as computed (no clipping).
- **States and actions:** float32 `[N, L, dim]`. When the dims differ the state gets
  `tf.pad(state, [[0, 0], [1, |action_dim - state_dim|]])`: one zero **before** and the
  difference after, a quirk reproduced exactly, so a Berkeley state is 0, x, y, z, 0 (5 long)
  while its action is 4 long. Google states and actions are both 5 long, unpadded.

Records are parsed `_BATCH` at a time and their images decoded in parallel through `tf.data`,
shards written as they fill, so memory does not grow with the input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from common.tf_startup import import_tensorflow
from data.schema import ShardRow
from data.writer import ShardWriter

IMAGE_SIZE = 64  # IMG_HEIGHT = IMG_WIDTH
CHANNELS = 3
SEQ_LEN = 10  # prediction_train.py's --sequence_length
TRAIN_VAL_SPLIT = 0.95  # prediction_train.py's --train_val_split
_BATCH = 32
_TF_NOISE = re.compile(r"\{\{.*?\}\}\s*|\s*\[Op:.*$")


@dataclass(frozen=True)
class PushFormat:
    """One of prediction_input.py's `get_google_format` / `get_berkeley_format`."""

    name: str
    image: str
    state: str
    action: str
    state_dim: int
    action_dim: int
    height: int
    width: int
    jpeg: bool  # else raw uint8 bytes

    def keys(self, step: int) -> tuple[str, str, str]:
        """The (image, state, action) feature keys of time step `step`."""
        return self.image.format(step), self.state.format(step), self.action.format(step)

    @property
    def state_padding(self) -> tuple[int, int]:
        """Zeros (before, after) each state: `[1, |action_dim - state_dim|]` when they differ."""
        gap = abs(self.action_dim - self.state_dim)
        return (1, gap) if gap else (0, 0)

    @property
    def vector_dims(self) -> dict[str, int]:
        return {"actions": self.action_dim, "states": self.state_dim + sum(self.state_padding)}


FORMATS = {
    "google": PushFormat("google", "move/{}/image/encoded", "move/{}/endeffector/vec_pitch_yaw",
                         "move/{}/commanded_pose/vec_pitch_yaw", 5, 5, 512, 640, jpeg=True),
    "berkeley": PushFormat("berkeley", "{}/image_aux1/encoded", "{}/endeffector_pos",
                           "{}/action", 3, 4, 64, 64, jpeg=False),
}


def split_files(files: list[Path], split: float) -> list[tuple[Path, str]]:
    """`(file, "train" | "test")`: the first `floor(split * len(files))` files are train."""
    index = int(np.floor(split * len(files)))
    return [(path, "train" if i < index else "test") for i, path in enumerate(files)]


def write_push_tfrecords(
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    fmt: str = "google",
    seq_len: int = SEQ_LEN,
    split: float = TRAIN_VAL_SPLIT,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Imports the first `seq_len` steps of every record of the files in `data_dir` into
    `out`: float32 frames with float32 actions and states; returns the map rows."""
    if seq_len < 2 or not 0 <= split <= 1:
        raise UserError(f"need --seq-len >= 2 and 0 <= --split <= 1, got {seq_len} and {split}")
    push_format = FORMATS[fmt]
    tf = import_tensorflow()
    if not Path(data_dir).is_dir():
        raise UserError(f"{data_dir}: not a folder (expected the folder of the push TFRecords)")
    files = sorted(Path(p) for p in tf.io.gfile.glob(os.path.join(data_dir, "*")))
    if not files:
        raise UserError(f"{data_dir}: no files match {os.path.join(data_dir, '*')}")
    folders = [path for path in files if path.is_dir()]
    if folders:
        raise UserError(f"{folders[0]}: a folder; every entry of {data_dir} must be a TFRecord "
                        "file (prediction_input.py reads them all)")
    seq_shape = (seq_len, IMAGE_SIZE, IMAGE_SIZE, CHANNELS)
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, seq_shape, "float32", 1.0, shard_size,
                             vector_dims=push_format.vector_dims)
        count = 0
        for path, name in progress(split_files(files, split), desc="from-push-tfrecord",
                                   unit="file"):
            for frames, actions, states in read_push_records(path, push_format, seq_len):
                writer.add(name, frames, actions=actions, states=states)
                count += len(frames)
        if not count:
            raise UserError(f"{data_dir}: the files hold no records")
        return writer.close()


def read_push_records(
    path: Path, push_format: PushFormat, seq_len: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frames `[B, L, 64, 64, 3]`, actions `[B, L, action_dim]`, padded states) float32
    batches of the file's records, each checked for every feature of its first L steps."""
    tf = import_tensorflow()
    keys = [key for step in range(seq_len) for key in push_format.keys(step)]
    types = (tf.string, tf.float32, tf.float32) * seq_len
    sizes = np.array((1, push_format.state_dim, push_format.action_dim) * seq_len)
    spec = {key: tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
            for key, dtype in zip(keys, types, strict=True)}
    first = 0
    try:
        for raw in tf.data.TFRecordDataset(str(path)).batch(_BATCH):
            parsed = tf.io.parse_example(raw, spec)
            lengths = np.stack([parsed[key].row_lengths().numpy() for key in keys], axis=1)
            _check_sizes(path, first, keys, lengths, sizes, push_format, seq_len)
            states = np.pad(_vectors(parsed, keys[1::3], push_format.state_dim),
                            [(0, 0), (0, 0), push_format.state_padding])
            actions = _vectors(parsed, keys[2::3], push_format.action_dim)
            buffers = tf.reshape(tf.stack([parsed[key].flat_values for key in keys[::3]], 1), [-1])
            frames = _frames(path, first, buffers, push_format, seq_len)
            yield frames.reshape(len(lengths), seq_len, *frames.shape[1:]), actions, states
            first += len(lengths)
    except tf.errors.OpError as error:
        raise UserError(f"{path}: not a file of tf.train.Example records "
                        f"({_reason(error)})") from None


def _check_sizes(path: Path, first: int, keys: list[str], lengths: np.ndarray,
                 sizes: np.ndarray, push_format: PushFormat, seq_len: int) -> None:
    """One line for the first record (then key) whose value count is not FixedLenFeature's."""
    bad = np.argwhere(lengths != sizes)
    if not len(bad):
        return
    record, k = bad[0]
    found, where = lengths[record, k], f"{path}: record {first + record}"
    if not found:
        raise UserError(f"{where} has no {keys[k]!r} (step {k // 3}): every record needs steps "
                        f"0..{seq_len - 1} of the {push_format.name} format "
                        "(check --seq-len and --format)")
    raise UserError(f"{where} has {found} values under {keys[k]!r}, expected {sizes[k]} "
                    "(check --format)")


def _vectors(parsed: dict, keys: list[str], dim: int) -> np.ndarray:
    """`[B, L, dim]` float32: the values of `keys`, one key per step (sizes already checked)."""
    return np.stack([parsed[key].flat_values.numpy().reshape(-1, dim) for key in keys], axis=1)


def _frames(path: Path, first: int, buffers, push_format: PushFormat, seq_len: int) -> np.ndarray:
    """`[B * L, 64, 64, 3]` float32 frames of the image buffers (record-major), decoded in
    parallel; one line naming the record and key of the first image not of the format."""
    tf = import_tensorflow()
    expected = (push_format.height, push_format.width, CHANNELS)

    def decode(buffer):
        if push_format.jpeg:
            image = tf.io.decode_jpeg(buffer, channels=CHANNELS)
        else:
            image = tf.reshape(tf.io.decode_raw(buffer, tf.uint8), expected)
        shape = tf.shape(image)
        if expected[:2] != (IMAGE_SIZE, IMAGE_SIZE):
            image = tf.raw_ops.ResizeBicubic(images=image[None], size=[IMAGE_SIZE, IMAGE_SIZE],
                                             align_corners=False, half_pixel_centers=False)[0]
        return tf.cast(image, tf.float32) / 255.0, shape

    def problem(i: int, found: str) -> UserError:
        kind = "a JPEG" if push_format.jpeg else "a raw uint8"
        return UserError(f"{path}: record {first + i // seq_len}: "
                         f"{push_format.keys(i % seq_len)[0]!r} is not {kind} image of "
                         f"{'x'.join(map(str, expected))} ({found})")

    dataset = tf.data.Dataset.from_tensor_slices(buffers).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE).batch(len(buffers))
    try:
        frames, shapes = (tensor.numpy() for tensor in dataset.get_single_element())
    except tf.errors.OpError as error:
        for i, buffer in enumerate(buffers):  # which one: decode them one at a time
            try:
                decode(buffer)
            except tf.errors.OpError as single:
                raise problem(i, f"cannot decode it: {_reason(single)}") from None
        raise UserError(f"{path}: records from {first}: {_reason(error)}") from None
    bad = np.flatnonzero((shapes != expected).any(axis=1))
    if len(bad):
        raise problem(int(bad[0]), f"it is {'x'.join(map(str, shapes[bad[0]]))}")
    return frames


def _reason(error) -> str:
    return _TF_NOISE.sub("", error.message.splitlines()[0])
