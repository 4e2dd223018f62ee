"""The dataset folder's index, `map.csv`: one row per shard, read and written here only."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from common.errors import UserError

MAP_NAME = "map.csv"
DTYPES = ("uint8", "float32")


@dataclass(frozen=True)
class ShardRow:
    """One shard: `img_np_path` holds `[num_sequences, seq_len, height, width, channels]`.

    The optional `action_np_path` and `state_np_path` (seed 001's columns) hold float32
    `[num_sequences, seq_len, dim]` per-frame vectors; empty when the dataset has none.
    """

    id: int
    split: str
    img_np_path: str
    img_bitmap_path: str
    num_sequences: int
    seq_len: int
    height: int
    width: int
    channels: int
    dtype: str
    norm_scale: float
    sha256: str
    action_np_path: str = ""
    state_np_path: str = ""

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (self.num_sequences, self.seq_len, self.height, self.width, self.channels)

    @property
    def kind(self) -> tuple:
        """What every shard of one split must share."""
        return (self.seq_len, self.height, self.width, self.channels, self.dtype, self.norm_scale,
                tuple(self.vector_paths))

    @property
    def vector_paths(self) -> dict[str, str]:
        """The optional per-frame arrays this shard has, `{"actions": path, "states": path}`."""
        paths = {name: getattr(self, column) for name, column in VECTOR_COLUMNS.items()}
        return {name: path for name, path in paths.items() if path}


VECTOR_COLUMNS = {"actions": "action_np_path", "states": "state_np_path"}
OPTIONAL_COLUMNS = tuple(VECTOR_COLUMNS.values())
COLUMNS = tuple(f.name for f in fields(ShardRow) if f.name not in OPTIONAL_COLUMNS)
_INT_COLUMNS = ("id", "num_sequences", "seq_len", "height", "width", "channels")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def write_map(root: Path, rows: list[ShardRow]) -> None:
    """The optional columns are written only when some row uses them, so datasets without
    actions and states keep their exact bytes."""
    optional = tuple(name for name in OPTIONAL_COLUMNS if any(getattr(r, name) for r in rows))
    with open(root / MAP_NAME, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS + optional)
        writer.writerows([*astuple(row)[: len(COLUMNS)], *(getattr(row, name) for name in optional)]
                         for row in rows)


def read_map(root: str | os.PathLike) -> list[ShardRow]:
    """The rows of `root/map.csv`, checked for schema and values (not against the files)."""
    path = Path(root) / MAP_NAME
    if not Path(root).is_dir():
        raise UserError(f"{root}: not a dataset folder (no such directory)")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            records = list(reader)
    except FileNotFoundError:
        raise UserError(f"{path}: missing (not a twinport dataset folder?)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: unreadable: {error}") from None
    if not header:
        raise UserError(f"{path}: empty file, expected a header and one row per shard")
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
    if not records:
        raise UserError(f"{path}: no shards listed")
    rows = [_parse_row(path, line, record) for line, record in enumerate(records, start=2)]
    ids = [row.id for row in rows]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path}: duplicate shard ids")
    for split in {row.split for row in rows}:
        if len({row.kind for row in rows if row.split == split}) > 1:
            raise UserError(f"{path}: shards of split {split!r} disagree on seq_len, "
                            "frame shape, dtype, norm_scale or action/state columns")
    return rows


def _parse_row(path: Path, line: int, record: dict[str, str | None]) -> ShardRow:
    where = f"{path}: line {line}"
    if None in record or any(record[name] is None for name in COLUMNS):
        raise UserError(f"{where}: wrong number of fields")
    values: dict[str, object] = {name: record[name].strip() for name in COLUMNS}
    values.update({name: (record.get(name) or "").strip() for name in OPTIONAL_COLUMNS})
    try:
        for name in _INT_COLUMNS:
            values[name] = int(values[name])
        values["norm_scale"] = float(values["norm_scale"])
    except ValueError as error:
        raise UserError(f"{where}: {error}") from None
    row = ShardRow(**values)
    problem = _row_problem(row)
    if problem:
        raise UserError(f"{where}: {problem}")
    return row


def _row_problem(row: ShardRow) -> str | None:
    if not row.split:
        return "empty split"
    if min(row.shape) < 1:
        return f"sizes must be positive, got shape {row.shape}"
    if row.dtype not in DTYPES:
        return f"dtype {row.dtype!r} is not one of {', '.join(DTYPES)}"
    if not row.norm_scale > 0:
        return f"norm_scale must be positive, got {row.norm_scale}"
    if not _SHA256.fullmatch(row.sha256):
        return f"sha256 {row.sha256!r} is not 64 lowercase hex digits"
    for path in (row.img_np_path, row.img_bitmap_path, *row.vector_paths.values()):
        if path and (Path(path).is_absolute() or ".." in Path(path).parts):
            return f"path {path!r} must be relative to the dataset folder"
    for name in ("img_np_path", *OPTIONAL_COLUMNS):
        path = getattr(row, name)
        if (path or name == "img_np_path") and not path.endswith(".npy"):
            return f"{name} {path!r} is not a .npy file"
    return None
