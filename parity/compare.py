"""Compare one reference tensor with its port twin: statistics, pass/fail, NaN/inf bookkeeping.

Everything here works on host numpy arrays in float64; no framework is imported. The rules
follow Polygraphy's (`polygraphy run --check-error-stat`):

* absdiff = |port - reference|; reldiff = absdiff / |reference|, with 2.2e-16 in place of
  |reference| where the reference is 0.
* `elemwise`: an element fails when absdiff > atol AND reldiff > rtol (it passes when
  absdiff <= atol OR reldiff <= rtol); the tensor fails when any element fails.
* `max` / `mean` / `median` / `quantile`: the tensor fails when the abs statistic > atol AND the
  rel statistic > rtol.
* Non-finite values: NaN on both sides at the same position, or the same-signed inf on both
  sides, are reported ("nan in both") and left out of the statistics. Any other non-finite
  value (NaN or inf against a finite number, NaN against inf, +inf against -inf) fails the
  tensor whatever the tolerances (status "nonfinite").
* Different shapes: status "shape", both shapes, no statistics.
* The port raised instead of computing the tensor: status "raised" (`raised_diff`), the
  exception in `note`, no statistics.
* `scale_atol=True` (what `twinport parity` uses): atol is given in units of the tensor's
  largest finite |reference| value, so one tolerance fits a tap of magnitude 10 and a gradient
  of magnitude 1e-4; the recorded `atol` is the effective, scaled one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common.errors import UserError
from parity.diagnose import diagnose as diagnose_diff
from parity.diff import (
    FAIL,
    NONFINITE,
    PASS,
    RAISED,
    SHAPE,
    TensorDiff,
)

STATS = ("elemwise", "max", "mean", "median", "quantile")
ZERO_REFERENCE_EPS = 2.2e-16

def _check_options(stat: str, atol: float, rtol: float, quantile: float) -> None:
    if stat not in STATS:
        raise UserError(f"unknown error statistic {stat!r}: choose one of {', '.join(STATS)}")
    if not (atol >= 0 and rtol >= 0):
        raise UserError(f"tolerances must be >= 0 (atol {atol}, rtol {rtol})")
    if not 0 <= quantile <= 1:
        raise UserError(f"quantile must be in [0, 1], not {quantile}")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two float64 vectors; 1.0 when both are zero, 0.0 when one is."""
    scale_a = float(np.max(np.abs(a))) if a.size else 0.0
    scale_b = float(np.max(np.abs(b))) if b.size else 0.0
    if scale_a == 0 and scale_b == 0:
        return 1.0
    if scale_a == 0 or scale_b == 0:
        return 0.0
    a = a / scale_a  # scaled against overflow; the cosine does not change
    b = b / scale_b
    value = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return min(1.0, max(-1.0, value))


def _stat_pair(absdiff: np.ndarray, reldiff: np.ndarray, stat: str, quantile: float):
    if absdiff.size == 0:
        return 0.0, 0.0
    if stat in ("elemwise", "max"):
        return float(absdiff.max()), float(reldiff.max())
    if stat == "mean":
        return float(absdiff.mean()), float(reldiff.mean())
    q = 0.5 if stat == "median" else quantile
    return _quantile(absdiff, q), _quantile(reldiff, q)


def _headroom(absdiff: np.ndarray, reldiff: np.ndarray, atol: float, rtol: float) -> float:
    """The worst element's error as a fraction of its tolerance: an element fails when it is
    over both, so its fraction is the smaller of absdiff / atol and reldiff / rtol (> 1 fails)."""
    if absdiff.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        by_abs = absdiff / atol if atol else np.where(absdiff > 0, np.inf, 0.0)
        by_rel = reldiff / rtol if rtol else np.where(reldiff > 0, np.inf, 0.0)
    return float(np.max(np.minimum(by_abs, by_rel)))


