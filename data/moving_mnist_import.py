"""The two Moving MNIST files people have, imported into shards a chunk of sequences at a time.

- `from-moving-mnist-npy`: the Toronto `mnist_test_seq.npy`, `[frames, sequences, H, W]` uint8
  with time first, memory-mapped; every 10th sequence is test data, as `moving-mnist` splits.
- `from-moving-mnist-npz`: the E3D-LSTM / PredRNN `.npz` (`clips`, `dims`, `input_raw_data`),
  its frames read from the archive member as a stream; a file whose name contains "test" or
  "valid" is test data.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from data.moving_mnist import NORM_SCALE
from data.npyfile import read_header
from data.schema import ShardRow
from data.writer import ShardWriter, add_split

_CHUNK = 256  # sequences read and written at a time
NPZ_KEYS = ("clips", "dims", "input_raw_data")
_RAW = "input_raw_data.npy"
# Frames stored as uint8 keep their bytes (norm_scale 255); float32 ones too (norm_scale 1).
_NORM_SCALES = {np.dtype("uint8"): NORM_SCALE, np.dtype("float32"): 1.0}


def _open_npy(path: Path) -> np.ndarray:
    """The file as a read-only memory map of `[frames, sequences, H, W]` uint8."""
    try:
        with open(path, "rb") as f:
            magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    if magic.startswith(b"PK"):
        raise UserError(f"{path}: a .npz archive, not a .npy file (from-moving-mnist-npz?)")
    if magic != np.lib.format.MAGIC_PREFIX:
        raise UserError(f"{path}: not a .npy file (no .npy header)")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    # numpy raises many types on a damaged header or a short file (ValueError, EOFError, ...).
    except Exception as error:
        raise UserError(f"{path}: not a valid .npy file ({error})") from None
    if array.ndim != 4 or array.dtype != np.uint8 or array.shape[0] < 2 or 0 in array.shape:
        raise UserError(f"{path}: {array.dtype} array of shape {array.shape}, expected uint8 "
                        "[frames >= 2, sequences, height, width], time first like "
                        "mnist_test_seq.npy [20, 10000, 64, 64]")
    return array


def write_moving_mnist_npy(
    path: str | os.PathLike,
    out: str | os.PathLike,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Imports the Toronto file's sequences in order (uint8, norm_scale 255); returns the rows."""
    frames = _open_npy(Path(path))
    seq_len, count, height, width = frames.shape
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, (seq_len, height, width, 1), "uint8", NORM_SCALE, shard_size)
        with progress(total=count, desc="from-moving-mnist-npy", unit="seq") as bar:
            for first in range(0, count, _CHUNK):
                chunk = frames[:, first : first + _CHUNK].swapaxes(0, 1)[..., None]
                add_split(writer, np.ascontiguousarray(chunk), first)
                bar.update(chunk.shape[0])
        return writer.close()


def npz_split_of(path: Path) -> str:
    """E3D-LSTM and PredRNN train on `moving-mnist-train.npz`, test on `moving-mnist-valid.npz`."""
    name = path.name.lower()
    return "test" if "test" in name or "valid" in name else "train"


@dataclass(frozen=True)
class NpzClips:
    """One checked `.npz`: clip i is `input_raw_data[start:start + length]` of its input row
    (`clips[0, i]`) followed by that of its output row (`clips[1, i]`), as E3D-LSTM's
    `get_batch` concatenates them; frames are `[C, H, W]` as `dims` says."""

    path: Path
    clips: np.ndarray
    frame_shape: tuple[int, int, int]
    dtype: np.dtype
    data_offset: int

    @property
    def seq_shape(self) -> tuple[int, int, int, int]:
        channels, height, width = self.frame_shape
        return (int(self.clips[:, 0, 1].sum()), height, width, channels)

    def __len__(self) -> int:
        return self.clips.shape[1]


def _member(archive: zipfile.ZipFile, path: Path, name: str) -> IO[bytes]:
    try:
        return archive.open(name)
    except (zipfile.BadZipFile, OSError, RuntimeError) as error:
        raise UserError(f"{path}: cannot read {name} ({error})") from None


def _small_array(archive: zipfile.ZipFile, path: Path, key: str) -> np.ndarray:
    with _member(archive, path, f"{key}.npy") as f:
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        # numpy raises many types on bytes that are not a .npy (ValueError, EOFError, ...).
        except Exception as error:
            raise UserError(f"{path}: {key} is not a valid array ({error})") from None


