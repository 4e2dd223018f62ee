"""`twinport data verify`: the map's schema, every shard's header, size and sha256, and the
shape and dtype of its action and state arrays when it has them."""

from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError
from common.progress import progress
from data.dataset import open_vector
from data.npyfile import check_header, file_sha256
from data.schema import ShardRow, read_map


def verify(root: str | os.PathLike) -> list[ShardRow]:
    """The map rows when every check passes; the first problem found raises UserError."""
    root = Path(root)
    rows = read_map(root)
    for row in rows:
        check_header(root, row)
        for name in row.vector_paths:
            open_vector(root, row, name)
        if row.img_bitmap_path and not (root / row.img_bitmap_path).is_file():
            raise UserError(f"{root / row.img_bitmap_path}: missing bitmap (listed in map.csv)")
    total = sum((root / row.img_np_path).stat().st_size for row in rows)
    with progress(total=total, desc="sha256", unit="B", unit_scale=True) as bar:
        for row in rows:
            path = root / row.img_np_path
            digest = file_sha256(path, bar)
            if digest != row.sha256:
                raise UserError(f"{path}: sha256 {digest} does not match map.csv ({row.sha256})")
    return rows
