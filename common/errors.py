"""The one exception type for user mistakes: the CLI prints it as one line, exit status 2."""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """Bad input or usage: a file, option or value that is wrong, named in the message."""


class WriteError(UserError):
    """A file or folder could not be written (disk full, permission denied, ...).

    `path` is what the user asked for, never a temporary name; `reason` is the OS's words.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: cannot write ({reason})")
        self.path = path
        self.reason = reason

    @classmethod
    def from_os_error(cls, path: str | os.PathLike, error: OSError,
                      temporary: str | os.PathLike | None = None) -> WriteError:
        """Name `path`; name the file the OS complained about too when it is another one."""
        reason = error.strerror or str(error)
        culprit = error.filename
        in_the_way = _file_in_the_way(path)
        if in_the_way:
            reason = f"{in_the_way} is a file, not a folder"
        elif culprit and not str(culprit).startswith(str(temporary or path)):
            reason = f"{reason}: {culprit}"
        return cls(path, reason)


def _file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The nearest existing folder of `path` above it when that is a file, not a folder."""
    existing = next((p for p in Path(path).parents if p.exists()), None)
    return existing if existing is not None and not existing.is_dir() else None