def _quantile(values: np.ndarray, q: float) -> float:
    """np.quantile (linear); with infinities, where interpolation gives nan, the next value up."""
    with np.errstate(invalid="ignore"):
        value = float(np.quantile(values, q))
    if math.isnan(value):
        value = float(np.quantile(values, q, method="higher"))
    return value


def compare_arrays(
    name: str,
    reference: np.ndarray,
    port: np.ndarray,
    atol: float,
    rtol: float,
    stat: str = "elemwise",
    quantile: float = 0.99,
    *,
    layout: str | None = None,
    diagnose: bool = True,
    scale_atol: bool = False,
) -> TensorDiff:
    """Compare `port` with `reference` (same layout) in float64; see the module docstring.

    When the tensor fails and `diagnose` is true, `suggestion` is filled by
    `parity.diagnose.diagnose(reference, port, diff, layout)` (layout: "nchw", "nhwc", "hwio",
    "flat"; None = NCHW for rank >= 4, flat otherwise).
    """
    _check_options(stat, atol, rtol, quantile)
    ref_in = np.asarray(reference)
    port_in = np.asarray(port)
    if scale_atol:
        finite = np.abs(ref_in[np.isfinite(ref_in)])
        atol = float(atol) * (float(finite.max()) if finite.size else 0.0)
    base = dict(
        name=name,
        ref_shape=tuple(int(s) for s in ref_in.shape),
        port_shape=tuple(int(s) for s in port_in.shape),
        ref_dtype=str(ref_in.dtype),
        port_dtype=str(port_in.dtype),
        stat=stat,
        atol=float(atol),
        rtol=float(rtol),
        quantile=float(quantile),
        n_elements=int(ref_in.size),
    )
    if ref_in.shape != port_in.shape:
        diff = TensorDiff(status=SHAPE, note="shapes differ", **base)
        return _with_suggestion(diff, ref_in, port_in, layout, diagnose)

    ref = ref_in.astype(np.float64, copy=False)
    prt = port_in.astype(np.float64, copy=False)
    ref_finite = np.isfinite(ref)
    port_finite = np.isfinite(prt)
    both_finite = ref_finite & port_finite
    nan_both = np.isnan(ref) & np.isnan(prt)
    inf_both = np.isinf(ref) & np.isinf(prt) & (np.sign(ref) == np.sign(prt))
    nonfinite_mismatch = ~(both_finite | nan_both | inf_both)
    n_nonfinite_mismatch = int(nonfinite_mismatch.sum())

    with np.errstate(over="ignore", invalid="ignore"):
        absdiff_full = np.where(both_finite, np.abs(prt - ref), 0.0)
        absref_full = np.where(both_finite, np.abs(ref), 0.0)
        # a subnormal reference can overflow reldiff to inf: that is a real "fails any rtol"
        reldiff_full = absdiff_full / np.where(absref_full == 0, ZERO_REFERENCE_EPS,
                                               absref_full)
    absdiff = absdiff_full[both_finite]
    reldiff = reldiff_full[both_finite]
    elem_fail = (absdiff_full > atol) & (reldiff_full > rtol) & both_finite
    headroom = _headroom(absdiff, reldiff, atol, rtol)

    n_compared = int(both_finite.sum())
    if n_compared:
        max_abs, mean_abs = float(absdiff.max()), float(absdiff.mean())
        max_rel, mean_rel = float(reldiff.max()), float(reldiff.mean())
        q_abs, q_rel = _quantile(absdiff, quantile), _quantile(reldiff, quantile)
    else:
        max_abs = mean_abs = max_rel = mean_rel = q_abs = q_rel = 0.0
    abs_stat, rel_stat = _stat_pair(absdiff, reldiff, stat, quantile)

    if n_nonfinite_mismatch:
        status = NONFINITE
        worst = np.unravel_index(int(np.argmax(nonfinite_mismatch)), ref.shape)
        min_atol = min_rtol = math.inf
    else:
        if stat == "elemwise":
            failed = bool(elem_fail.any())
        else:
            failed = abs_stat > atol and rel_stat > rtol
        status = FAIL if failed else PASS
        worst = np.unravel_index(int(np.argmax(absdiff_full)), ref.shape) if ref.size else None
        min_atol, min_rtol = max_abs, max_rel

    notes = []
    n_nan_both, n_inf_both = int(nan_both.sum()), int(inf_both.sum())
    if n_nan_both:
        notes.append(f"nan in both ({n_nan_both} elements)")
    if n_inf_both:
        notes.append(f"inf in both ({n_inf_both} elements)")
    if n_nonfinite_mismatch:
        notes.append(
            f"non-finite mismatch ({n_nonfinite_mismatch} elements; "
            f"reference {int((~ref_finite).sum())} non-finite, port {int((~port_finite).sum())})"
        )

    worst_index = tuple(int(i) for i in worst) if worst is not None else None
    diff = TensorDiff(
        status=status,
        n_compared=n_compared,
        n_mismatched=int(elem_fail.sum()) + n_nonfinite_mismatch,
        n_nonfinite_mismatch=n_nonfinite_mismatch,
        n_nan_both=n_nan_both,
        n_inf_both=n_inf_both,
        n_ref_nonfinite=int((~ref_finite).sum()),
        n_port_nonfinite=int((~port_finite).sum()),
        max_abs=max_abs,
        mean_abs=mean_abs,
        max_rel=max_rel,
        mean_rel=mean_rel,
        quantile_abs=q_abs,
        quantile_rel=q_rel,
        abs_stat=abs_stat,
        rel_stat=rel_stat,
        cosine=_cosine(ref[both_finite], prt[both_finite]),
        min_atol=min_atol,
        min_rtol=min_rtol,
        ref_max_abs=float(np.abs(ref[ref_finite]).max()) if ref_finite.any() else 0.0,
        port_max_abs=float(np.abs(prt[port_finite]).max()) if port_finite.any() else 0.0,
        worst_index=worst_index,
        ref_at_worst=float(ref[worst_index]) if worst_index is not None else None,
        port_at_worst=float(prt[worst_index]) if worst_index is not None else None,
        headroom=math.inf if n_nonfinite_mismatch else headroom,
        note="; ".join(notes),
        **base,
    )
    return _with_suggestion(diff, ref, prt, layout, diagnose)


