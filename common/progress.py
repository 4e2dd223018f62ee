"""Progress on stderr: a tqdm bar on a terminal; anywhere else (a log file, a pipe, CI) plain
lines, one every `LINE_EVERY` seconds and one at the end, never carriage returns. Work that
ends before the first line is due prints nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm

LINE_EVERY = 30.0  # seconds between two plain lines


class PlainProgress:
    """tqdm's interface as used here (iterate, `update`, `set_postfix`, a context manager),
    written as whole lines."""

    def __init__(self, iterable: Iterable | None = None, total: float | None = None,
                 desc: str = "", unit: str = "it", initial: float = 0, **_: Any) -> None:
        self.iterable = iterable
        self.total = total if total is not None else _length(iterable)
        self.desc, self.unit, self.n = desc, unit, initial
        self.postfix = ""
        self.started = self.last = time.monotonic()
        self.lines = 0
        self.shown: float | None = None  # the count of the last line
        self.closed = False

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= LINE_EVERY:
            self._line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if not self.closed and self.lines and self.shown != self.n:
            self._line()
        self.closed = True

    def _line(self) -> None:
        self.last = time.monotonic()
        self.lines += 1
        self.shown = self.n
        done = f"{self.n:g}/{self.total:g}" if self.total else f"{self.n:g}"
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {done} {self.unit} ({self.last - self.started:.0f} s{extra})",
              file=sys.stderr, flush=True)


def progress(iterable: Iterable | None = None, *, disable: bool = False, **kwargs: Any
             ) -> tqdm | PlainProgress:
    """A progress bar over `iterable` or `total` units (tqdm's keywords): none when
    `disable`, tqdm on a terminal, plain lines elsewhere."""
    if disable or sys.stderr.isatty():
        return tqdm(iterable, file=sys.stderr, disable=disable, dynamic_ncols=True, **kwargs)
    return PlainProgress(iterable, **kwargs)


def _length(iterable: Iterable | None) -> float | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None
