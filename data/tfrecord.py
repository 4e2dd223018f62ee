"""`twinport data from-tfrecord`: the seed's tf.SequenceExample records into shards.

Each record holds `seq_len` frames under one feature-list key, a float_list of
image_size*image_size*3 values per frame (reader.py's format). Files are read in sorted
order, records in file order, a batch at a time, so memory stays bounded.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from common.tf_startup import import_tensorflow
from data.schema import ShardRow
from data.writer import ShardWriter

CHANNELS = 3
_BATCH = 256
_TF_NOISE = re.compile(r"\{\{.*?\}\}\s*|\s*\[Op:.*$")


def split_of(path: Path) -> str:
    """The seed writes `<out>` and `<out>_test`: a file name containing "test" is test data."""
    return "test" if "test" in path.name.lower() else "train"


def write_tfrecords(
    pattern: str,
    out: str | os.PathLike,
    feature: str = "moving_objs",
    image_size: int = 64,
    seq_len: int = 2,
    norm_scale: float = 1.0,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Imports the records of the files matching `pattern` into `out` (float32 shards)."""
    if image_size < 1 or seq_len < 2 or not norm_scale > 0:
        raise UserError("need --image-size >= 1, --seq-len >= 2 and --norm-scale > 0, got "
                        f"{image_size}, {seq_len}, {norm_scale}")
    files = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    if not files:
        raise UserError(f"{pattern}: no files match")
    seq_shape = (seq_len, image_size, image_size, CHANNELS)
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, seq_shape, "float32", norm_scale, shard_size)
        count = 0
        for path in progress(files, desc="from-tfrecord", unit="file"):
            for batch in _read_records(path, feature, seq_shape):
                writer.add(split_of(path), batch)
                count += len(batch)
        if not count:
            raise UserError(f"{pattern}: the matching files hold no records")
        return writer.close()


def _read_records(
    path: Path, feature: str, seq_shape: tuple[int, int, int, int]
) -> Iterator[np.ndarray]:
    """`[B, *seq_shape]` float32 batches of the file's records, each checked for its size."""
    tf = import_tensorflow()

    spec = {feature: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64)}
    frame_floats = int(np.prod(seq_shape[1:]))
    first = 0
    try:
        for raw in tf.data.TFRecordDataset(str(path)).batch(_BATCH):
            _, sequences, _ = tf.io.parse_sequence_example(raw, sequence_features=spec)
            values = sequences[feature]
            frames, floats = (lengths.numpy() for lengths in values.nested_row_lengths())
            record_of_frame = np.repeat(np.arange(len(frames)), frames)
            bad = (frames != seq_shape[0]) | np.isin(
                np.arange(len(frames)), record_of_frame[floats != frame_floats])
            if bad.any():
                i = int(np.argmax(bad))
                found = floats[record_of_frame == i]
                raise UserError(
                    f"{path}: record {first + i} has {found.sum()} floats in {len(found)} "
                    f"frame(s) under {feature!r}, expected {seq_shape[0]} frames of "
                    f"{'x'.join(map(str, seq_shape[1:]))} = {seq_shape[0] * frame_floats} "
                    "floats (check --feature, --image-size and --seq-len)")
            yield values.flat_values.numpy().reshape(len(frames), *seq_shape)
            first += len(frames)
    except tf.errors.OpError as error:
        reason = _TF_NOISE.sub("", error.message.splitlines()[0])
        raise UserError(f"{path}: not a file of tf.SequenceExample records ({reason})") from None
