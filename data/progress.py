"""Progress bars: tqdm on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress(iterable: Iterable | None = None, **kwargs) -> tqdm:
    return tqdm(iterable, file=sys.stderr, disable=None, dynamic_ncols=True, **kwargs)
