"""Writes a dataset folder: sequences buffered per split, flushed as bounded `.npy` shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.bitmap import write_strip
from data.npyfile import file_sha256
from data.schema import ShardRow, write_map

MAX_SHARD_SEQUENCES = 4096
MAX_SHARD_BYTES = 64 << 20


class ShardWriter:
    """Collects `[N, L, H, W, C]` sequences per split; `close()` flushes and writes map.csv.

    A shard holds at most MAX_SHARD_SEQUENCES sequences and MAX_SHARD_BYTES bytes (at least
    one sequence), so memory stays bounded however large the input.
    """

    def __init__(
        self,
        root: Path,
        seq_shape: tuple[int, int, int, int],
        dtype: str,
        norm_scale: float,
        shard_size: int | None = None,
    ) -> None:
        self.root = root
        self.seq_shape = seq_shape
        self.dtype = np.dtype(dtype)
        self.norm_scale = float(norm_scale)
        seq_bytes = int(np.prod(seq_shape)) * self.dtype.itemsize
        self.capacity = shard_size or max(
            1, min(MAX_SHARD_SEQUENCES, MAX_SHARD_BYTES // seq_bytes)
        )
        self.rows: list[ShardRow] = []
        self._buffers: dict[str, np.ndarray] = {}
        self._fill: dict[str, int] = {}
        self._shards: dict[str, int] = {}

    def add(self, split: str, sequences: np.ndarray) -> None:
        if sequences.shape[1:] != self.seq_shape or sequences.dtype != self.dtype:
            raise ValueError(
                f"expected [N, {self.seq_shape}] {self.dtype}, "
                f"got {sequences.shape} {sequences.dtype}"
            )
        if split not in self._buffers:
            self._buffers[split] = np.empty((self.capacity, *self.seq_shape), self.dtype)
            self._fill[split] = 0
            self._shards[split] = 0
        start = 0
        while start < len(sequences):
            fill = self._fill[split]
            take = min(self.capacity - fill, len(sequences) - start)
            self._buffers[split][fill : fill + take] = sequences[start : start + take]
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
        shard = self._buffers[split][: self._fill[split]]
        stem = f"{split}_{self._shards[split]:05d}"
        np.save(self.root / f"{stem}.npy", shard)
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
            )
        )
        self._fill[split] = 0
        self._shards[split] += 1
