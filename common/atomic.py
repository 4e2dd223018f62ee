"""Atomic writes: a file or folder appears whole at its final path, or not at all.

Every OSError while writing (disk full, permission denied, a file where a folder should be)
becomes a one-line WriteError naming the final path; the temporary is removed and whatever
was at the final path before is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from common.errors import UserError, WriteError


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; rename it into place on success."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
        os.close(fd)
        os.chmod(name, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from others
    except OSError as error:
        raise WriteError.from_os_error(final, error) from None
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as error:
        raise WriteError.from_os_error(final, error, tmp) from None
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; it replaces `final` only when the block succeeds.

    Refuses (UserError) when `final` exists and is not empty, unless `overwrite`. A swap
    killed between its two renames left the previous folder as `.NAME.old`: it is put back
    first.
    """
    final = Path(final)
    old = final.with_name(f".{final.name}.old")
    try:
        if old.is_dir() and not final.exists():
            os.replace(old, final)
        if final.exists() and any(final.iterdir()) and not overwrite:
            raise UserError(f"{final}: output folder exists and is not empty (use --overwrite)")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700, as for atomic_path
    except OSError as error:
        raise WriteError.from_os_error(final, error) from None
    try:
        yield tmp
        _swap_in(tmp, final, old)
    except OSError as error:
        raise WriteError.from_os_error(final, error, tmp) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, final: Path, old: Path) -> None:
    """Put `tmp` at `final`; an existing `final` goes only once `tmp` is in its place."""
    if not final.exists():
        os.replace(tmp, final)
        return
    shutil.rmtree(old, ignore_errors=True)
    os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)
