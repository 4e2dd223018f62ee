"""`twinport data from-kth-frames`: the KTH action frames as google/e3d_lstm's
`src/data_provider/kth_action.py` reads them, written as shards one video folder at a time.

The tree: DIR/<action>/<video>/image_NNNN.<ext>, the actions boxing, handclapping, handwaving,
walking (the code's category 1) and jogging, running (category 2); a video folder's name holds
its person at characters 6..7 (`person01_boxing_d1_uncomp`); files not named `image...` are
skipped, as the code does. Persons 01-16 are the train split, 17-25 test (the code's lists;
other persons are left out). Each frame's first channel (`frame_np[:, :, 0]`; a grey image as
it is) is resized to the width as `cv2.resize(float32, (w, w))` does (`linear_resize`) and
divided by 255.

Sequences as the code finds them: walking each video back from its last frame, a window of
seq_len frames whose numbers (`name[6:10]`) are consecutive is a sequence; after one, the walk
steps seq_len frames back in category 1 (sequences do not overlap) and 3 in category 2. They
are written in the code's order (its `indices`, the test split's reading order): actions and
videos from the last, each video's from its end. The code lists videos with `os.listdir`
(an order of the file system's); here they are sorted, so a run is the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from data.schema import ShardRow
from data.writer import ShardWriter

CATEGORY_1 = ("boxing", "handclapping", "handwaving", "walking")  # sequences do not overlap
CATEGORY_2 = ("jogging", "running")  # a sequence every 3 frames
TRAIN_PERSONS = tuple(f"{p:02d}" for p in range(1, 17))
TEST_PERSONS = tuple(f"{p:02d}" for p in range(17, 26))
# Stored as uint8 (the resized value x 255, rounded: within 0.5 / 255 of the code's float),
# or float32 (the code's values exactly).
DTYPES = {"uint8": 255.0, "float32": 1.0}


def linear_resize(frame: np.ndarray, width: int) -> np.ndarray:
    """`cv2.resize(frame, (width, width))` of a float32 2-D frame (INTER_LINEAR): output pixel
    d samples the source at (d + 0.5) * scale - 0.5 (a float32, as cv2 rounds it), clamped to
    the first and last pixel, no antialiasing; the rows first, then the columns, as cv2."""
    out = np.asarray(frame, np.float32)
    for axis in (1, 0):
        size = out.shape[axis]
        source = ((np.arange(width) + 0.5) * (size / width) - 0.5).astype(np.float32)
        low = np.floor(source).astype(np.int64)
        weight = source - low.astype(np.float32)
        weight[low < 0] = 0.0
        low = np.clip(low, 0, size - 1)
        high = np.minimum(low + 1, size - 1)
        weight[low == size - 1] = 0.0
        shape = [1, 1]
        shape[axis] = width
        weight = weight.reshape(shape)
        out = (out.take(low, axis=axis) * (1 - weight) + out.take(high, axis=axis) * weight)
    return out.astype(np.float32)


def sequence_starts(numbers: list[int], category: int, seq_len: int) -> list[int]:
    """The code's `indices` within one video (frame numbers `numbers` in file order), from
    its end."""
    starts, index = [], len(numbers) - 1
    while index >= seq_len - 1:
        start = index - seq_len + 1
        if numbers[index] - numbers[start] == seq_len - 1:
            starts.append(start)
            index -= seq_len - 1 if category == 1 else 2
        index -= 1
    return starts


def _videos(root: Path) -> list[tuple[str, int, Path]]:
    """(split, category, folder) of every video of a listed person, in the code's order."""
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    found = []
    for action in CATEGORY_1 + CATEGORY_2:
        folder = root / action
        if not folder.is_dir():
            continue
        for video in sorted(os.listdir(folder)):
            person = video[6:8]
            split = "train" if person in TRAIN_PERSONS else "test" if person in TEST_PERSONS \
                else None
            if split and (folder / video).is_dir():
                found.append((split, 1 if action in CATEGORY_1 else 2, folder / video))
    if not found:
        raise UserError(f"{root}: no KTH video folders (<action>/personNN_<action>_dN/, actions "
                        f"{', '.join(CATEGORY_1 + CATEGORY_2)})")
    return found


def _frame_number(path: Path) -> int:
    try:
        return int(path.name[6:10])
    except ValueError:
        raise UserError(f"{path}: not a frame named image_NNNN (the code reads the number at "
                        "characters 6..9)") from None


def _read(path: Path, width: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            pixels = np.array(image)
    except (OSError, UnidentifiedImageError) as error:
        raise UserError(f"{path}: cannot read image ({error})") from None
    grey = pixels[:, :, 0] if pixels.ndim == 3 else pixels
    return linear_resize(grey.astype(np.float32), width) / 255


def video_sequences(folder: Path, category: int, seq_len: int, width: int
                    ) -> Iterator[np.ndarray]:
    """The sequences [seq_len, width, width, 1] float32 of one video, in the code's order."""
    frames = sorted(path for path in folder.iterdir() if path.name.startswith("image"))
    numbers = [_frame_number(path) for path in frames]
    starts = sequence_starts(numbers, category, seq_len)
    needed = sorted({k for start in starts for k in range(start, start + seq_len)})
    resized = {k: _read(frames[k], width) for k in needed}
    for start in starts:
        yield np.stack([resized[k] for k in range(start, start + seq_len)])[..., None]


def write_kth_frames(src: str | os.PathLike, out: str | os.PathLike, width: int = 128,
                     seq_len: int = 30, dtype: str = "uint8", overwrite: bool = False,
                     shard_size: int | None = None) -> list[ShardRow]:
    """Imports every sequence of every video, one video at a time; returns the map rows."""
    if width < 1 or seq_len < 2:
        raise UserError(f"--width {width} and --seq-len {seq_len}: at least 1 and 2")
    videos = _videos(Path(src))
    scale = DTYPES[dtype]
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, (seq_len, width, width, 1), dtype, scale, shard_size)
        count = 0
        for split, category, folder in progress(list(reversed(videos)),
                                                desc="from-kth-frames", unit="video"):
            for sequence in video_sequences(folder, category, seq_len, width):
                stored = np.rint(sequence * scale) if dtype == "uint8" else sequence
                writer.add(split, stored.astype(dtype)[None])
                count += 1
        if not count:
            raise UserError(f"{src}: no video has {seq_len} consecutive frames (--seq-len)")
        return writer.close()