def _raw_header(archive: zipfile.ZipFile, path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of `input_raw_data`, from its `.npy` header alone."""
    with _member(archive, path, _RAW) as f:
        try:
            shape, fortran_order, dtype = read_header(f)
        except Exception as error:
            raise UserError(f"{path}: input_raw_data is not a valid array ({error})") from None
        offset = f.tell()
    if fortran_order:
        raise UserError(f"{path}: input_raw_data is Fortran-ordered, expected C order")
    return tuple(shape), dtype, offset


def _check_clips(path: Path, clips: np.ndarray, frames: int) -> None:
    if clips.ndim != 3 or clips.shape[0] != 2 or clips.shape[2] != 2 or not clips.shape[1]:
        raise UserError(f"{path}: clips has shape {clips.shape}, expected [2, N >= 1, 2]: "
                        "(start, length) of each clip's input and output")
    if clips.dtype.kind not in "iu":
        raise UserError(f"{path}: clips is {clips.dtype}, expected integers")
    start, length = clips[..., 0], clips[..., 1]
    bad = (start < 0) | (length < 1) | (start + length > frames)
    if bad.any():
        row, clip = (int(i[0]) for i in np.nonzero(bad))
        raise UserError(f"{path}: clip {clip} {('input', 'output')[row]} reads frames "
                        f"{start[row, clip]}..{start[row, clip] + length[row, clip]} "
                        f"of input_raw_data's {frames}")
    totals = length.sum(axis=0)
    if (totals != totals[0]).any():
        clip = int(np.argmax(totals != totals[0]))
        raise UserError(f"{path}: clip {clip} has {totals[clip]} frames, clip 0 has "
                        f"{totals[0]}: every clip needs the same input + output length")


def open_npz(path: Path) -> NpzClips:
    """Checks the archive's keys, shapes and dtypes and every clip's range (not the frames)."""
    try:
        archive = zipfile.ZipFile(path)
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    except zipfile.BadZipFile as error:
        raise UserError(f"{path}: not a .npz file ({error})") from None
    with archive:
        keys = {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
        missing = [key for key in NPZ_KEYS if key not in keys]
        if missing:
            raise UserError(f"{path}: missing key(s) {', '.join(missing)}; an E3D-LSTM / "
                            f"PredRNN .npz holds {', '.join(NPZ_KEYS)} (found "
                            f"{', '.join(sorted(keys)) or 'none'})")
        dims = _small_array(archive, path, "dims")
        if dims.shape != (1, 3) or dims.dtype.kind not in "iu" or (dims < 1).any():
            raise UserError(f"{path}: dims is {dims.tolist()}, expected one row "
                            "[[channels, height, width]] such as [[1, 64, 64]]")
        frame_shape = tuple(int(d) for d in dims[0])
        shape, dtype, offset = _raw_header(archive, path)
        if len(shape) != 4 or shape[1:] != frame_shape:
            raise UserError(f"{path}: input_raw_data has shape {shape}, expected "
                            f"[frames, {', '.join(map(str, frame_shape))}] as dims says")
        if dtype not in _NORM_SCALES:
            raise UserError(f"{path}: input_raw_data is {dtype}, expected float32 in [0, 1] "
                            "or uint8")
        clips = _small_array(archive, path, "clips")
        _check_clips(path, clips, shape[0])
    return NpzClips(path, clips.astype(np.int64), frame_shape, dtype, offset)


def read_clips(npz: NpzClips) -> Iterator[np.ndarray]:
    """`[B, L, H, W, C]` chunks of the clips in order, read with seeks through the member."""
    frame_bytes = int(np.prod(npz.frame_shape)) * npz.dtype.itemsize
    with zipfile.ZipFile(npz.path) as archive, _member(archive, npz.path, _RAW) as raw:
        for first in range(0, len(npz), _CHUNK):
            segments = npz.clips[:, first : first + _CHUNK].swapaxes(0, 1)  # [B, 2, 2]
            frames = [
                np.concatenate([_read_frames(npz, raw, frame_bytes, start, length)
                                for start, length in clip])
                for clip in segments
            ]
            chunk = np.stack(frames).transpose(0, 1, 3, 4, 2)
            if npz.dtype.kind == "f" and not (chunk.min() >= 0 and chunk.max() <= 1):
                raise UserError(f"{npz.path}: input_raw_data has values outside [0, 1] "
                                f"(or NaN) in clips {first}..{first + len(chunk) - 1}")
            yield np.ascontiguousarray(chunk)


def _read_frames(npz: NpzClips, raw: IO[bytes], frame_bytes: int, start: int,
                 length: int) -> np.ndarray:
    try:
        raw.seek(npz.data_offset + start * frame_bytes)
        data = raw.read(length * frame_bytes)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UserError(f"{npz.path}: cannot read input_raw_data ({error})") from None
    if len(data) != length * frame_bytes:
        raise UserError(f"{npz.path}: input_raw_data is truncated: frames {start}.."
                        f"{start + length} do not all exist")
    return np.frombuffer(data, npz.dtype).reshape(length, *npz.frame_shape)


def write_moving_mnist_npz(
    paths: list[str | os.PathLike],
    out: str | os.PathLike,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Imports the clips of every file in order, each into its split; returns the map rows."""
    files = [open_npz(Path(path)) for path in paths]
    first = files[0]
    for other in files[1:]:
        if (other.seq_shape, other.dtype) != (first.seq_shape, first.dtype):
            raise UserError(f"{other.path}: clips of {list(other.seq_shape)} {other.dtype}, "
                            f"but {first.path} has {list(first.seq_shape)} {first.dtype}: "
                            "all files must agree")
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, first.seq_shape, first.dtype.name, _NORM_SCALES[first.dtype],
                             shard_size)
        total = sum(len(npz) for npz in files)
        with progress(total=total, desc="from-moving-mnist-npz", unit="seq") as bar:
            for npz in files:
                for chunk in read_clips(npz):
                    writer.add(npz_split_of(npz.path), chunk)
                    bar.update(len(chunk))
        return writer.close()
