"""Per-item figures at 500+ items: wide-margin groups fold to one row, close ones stay open."""

from __future__ import annotations

import io

from PIL import Image

from parity.diff import FAIL, PASS, TensorDiff
from parity.report.grouping import collapse, group_of, shared_depth
from parity.report.plots import plot_diffs

LAYERS, STEPS = 30, 20


def _diff(name: str, headroom: float) -> TensorDiff:
    return TensorDiff(name, PASS if headroom <= 1 else FAIL, (2, 3), (2, 3), atol=1e-3,
                      rtol=1e-3, max_abs=1e-3 * headroom, max_rel=1e-3 * headroom,
                      headroom=headroom)


def _unrolled(close: str = "cell_4", failing: str = "cell_7") -> list[TensorDiff]:
    """30 layers x 20 time steps; one layer comes close (0.5), one fails at step 12."""
    diffs = []
    for step in range(STEPS):
        for layer in range(LAYERS):
            name = f"cell_{layer}_{step}/Gates"
            headroom = 0.01
            if name.startswith(close + "_"):
                headroom = 0.5
            if name == f"{failing}_12/Gates":
                headroom = 3.0
            diffs.append(_diff(name, headroom))
    return diffs


def test_group_of_strips_copy_and_step_indexes():
    assert group_of("image_encoder_2/Conv_1") == "image_encoder"
    assert group_of("state1_7/Gates") == "state1"
    assert group_of("Conv_2 <- Conv_1") == "Conv"
    assert group_of("CL/enco_cl1_3/h", 1) == "enco_cl1"


def test_a_scope_every_item_shares_is_not_a_group():
    """The ConvLSTM pair's taps all live under `CL/`: its cells are the groups."""
    names = [f"CL/{cell}_{t}" for t in range(10) for cell in ("enco_cl1", "enco_cl2")]
    series, folded, groups = collapse({"i": [_diff(n, 0.01) for n in names + ["CL/loss"]]},
                                      limit=10)
    assert shared_depth(names) == 1 and groups == 2
    assert [d.name for d in series["i"]] == ["CL/enco_cl1/* (10 items)",
                                              "CL/enco_cl2/* (10 items)", "CL/loss"]


def test_wide_margin_groups_fold_and_close_ones_stay_open():
    diffs = [d for d in _unrolled() if not d.name.startswith(("cell_4_", "cell_7_"))]
    layers = {"close": [d for d in _unrolled() if d.name.startswith("cell_4_")],
              "failing": [d for d in _unrolled() if d.name.startswith("cell_7_")]}
    # Groups by layer copy: the names carry two indexes (copy, step); the first scope
    # without its last index is the group, so every "cell_<k>" step folds into one row.
    series, folded, groups = collapse({"training": diffs + layers["close"] + layers["failing"]})
    rows = series["training"]
    names = [d.name for d in rows]
    assert groups == LAYERS - 2 and folded == (LAYERS - 2) * STEPS
    assert sum(name.endswith(f"({STEPS} items)") for name in names) == LAYERS - 2
    assert sum(name.startswith("cell_4_") for name in names) == STEPS  # close: open
    assert "cell_7_12/Gates" in names and any(d.status == FAIL for d in rows)
    assert len(rows) == LAYERS - 2 + 2 * STEPS


def test_a_small_series_is_drawn_item_by_item():
    diffs = [_diff(f"layer_{i}", 0.01) for i in range(50)]
    assert collapse({"a": diffs}) == ({"a": diffs}, 0, 0)


def test_the_figure_of_600_items_stays_a_page():
    png = plot_diffs({"training": _unrolled()}, "unrolled", first="cell_7_12/Gates")
    width, height = Image.open(io.BytesIO(png)).size
    assert height < 1500, height  # one row per folded group, 40 open rows


def test_large_amplifications_are_written_on_the_figure():
    from dataclasses import replace

    from parity.report.plots import _amplified

    diffs = [replace(_diff(f"tap_{i}", 0.01), amplification=a)
             for i, a in enumerate((1.1, 28.0, None, float("inf")))]
    assert _amplified({"inference": diffs, "training": [replace(diffs[1], amplification=40.0)]}
                      ) == {"tap_1": 40.0}
