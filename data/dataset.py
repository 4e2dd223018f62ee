"""The one loader both backends use: memory-mapped shards, float32 batches in [0, 1]."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from common.errors import UserError
from data.npyfile import open_shard
from data.schema import MAP_NAME, read_map


class Dataset:
    """One split of a dataset folder, `[len, seq_len, H, W, C]` as float32 in [0, 1].

    Opening checks map.csv and every shard's .npy header and size against it (cheap); the
    full sha256 check is `twinport data verify`.
    """

    def __init__(self, root: str | os.PathLike, split: str) -> None:
        self.root = Path(root)
        self.split = split
        rows = read_map(self.root)
        self.rows = [row for row in rows if row.split == split]
        if not self.rows:
            splits = ", ".join(repr(name) for name in sorted({row.split for row in rows}))
            raise UserError(f"{self.root / MAP_NAME}: no shards in split {split!r} "
                            f"(splits: {splits})")
        self._shards = [open_shard(self.root, row) for row in self.rows]
        first = self.rows[0]
        self.seq_len = first.seq_len
        self.frame_shape = (first.height, first.width, first.channels)
        self.norm_scale = first.norm_scale
        # _starts[k] is the index of shard k's first sequence; the last entry is len(self).
        self._starts = np.cumsum([0] + [row.num_sequences for row in self.rows])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __repr__(self) -> str:
        return (f"Dataset({str(self.root)!r}, {self.split!r}: {len(self)} sequences of "
                f"{self.seq_len}x{self.frame_shape})")

    def get(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Sequences at `indices` (in that order) as float32 `[B, L, H, W, C]` in [0, 1]."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"indices must be in [0, {len(self)}) for {self!r}")
        out = np.empty((len(indices), self.seq_len, *self.frame_shape), np.float32)
        shard_of = np.searchsorted(self._starts, indices, side="right") - 1
        for k in np.unique(shard_of):
            where = np.flatnonzero(shard_of == k)
            local = indices[where] - self._starts[k]
            # Sorted reads from the memmap are sequential on disk; scatter back afterwards.
            order = np.argsort(local, kind="stable")
            out[where[order]] = self._shards[k][local[order]]
        # True division, as the seed's reader does (`examples /= norm_scale`).
        out /= np.float32(self.norm_scale)
        return out

    def steps_per_epoch(self, batch_size: int) -> int:
        """Full batches per epoch; the last incomplete batch is dropped."""
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        if batch_size > len(self):
            raise UserError(f"{self.root}: split {self.split!r} has {len(self)} sequences, "
                            f"fewer than the batch size {batch_size}")
        return len(self) // batch_size

    def permutation(self, seed: int, epoch: int) -> np.ndarray:
        """The order of epoch `epoch`: a permutation drawn from Generator(seed, epoch)."""
        return np.random.default_rng([seed, epoch]).permutation(len(self))

    def batches(
        self, batch_size: int, seed: int, epochs: int | None = None, start_step: int = 0
    ) -> Iterator[np.ndarray]:
        """Float32 batches `[batch_size, L, H, W, C]`, step `start_step` first.

        The stream depends only on (seed, batch_size), so resuming at step k yields exactly
        the k-th batch onwards of a fresh stream. `epochs=None` runs forever.
        """
        per_epoch = self.steps_per_epoch(batch_size)
        if start_step < 0:
            raise UserError(f"start step must be non-negative, got {start_step}")
        return self._stream(batch_size, per_epoch, seed, epochs, start_step)

    def _stream(
        self, batch_size: int, per_epoch: int, seed: int, epochs: int | None, step: int
    ) -> Iterator[np.ndarray]:
        while epochs is None or step < epochs * per_epoch:
            epoch, first = divmod(step, per_epoch)
            order = self.permutation(seed, epoch)
            for position in range(first, per_epoch):
                yield self.get(order[position * batch_size : (position + 1) * batch_size])
            step = (epoch + 1) * per_epoch
