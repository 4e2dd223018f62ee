"""A dataset's per-split counts as a small text table."""

from __future__ import annotations

from data.schema import ShardRow


def split_table(rows: list[ShardRow]) -> str:
    """One line per split: shards, sequences and the sequence shape, dtype and norm_scale."""
    lines = [f"{'split':<8} {'shards':>6} {'sequences':>9}  shape [L, H, W, C]  dtype    scale"]
    for split in sorted({row.split for row in rows}):
        part = [row for row in rows if row.split == split]
        first = part[0]
        shape = str(list(first.shape[1:]))
        lines.append(
            f"{split:<8} {len(part):>6} {sum(r.num_sequences for r in part):>9}  "
            f"{shape:<18}  {first.dtype:<7}  {first.norm_scale:g}"
        )
    return "\n".join(lines)
