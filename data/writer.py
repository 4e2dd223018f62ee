"""Writes a dataset folder: sequences buffered per split, flushed as bounded `.npy` shards."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.atomic import atomic_dir
from common.progress import progress
from data.bitmap import write_strip
from data.npyfile import file_sha256
from data.schema import VECTOR_COLUMNS, ShardRow, write_map

MAX_SHARD_SEQUENCES = 4096
MAX_SHARD_BYTES = 64 << 20


# Every generator puts sequence i in the test split when i % TEST_EVERY == 0.
TEST_EVERY = 10

class ShardWriter:
    """Collects `[N, L, H, W, C]` sequences per split; `close()` flushes and writes map.csv.

    A shard holds at most MAX_SHARD_SEQUENCES sequences and MAX_SHARD_BYTES bytes (at least
    one sequence), so memory stays bounded however large the input.

    `vector_dims`, e.g. `{"actions": 2, "states": 2}`, adds float32 `[N, L, dim]` arrays that
    `add` then takes per sequence; they are written beside each shard as `<stem>_<name>.npy`
    and listed in map.csv's `action_np_path` / `state_np_path`.
    """

    def __init__(
        self,
        root: Path,
        seq_shape: tuple[int, int, int, int],
        dtype: str,
        norm_scale: float,
        shard_size: int | None = None,
        vector_dims: dict[str, int] | None = None,
    ) -> None:
        if not set(vector_dims or {}) <= set(VECTOR_COLUMNS):
            raise ValueError(f"vector_dims keys must be among {sorted(VECTOR_COLUMNS)}")
        self.root = root
        self.seq_shape = seq_shape
        self.dtype = np.dtype(dtype)
        self.norm_scale = float(norm_scale)
        # Every buffered array by name: "images", then the optional per-frame vectors.
        self.shapes = {"images": (seq_shape, self.dtype)} | {
            name: ((seq_shape[0], dim), np.dtype(np.float32))
            for name, dim in (vector_dims or {}).items()}
        seq_bytes = int(np.prod(seq_shape)) * self.dtype.itemsize
        self.capacity = shard_size or max(
            1, min(MAX_SHARD_SEQUENCES, MAX_SHARD_BYTES // seq_bytes)
        )
        self.rows: list[ShardRow] = []
        self._buffers: dict[str, dict[str, np.ndarray]] = {}
        self._fill: dict[str, int] = {}
        self._shards: dict[str, int] = {}

    def add(self, split: str, sequences: np.ndarray, **vectors: np.ndarray) -> None:
        """Appends `sequences` `[N, L, H, W, C]` to `split`, with one `[N, L, dim]` array per
        name in `vector_dims` (e.g. `actions=..., states=...`)."""
        arrays = {"images": sequences, **vectors}
        if arrays.keys() != self.shapes.keys():
            raise ValueError(f"expected arrays {sorted(self.shapes)}, got {sorted(arrays)}")
        for name, array in arrays.items():
            shape, dtype = self.shapes[name]
            if array.shape != (len(sequences), *shape) or array.dtype != dtype:
                raise ValueError(f"{name}: expected [N, {shape}] {dtype}, "
                                 f"got {array.shape} {array.dtype}")
        if split not in self._buffers:
            self._buffers[split] = {name: np.empty((self.capacity, *shape), dtype)
                                    for name, (shape, dtype) in self.shapes.items()}
            self._fill[split] = 0
            self._shards[split] = 0
        start = 0
        while start < len(sequences):
            fill = self._fill[split]
            take = min(self.capacity - fill, len(sequences) - start)
            for name, array in arrays.items():
                self._buffers[split][name][fill : fill + take] = array[start : start + take]
            self._fill[split] += take
            start += take
            if self._fill[split] == self.capacity:
                self._flush(split)

    def close(self) -> list[ShardRow]:
        """Flushes partial shards, writes map.csv and returns its rows."""
        for split in self._buffers:
            if self._fill[split]:
                self._flush(split)
        write_map(self.root, self.rows)
        return self.rows

    def _flush(self, split: str) -> None:
        buffers = {name: array[: self._fill[split]] for name, array in self._buffers[split].items()}
        shard = buffers.pop("images")
        stem = f"{split}_{self._shards[split]:05d}"
        np.save(self.root / f"{stem}.npy", shard)
        for name, array in buffers.items():
            np.save(self.root / f"{stem}_{name}.npy", array)
        write_strip(self.root / f"{stem}.png", shard, self.norm_scale)
        self.rows.append(
            ShardRow(
                id=len(self.rows),
                split=split,
                img_np_path=f"{stem}.npy",
                img_bitmap_path=f"{stem}.png",
                num_sequences=len(shard),
                seq_len=self.seq_shape[0],
                height=self.seq_shape[1],
                width=self.seq_shape[2],
                channels=self.seq_shape[3],
                dtype=self.dtype.name,
                norm_scale=self.norm_scale,
                sha256=file_sha256(self.root / f"{stem}.npy"),
                **{VECTOR_COLUMNS[name]: f"{stem}_{name}.npy" for name in buffers},
            )
        )
        self._fill[split] = 0
        self._shards[split] += 1


def add_split(writer: ShardWriter, sequences: np.ndarray, first: int,
              **vectors: np.ndarray) -> None:
    """Sequences `first`, `first + 1`, ... (and their `vectors`) to their split: test when the
    index % TEST_EVERY == 0, else train (the generators' rule)."""
    is_test = (first + np.arange(len(sequences))) % TEST_EVERY == 0
    for split, keep in (("train", ~is_test), ("test", is_test)):
        writer.add(split, sequences[keep], **{name: v[keep] for name, v in vectors.items()})


def write_generated(
    out: str | os.PathLike,
    overwrite: bool,
    seq_shape: tuple[int, int, int, int],
    norm_scale: float,
    shard_size: int | None,
    count: int,
    block: int,
    desc: str,
    make: Callable[[int, int], tuple[np.ndarray, dict[str, np.ndarray]]],
    vector_dims: dict[str, int] | None = None,
) -> list[ShardRow]:
    """A generator's `count` uint8 sequences into `out` (atomically, with a progress bar),
    made `block` at a time: `make(block_index, size)` gives the frames and their per-frame
    vectors by name, each sequence to its split by `add_split`. Returns the map rows."""
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, seq_shape, "uint8", norm_scale, shard_size,
                             vector_dims=vector_dims)
        with progress(total=count, desc=desc, unit="seq") as bar:
            for index, first in enumerate(range(0, count, block)):
                frames, vectors = make(index, min(block, count - first))
                add_split(writer, frames, first, **vectors)
                bar.update(len(frames))
        return writer.close()
