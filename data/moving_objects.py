"""The seed's example_gen data, vectorized: a triangle moving down the rows, a square moving
along the columns, on a 64x64x3 black image.

Seed semantics kept: start positions are the grid range(0, 40, 3) for the triangle's
(row, col) and the square's (row, col), 14**4 combinations; each object draws its own size
8..10, channel 0..2 and move 6..10 px per frame; pixels are 1 in that channel. The grid is
shuffled and every 10th sequence (shuffled index % 10 == 0) goes to the test split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from data.schema import ShardRow
from data.writer import TEST_EVERY, ShardWriter

IMAGE_SIZE = 64
CHANNELS = 3
GRID = np.arange(0, 40, 3)
GRID_SIZE = len(GRID) ** 4
_CHUNK = 2048


@dataclass(frozen=True)
class Objects:
    """Per-sequence parameters, each `[N, 2]`: column 0 the triangle, column 1 the square."""

    row: np.ndarray
    col: np.ndarray
    size: np.ndarray
    channel: np.ndarray
    move: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def __getitem__(self, index: slice | np.ndarray) -> Objects:
        return Objects(*(getattr(self, f.name)[index] for f in fields(self)))


def sample(seed: int, count: int | None = None) -> tuple[Objects, np.ndarray]:
    """The first `count` sequences of the grid shuffled with `seed`, and their test mask.

    Sizes, channels and moves are drawn for the whole grid before shuffling, so a smaller
    `count` gives a prefix of the full set.
    """
    if count is not None and not 1 <= count <= GRID_SIZE:
        raise UserError(f"--count must be between 1 and {GRID_SIZE}, got {count}")
    rng = np.random.default_rng(seed)
    tri_row, tri_col, sq_row, sq_col = (
        a.reshape(-1) for a in np.meshgrid(GRID, GRID, GRID, GRID, indexing="ij")
    )
    objects = Objects(
        row=np.stack([tri_row, sq_row], axis=1),
        col=np.stack([tri_col, sq_col], axis=1),
        size=rng.integers(8, 11, size=(GRID_SIZE, 2)),
        channel=rng.integers(0, CHANNELS, size=(GRID_SIZE, 2)),
        move=rng.integers(6, 11, size=(GRID_SIZE, 2)),
    )
    order = rng.permutation(GRID_SIZE)[:count]
    return objects[order], np.arange(len(order)) % TEST_EVERY == 0


def bounce(start: np.ndarray, move: np.ndarray, size: np.ndarray, seq_len: int) -> np.ndarray:
    """`[N, L]` positions moving `move` px per frame, reflected at the image borders."""
    span = IMAGE_SIZE - size[:, None]
    travel = start[:, None] + move[:, None] * np.arange(seq_len)
    folded = travel % (2 * span)
    return np.where(folded <= span, folded, 2 * span - folded)


def render(objects: Objects, seq_len: int) -> np.ndarray:
    """`[N, seq_len, 64, 64, 3]` uint8 frames with values 0 and 1."""
    tri, sq = 0, 1
    still = (len(objects), seq_len)
    # Top-left corners per frame, [N, L, 2]: the triangle moves along rows, the square columns.
    moved = bounce(objects.row[:, tri], objects.move[:, tri], objects.size[:, tri], seq_len)
    rows = np.stack([moved, np.broadcast_to(objects.row[:, sq, None], still)], axis=-1)
    moved = bounce(objects.col[:, sq], objects.move[:, sq], objects.size[:, sq], seq_len)
    cols = np.stack([np.broadcast_to(objects.col[:, tri, None], still), moved], axis=-1)
    pixels = np.arange(IMAGE_SIZE)[:, None]
    dr = pixels - rows[:, :, None, :]  # [N, L, 64, 2]: each row's offset from the corner
    dc = pixels - cols[:, :, None, :]
    size = objects.size[:, None, None, :]
    in_rows = (dr >= 0) & (dr < size)
    in_cols = (dc >= 0) & (dc < size)
    # Triangle: row i of the object has columns 0..i set.
    triangle = in_rows[..., :, None, tri] & in_cols[..., None, :, tri] & (
        dc[..., None, :, tri] <= dr[..., :, None, tri]
    )
    square = in_rows[..., :, None, sq] & in_cols[..., None, :, sq]
    frames = np.zeros((len(objects), seq_len, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), np.uint8)
    each = np.arange(len(objects))
    frames[each, ..., objects.channel[:, tri]] = triangle
    frames[each, ..., objects.channel[:, sq]] |= square
    return frames


def write_moving_objects(
    out: str | os.PathLike,
    seed: int = 0,
    count: int | None = None,
    seq_len: int = 2,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Generates the dataset into `out` (uint8 0/1, norm_scale 1); returns the map rows."""
    if seq_len < 2:
        raise UserError(f"--seq-len must be at least 2, got {seq_len}")
    objects, is_test = sample(seed, count)
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, (seq_len, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), "uint8", 1.0,
                             shard_size)
        with progress(total=len(objects), desc="moving-objects", unit="seq") as bar:
            for start in range(0, len(objects), _CHUNK):
                part = slice(start, start + _CHUNK)
                frames = render(objects[part], seq_len)
                writer.add("train", frames[~is_test[part]])
                writer.add("test", frames[is_test[part]])
                bar.update(len(frames))
        return writer.close()
