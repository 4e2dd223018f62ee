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


# twinport's own packages: a frame in them is not where a user's code went wrong.
PACKAGES = tuple(Path(__file__).resolve().parents[1] / name for name in (
    "common", "spec", "tf_reference", "chainer_port", "parity", "data", "twinport"))


def origin(error: BaseException, inside: str | os.PathLike | None = None) -> str:
    """'FILE:LINE: ' where someone else's code (a pair, a port, an original TF1 file) went
    wrong, or '': a SyntaxError's own place, else the innermost frame of the traceback in a
    file under `inside` (default: any file outside the Python installation, its packages and
    twinport's own).
    """
    import sys
    import traceback

    if isinstance(error, SyntaxError) and error.filename:
        return f"{Path(error.filename).name}:{error.lineno}: "
    installed = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix,
                                                        sys.exec_prefix)})

    def ours(filename: str) -> bool:
        path = Path(filename)
        if inside is not None:
            return path.resolve().is_relative_to(Path(inside).resolve())
        return (not filename.startswith("<") and "site-packages" not in path.parts
                and not str(path.resolve()).startswith(installed)
                and not any(path.resolve().is_relative_to(p) for p in PACKAGES))

    frames = [f for f in traceback.extract_tb(error.__traceback__) if ours(f.filename)]
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}: " if frames else ""
