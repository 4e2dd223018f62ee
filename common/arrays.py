"""Read .npy and .npz files from elsewhere: arrays, or a one-line UserError naming the file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

import numpy as np

from common.errors import UserError

ZIP_MAGIC = b"PK"
NPY_MAGIC = b"\x93NUMPY"


def _magic(path: str | os.PathLike, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None


def read_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """Every array of the archive at `path`, read eagerly; `what` says what was expected."""
    if _magic(path, len(ZIP_MAGIC)) != ZIP_MAGIC:
        raise UserError(f"{path}: not a readable .npz file (not a zip archive; expected {what})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    # zipfile and numpy raise many types on damaged archives (BadZipFile, zlib.error,
    # ValueError, EOFError, NotImplementedError, SyntaxError from a mangled .npy header, ...);
    # any of them means the file is not a usable .npz.
    except Exception as error:
        raise UserError(f"{path}: not a readable .npz file (damaged: {type(error).__name__}: "
                        f"{error}; expected {what})") from None
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise UserError(f"{path}: not a readable .npz file (member {name!r} is not an "
                            f".npy array; expected {what})")
    return arrays


def read_npy(path: str | os.PathLike, what: str) -> np.ndarray:
    """The array in the .npy file at `path`; `what` says what was expected."""
    if _magic(path, len(NPY_MAGIC)) != NPY_MAGIC:
        raise UserError(f"{path}: not a readable .npy file (no .npy header; expected {what})")
    try:
        return np.load(path, allow_pickle=False)
    # As above: a damaged header or body raises one of many types.
    except Exception as error:
        raise UserError(f"{path}: not a readable .npy file (damaged: {type(error).__name__}: "
                        f"{error}; expected {what})") from None


def digest(arrays: Mapping[str, np.ndarray]) -> bytes:
    """SHA-256 of named arrays, names and bytes in order: equal exactly when they are bit for
    bit (a data-parallel run's workers compare their states by it)."""
    hashed = hashlib.sha256()
    for name, array in arrays.items():
        hashed.update(name.encode())
        hashed.update(np.ascontiguousarray(array).tobytes())
    return hashed.digest()