def raised_diff(name: str, error: str, ref_shape: tuple[int, ...] = (), atol: float = 0.0,
                rtol: float = 0.0) -> TensorDiff:
    """The item `name` the port could not compute: it raised `error` ("TypeError: ...")."""
    return TensorDiff(name=name, status=RAISED, ref_shape=tuple(ref_shape), port_shape=(),
                      atol=float(atol), rtol=float(rtol), note=error)


def _with_suggestion(diff, reference, port, layout, diagnose: bool) -> TensorDiff:
    if diagnose and diff.failed:
        found = diagnose_diff(reference, port, diff, layout=layout)
        if found:
            diff.hint, diff.suggestion = found
    return diff


def missing_diff(name: str, reference: np.ndarray | None, atol: float, rtol: float,
                 stat: str = "elemwise", quantile: float = 0.99,
                 port: np.ndarray | None = None) -> TensorDiff:
    """A "shape" diff for a name one side lacks (the missing shape is ())."""
    side = "reference" if reference is None else "port"
    present = port if reference is None else reference
    shape = tuple(np.shape(present)) if present is not None else ()
    return TensorDiff(name=name, status=SHAPE, ref_shape=shape if side == "port" else (),
                      port_shape=shape if side == "reference" else (), stat=stat,
                      atol=float(atol), rtol=float(rtol), quantile=float(quantile),
                      note=f"missing in the {side}")


