"""Shard files: cheap header checks, memory-mapping and hashing, every failure a UserError."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.errors import UserError
from data.schema import ShardRow

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def read_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the `.npy` stream `f`, left at its data. numpy raises
    many types on damaged bytes (ValueError, SyntaxError, tokenize.TokenError, ...)."""
    version = np.lib.format.read_magic(f)
    if version not in _HEADER_READERS:
        raise ValueError(f"unsupported .npy format version {version}")
    return _HEADER_READERS[version](f)


def check_header(root: Path, row: ShardRow) -> None:
    """Shape, dtype and file size of the shard agree with its map row (reads the header only)."""
    path = root / row.img_np_path
    try:
        with open(path, "rb") as f:
            shape, fortran_order, dtype = read_header(f)
            data_offset = f.tell()
    except FileNotFoundError:
        raise UserError(f"{path}: missing shard (listed in map.csv)") from None
    # numpy's header parser raises many types on damaged bytes (ValueError, SyntaxError,
    # tokenize.TokenError, ...); any of them means the file is not a usable .npy.
    except Exception as error:
        raise UserError(f"{path}: not a valid .npy file ({error})") from None
    if tuple(shape) != row.shape:
        raise UserError(f"{path}: shape {tuple(shape)} but map.csv says {row.shape}")
    if dtype != np.dtype(row.dtype):
        raise UserError(f"{path}: dtype {dtype} but map.csv says {row.dtype}")
    if fortran_order:
        raise UserError(f"{path}: Fortran-ordered array, expected C order")
    expected = data_offset + int(np.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        state = "truncated" if size < expected else "has trailing bytes"
        raise UserError(f"{path}: {state}: {size} bytes, expected {expected}")


def open_shard(root: Path, row: ShardRow) -> np.ndarray:
    """The shard as a read-only memory map, after `check_header`."""
    check_header(root, row)
    path = root / row.img_np_path
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot memory-map ({error})") from None


def file_sha256(path: Path, bar: tqdm | None = None) -> str:
    """Hex sha256 of a file, read in chunks; advances `bar` by the bytes read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
                if bar is not None:
                    bar.update(len(block))
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error})") from None
    return digest.hexdigest()
