"""The one loader both backends use: memory-mapped shards, float32 batches in [0, 1]."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from common.errors import UserError
from data.npyfile import open_shard
from data.schema import MAP_NAME, ShardRow, read_map


def open_vector(root: Path, row: ShardRow, name: str) -> np.ndarray:
    """The shard's `name` array ("actions" or "states") as a read-only memory map, checked to
    be float32 `[num_sequences, seq_len, dim]` and no shorter than its header says."""
    path = root / row.vector_paths[name]
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: missing {name} array (listed in map.csv)") from None
    # numpy raises many types on a damaged or truncated .npy (ValueError, SyntaxError, ...).
    except Exception as error:
        raise UserError(f"{path}: not a valid .npy file ({error})") from None
    expected = (row.num_sequences, row.seq_len)
    if array.ndim != 3 or array.shape[:2] != expected or array.dtype != np.float32:
        raise UserError(f"{path}: {array.dtype} {array.shape} but map.csv says float32 "
                        f"[{expected[0]}, {expected[1]}, dim]")
    return array


class Part(NamedTuple):
    """One worker's share of every global batch in a data-parallel run: worker `rank` of
    `workers` reads rows [rank * b, (rank + 1) * b) of each batch, b = batch / workers, and
    only those (the shards are memory-mapped: no worker reads another's rows)."""

    rank: int = 0
    workers: int = 1

    def share(self, batch_size: int) -> int:
        """Rows of a global batch of `batch_size` this worker gets (a UserError unless the
        workers split it evenly)."""
        if batch_size % self.workers:
            raise UserError(f"batch size {batch_size} does not split evenly over "
                            f"{self.workers} workers")
        return batch_size // self.workers

    def rows(self, batch_size: int) -> slice:
        share = self.share(batch_size)
        return slice(self.rank * share, (self.rank + 1) * share)


WHOLE = Part()
"""A single process's part: every row."""


def split_slice(split: str) -> tuple[str, int | None]:
    """"train" -> ("train", None); "train[:N]" -> ("train", N): the split's first N sequences
    (TFDS's slicing; the VPN seed's overfitting run trains on `train[:1]`)."""
    found = re.fullmatch(r"(.+)\[:(\d*)\]", split)
    if found is None:
        return split, None
    if not found.group(2) or int(found.group(2)) < 1:
        raise UserError(f"split {split!r}: write NAME[:N] with N at least 1")
    return found.group(1), int(found.group(2))


class Dataset:
    """One split of a dataset folder, `[len, seq_len, H, W, C]` as float32 in [0, 1], with
    its per-frame actions and states when the folder has them (`get_arrays`). `split` may
    take the first N sequences only: `train[:N]` (`split_slice`).

    Opening checks map.csv and every shard's .npy header and size against it (cheap); the
    full sha256 check is `twinport data verify`.
    """

    def __init__(self, root: str | os.PathLike, split: str) -> None:
        self.root = Path(root)
        self.split = split
        name, self.limit = split_slice(split)
        rows = read_map(self.root)
        self.rows = [row for row in rows if row.split == name]
        if not self.rows:
            splits = ", ".join(repr(name) for name in sorted({row.split for row in rows}))
            raise UserError(f"{self.root / MAP_NAME}: no shards in split {name!r} "
                            f"(splits: {splits})")
        self._shards = [open_shard(self.root, row) for row in self.rows]
        # The optional per-frame arrays ("actions", "states"), memory-mapped like the shards;
        # every shard of a split has the same ones (read_map checks).
        self._vectors = {name: [open_vector(self.root, row, name) for row in self.rows]
                         for name in self.rows[0].vector_paths}
        first = self.rows[0]
        self.seq_len = first.seq_len
        self.frame_shape = (first.height, first.width, first.channels)
        self.norm_scale = first.norm_scale
        # _starts[k] is the index of shard k's first sequence; the last entry is len(self).
        self._starts = np.cumsum([0] + [row.num_sequences for row in self.rows])

    def __len__(self) -> int:
        stored = int(self._starts[-1])
        return stored if self.limit is None else min(stored, self.limit)

    def __repr__(self) -> str:
        return (f"Dataset({str(self.root)!r}, {self.split!r}: {len(self)} sequences of "
                f"{self.seq_len}x{self.frame_shape})")

    @property
    def vector_names(self) -> tuple[str, ...]:
        """The per-frame arrays besides the images, e.g. `("actions", "states")`; may be ()."""
        return tuple(self._vectors)

    def get(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Sequences at `indices` (in that order) as float32 `[B, L, H, W, C]` in [0, 1]."""
        indices = self._check(indices)
        out = self._gather(self._shards, indices, (self.seq_len, *self.frame_shape))
        # True division, as the seed's reader does (`examples /= norm_scale`).
        out /= np.float32(self.norm_scale)
        return out

    def get_arrays(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """`{"images": get(indices)}` plus each of `vector_names` as float32 `[B, L, dim]`, as
        stored (not scaled)."""
        indices = self._check(indices)
        arrays = {"images": self.get(indices)}
        for name, shards in self._vectors.items():
            arrays[name] = self._gather(shards, indices, shards[0].shape[1:])
        return arrays

    def _check(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"indices must be in [0, {len(self)}) for {self!r}")
        return indices

    def _gather(self, shards: list[np.ndarray], indices: np.ndarray, shape: tuple) -> np.ndarray:
        """Float32 `[len(indices), *shape]`: the rows at `indices` of the split's `shards`."""
        out = np.empty((len(indices), *shape), np.float32)
        shard_of = np.searchsorted(self._starts, indices, side="right") - 1
        for k in np.unique(shard_of):
            where = np.flatnonzero(shard_of == k)
            local = indices[where] - self._starts[k]
            # Sorted reads from the memmap are sequential on disk; scatter back afterwards.
            order = np.argsort(local, kind="stable")
            out[where[order]] = shards[k][local[order]]
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
        self, batch_size: int, seed: int, epochs: int | None = None, start_step: int = 0,
        arrays: bool = False, part: Part = WHOLE,
    ) -> Iterator[np.ndarray] | Iterator[dict[str, np.ndarray]]:
        """Float32 batches `[batch_size, L, H, W, C]`, step `start_step` first; with
        `arrays=True`, `get_arrays` dicts of the same sequences instead; with a `part`, that
        worker's rows of each batch only.

        The stream depends only on (seed, batch_size), so resuming at step k yields exactly
        the k-th batch onwards of a fresh stream, whatever the number of workers that split
        it. `epochs=None` runs forever.
        """
        per_epoch = self.steps_per_epoch(batch_size)
        if start_step < 0:
            raise UserError(f"start step must be non-negative, got {start_step}")
        fetch = self.get_arrays if arrays else self.get
        return self._stream(fetch, batch_size, per_epoch, seed, epochs, start_step,
                            part.rows(batch_size))

    def _stream(
        self, fetch: Callable, batch_size: int, per_epoch: int, seed: int, epochs: int | None,
        step: int, rows: slice,
    ) -> Iterator:
        while epochs is None or step < epochs * per_epoch:
            epoch, first = divmod(step, per_epoch)
            order = self.permutation(seed, epoch)
            for position in range(first, per_epoch):
                yield fetch(order[position * batch_size : (position + 1) * batch_size][rows])
            step = (epoch + 1) * per_epoch