def compare_dicts(
    reference: dict[str, np.ndarray],
    port: dict[str, np.ndarray],
    atol: float,
    rtol: float,
    stat: str = "elemwise",
    quantile: float = 0.99,
    *,
    order: list[str] | None = None,
    layouts: dict[str, str] | None = None,
    diagnose: bool = True,
    scale_atol: bool = False,
) -> list[TensorDiff]:
    """`compare_arrays` for every name, in `order` (default: the reference's key order).

    A name missing on one side gives a "shape" diff whose missing shape is () and whose note
    says which side lacks it.
    """
    names = list(order) if order is not None else list(reference)
    names += [n for n in port if n not in names and n not in reference]
    names += [n for n in reference if n not in names]
    out = []
    for name in names:
        if name not in reference or name not in port:
            out.append(missing_diff(name, reference.get(name), atol, rtol, stat, quantile,
                                    port.get(name)))
            continue
        layout = (layouts or {}).get(name)
        out.append(compare_arrays(name, reference[name], port[name], atol, rtol, stat, quantile,
                                  layout=layout, diagnose=diagnose, scale_atol=scale_atol))
    return out


LR_HINT = "learning_rate"


def compare_steps(
    steps: list[dict[str, Any]],
    atol: float,
    rtol: float,
    stat: str = "elemwise",
    *,
    scale_atol: bool = False,
) -> list[TensorDiff]:
    """One TensorDiff per training step ("step N"), comparing every loss of TF vs port.

    `steps`: dicts with step and tf_<label>, port_<label> of each of the pair's losses (as in
    `ParityRun.steps`); a quantity missing on one side is left out of both. The worst_index of a
    failing step points into the quantities compared (listed in `note`). When a step also has
    `lr` and `port_lr` (the learning rate each side says it used), the learning rate is
    judged on its own with the same tolerances (so its size does not scale the losses' atol):
    a step whose losses agree but whose learning rates differ fails on the learning rate. A
    step with `port_error` (the port raised) is a "raised" item.
    """
    out = []
    for entry in steps:
        name = f"step {int(entry['step'])}"
        if entry.get("port_error"):
            out.append(raised_diff(name, entry["port_error"], atol=atol, rtol=rtol))
            continue
        names = [key[3:] for key in entry if key.startswith("tf_") and entry[key] is not None
                 and entry.get(f"port_{key[3:]}") is not None]
        diff = _compare_step(name, entry, [(q, f"tf_{q}", f"port_{q}") for q in names], atol,
                             rtol, stat, scale_atol)
        if entry.get("lr") is not None and entry.get("port_lr") is not None:
            names.append("lr")
            lr_diff = _compare_step(name, entry, [("lr", "lr", "port_lr")], atol, rtol, stat,
                                    scale_atol)
            if lr_diff.failed:
                lr_diff.hint, lr_diff.suggestion = LR_HINT, (
                    "the learning rates differ: the schedule (decay per update or per step, "
                    "staircase or smooth) or the optimizer's lr setting")
                diff = lr_diff if diff.passed else diff
                diff.hint, diff.suggestion = lr_diff.hint, lr_diff.suggestion
        diff.note = "; ".join(x for x in (diff.note, "compared: " + ", ".join(names)) if x)
        out.append(diff)
    return out


def _compare_step(name: str, entry: dict[str, Any], quantities: list[tuple[str, str, str]],
                  atol: float, rtol: float, stat: str, scale_atol: bool) -> TensorDiff:
    """`quantities` (label, reference key, port key) of one step as one TensorDiff."""
    ref = np.array([float(entry[r]) for _, r, _ in quantities], dtype=np.float64)
    prt = np.array([float(entry[p]) for _, _, p in quantities], dtype=np.float64)
    diff = compare_arrays(name, ref, prt, atol, rtol, stat, diagnose=False,
                          scale_atol=scale_atol)
    if diff.failed and diff.worst_index is not None and quantities:
        diff.note = "; ".join(x for x in (diff.note,
                                          f"worst: {quantities[diff.worst_index[0]][0]}") if x)
    return diff
