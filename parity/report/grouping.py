"""Per-item figures that stay readable at 500+ items (a recurrent pair unrolled over 20 steps):
items are grouped by layer over its copies and time steps (`group_of`), a group whose every
item passes with a wide margin is drawn as one row (its closest item's figures), and every
group that comes close stays open."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace

from parity.backward import item_layer
from parity.diff import TensorDiff

COLLAPSE_ABOVE = 120
WIDE_MARGIN = 0.1
_COPY_INDEX = re.compile(r"_\d+$")


def group_of(name: str, depth: int = 0) -> str:
    """An item's group: its layer's scope at `depth` (the first scope not every item shares),
    without a copy or time-step index (`image_encoder_2/Conv_1` -> `image_encoder`,
    `state1_7/Gates` -> `state1`, `Conv_2 <- Conv_1` -> `Conv`; at depth 1,
    `CL/enco_cl1_3/h` -> `enco_cl1`)."""
    scopes = item_layer(name).split("/")
    return _COPY_INDEX.sub("", scopes[min(depth, len(scopes) - 1)])


def shared_depth(names: list[str]) -> int:
    """How many leading scopes every item's layer shares (`CL/` for the ConvLSTM pair),
    leaving each at least one of its own."""
    paths = [item_layer(name).split("/") for name in names]
    depth = 0
    while all(len(path) > depth + 1 for path in paths) and len(
            {path[depth] for path in paths}) == 1:
        depth += 1
    return depth


def collapse(series: dict[str, list[TensorDiff]], limit: int = COLLAPSE_ABOVE,
             margin: float = WIDE_MARGIN) -> tuple[dict[str, list[TensorDiff]], int, int]:
    """`series` with each wide-margin group folded into one row, when it has more than `limit`
    items. A group folds when every item of every series passes with headroom below
    `margin`; its row is named `group/* (N items)` and carries the figures of its item with
    the largest headroom. Returns (series, items folded, groups folded)."""
    names = list(OrderedDict.fromkeys(d.name for diffs in series.values() for d in diffs))
    if len(names) <= limit:
        return series, 0, 0
    depth = shared_depth(names)
    shared = "".join(f"{scope}/" for scope in item_layer(names[0]).split("/")[:depth])
    group = {name: group_of(name, depth) for name in names}
    members: OrderedDict[str, list[str]] = OrderedDict()
    for name in names:
        members.setdefault(group[name], []).append(name)
    close = {group[d.name] for ds in series.values() for d in ds
             if not (d.passed and d.headroom is not None and d.headroom < margin)}
    wide = {g for g, items in members.items() if len(items) > 1 and g not in close}
    folded = {}
    for label, ds in series.items():
        by_group: dict[str, list[TensorDiff]] = {}
        for d in ds:
            by_group.setdefault(group[d.name], []).append(d)
        rows: list[TensorDiff] = []
        for g, items in members.items():
            mine = by_group.get(g, [])
            if g in wide and mine:
                closest = max(mine, key=lambda d: d.headroom)
                rows.append(replace(closest, name=f"{shared}{g}/* ({len(items)} items)"))
            else:
                rows.extend(mine)
        folded[label] = rows
    return folded, sum(len(members[g]) for g in wide), len(wide)
