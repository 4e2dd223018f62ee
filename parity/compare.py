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
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from common.errors import UserError

STATS = ("elemwise", "max", "mean", "median", "quantile")
ZERO_REFERENCE_EPS = 2.2e-16

PASS = "pass"
FAIL = "fail"
NONFINITE = "nonfinite"
SHAPE = "shape"
RAISED = "raised"
# Fails the tolerance only where a near-tie decision reaches (parity.ties): neither pass nor fail.
TIE = "tie"
STATUSES = (PASS, FAIL, NONFINITE, SHAPE, RAISED, TIE)

_FLOAT_FIELDS = (
    "atol", "rtol", "quantile", "max_abs", "mean_abs", "max_rel", "mean_rel", "quantile_abs",
    "quantile_rel", "abs_stat", "rel_stat", "cosine", "min_atol", "min_rtol", "ref_max_abs",
    "port_max_abs", "ref_at_worst", "port_at_worst", "headroom",
)


@dataclass
class TensorDiff:
    """How one port tensor differs from its reference twin.

    Statistics are over the elements finite on both sides (`n_compared`); they are None when
    the shapes differ. `worst_index` is the first non-finite mismatch if there is one, else the
    argmax of absdiff. `min_atol` (with rtol = 0) and `min_rtol` (with atol = 0) are the
    smallest tolerances that pass elementwise (inf when a non-finite value mismatches).
    `abs_stat` / `rel_stat` are the statistics `stat` judged (max, mean, median or the
    quantile; for elemwise the max). `suggestion` is filled by `parity.diagnose.suggest`.
    """

    name: str
    status: str
    ref_shape: tuple[int, ...]
    port_shape: tuple[int, ...]
    ref_dtype: str = ""
    port_dtype: str = ""
    stat: str = "elemwise"
    atol: float = 0.0
    rtol: float = 0.0
    quantile: float = 0.99
    n_elements: int = 0
    n_compared: int = 0
    n_mismatched: int = 0
    n_nonfinite_mismatch: int = 0
    n_nan_both: int = 0
    n_inf_both: int = 0
    n_ref_nonfinite: int = 0
    n_port_nonfinite: int = 0
    max_abs: float | None = None
    mean_abs: float | None = None
    max_rel: float | None = None
    mean_rel: float | None = None
    quantile_abs: float | None = None
    quantile_rel: float | None = None
    abs_stat: float | None = None
    rel_stat: float | None = None
    cosine: float | None = None
    min_atol: float | None = None
    min_rtol: float | None = None
    ref_max_abs: float | None = None
    port_max_abs: float | None = None
    worst_index: tuple[int, ...] | None = None
    ref_at_worst: float | None = None
    port_at_worst: float | None = None
    n_tie: int = 0
    headroom: float | None = None
    note: str = ""
    suggestion: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status not in (PASS, TIE)

    def describe(self) -> str:
        """One line: the name, the status and the figures that decided it."""
        if self.status == SHAPE:
            return f"{self.name}: shape {_shape_text(self.ref_shape)} (reference) vs " \
                   f"{_shape_text(self.port_shape)} (port)"
        if self.status == RAISED:
            return f"{self.name}: the port raised {self.note}"
        if self.stat == "init":  # parity.init_check: the figures are in the note
            return f"{self.name}: {self.status}, {self.suggestion or self.note}"
        parts = [f"{self.name}: {self.status}"]
        if self.status == NONFINITE:
            parts.append(f"{self.n_nonfinite_mismatch} non-finite mismatches")
        parts.append(f"max abs {fmt(self.max_abs)} (atol {fmt(self.atol)})")
        parts.append(f"max rel {fmt(self.max_rel)} (rtol {fmt(self.rtol)})")
        if self.stat != "elemwise":
            parts.append(f"{self.stat} abs {fmt(self.abs_stat)} rel {fmt(self.rel_stat)}")
        if self.n_mismatched:
            parts.append(f"{self.n_mismatched} of {self.n_elements} elements fail")
        if self.worst_index is not None and self.status != PASS:
            parts.append(
                f"worst at {self.worst_index}: ref {fmt(self.ref_at_worst)} "
                f"port {fmt(self.port_at_worst)}"
            )
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for CSV: shapes as `2x3x4`, worst_index as `0;1;2`, None as ''."""
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("ref_shape", "port_shape"):
                value = _shape_text(value)
            elif f.name == "worst_index":
                value = "" if value is None else ";".join(str(i) for i in value)
            elif value is None:
                value = ""
            row[f.name] = value
        row["passed"] = self.passed
        return row

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict (non-finite floats as the strings 'nan', 'inf', '-inf')."""
        out = asdict(self)
        for key in ("ref_shape", "port_shape", "worst_index"):
            if out[key] is not None:
                out[key] = list(out[key])
        for key in _FLOAT_FIELDS:
            out[key] = json_float(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorDiff:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("ref_shape", "port_shape"):
            kwargs[key] = tuple(int(i) for i in kwargs.get(key) or ())
        if kwargs.get("worst_index") is not None:
            kwargs["worst_index"] = tuple(int(i) for i in kwargs["worst_index"])
        for key in _FLOAT_FIELDS:
            if kwargs.get(key) is not None:
                kwargs[key] = float(kwargs[key])
        return cls(**kwargs)


def json_float(value: float | None) -> float | str | None:
    """A float for strict JSON: NaN and infinities become 'nan', 'inf', '-inf'."""
    if value is None:
        return None
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def fmt(value: float | None, digits: int = 3) -> str:
    """A compact number for tables: 1.23e-05, 0.5, nan; '' for None."""
    if value is None:
        return ""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    return f"{value:.{digits - 1}e}"


def _shape_text(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return ""
    return "x".join(str(int(s)) for s in shape) if len(shape) else "scalar"


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
    `parity.diagnose.suggest(reference, port, diff, layout)` (layout: "nchw", "nhwc", "hwio",
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
        from parity.diagnose import suggest

        diff.suggestion = suggest(reference, port, diff, layout=layout)
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


STEP_QUANTITIES = ("loss", "l2", "kl")


def compare_steps(
    steps: list[dict[str, Any]],
    atol: float,
    rtol: float,
    stat: str = "elemwise",
    *,
    scale_atol: bool = False,
) -> list[TensorDiff]:
    """One TensorDiff per training step ("step N"), comparing [loss, l2, kl] of TF vs port.

    `steps`: dicts with step, tf_loss, tf_l2, tf_kl, port_loss, port_l2, port_kl (as in
    `ParityRun.steps`); a missing quantity is left out of both sides. The worst_index of a
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
        names = [q for q in STEP_QUANTITIES
                 if entry.get(f"tf_{q}") is not None and entry.get(f"port_{q}") is not None]
        diff = _compare_step(name, entry, [(q, f"tf_{q}", f"port_{q}") for q in names], atol,
                             rtol, stat, scale_atol)
        if entry.get("lr") is not None and entry.get("port_lr") is not None:
            names.append("lr")
            lr_diff = _compare_step(name, entry, [("lr", "lr", "port_lr")], atol, rtol, stat,
                                    scale_atol)
            if lr_diff.failed and diff.passed:
                diff = lr_diff
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
