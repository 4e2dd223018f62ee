"""What one comparison of a reference tensor with its port twin found (`TensorDiff`), its
statuses, and the number formatting every table uses. `parity.compare` fills these;
`parity.diagnose` reads them; neither imports the other's caller."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

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
    "port_max_abs", "ref_at_worst", "port_at_worst", "headroom", "amplification",
)


@dataclass
class TensorDiff:
    """How one port tensor differs from its reference twin.

    Statistics are over the elements finite on both sides (`n_compared`); they are None when
    the shapes differ. `worst_index` is the first non-finite mismatch if there is one, else the
    argmax of absdiff. `min_atol` (with rtol = 0) and `min_rtol` (with atol = 0) are the
    smallest tolerances that pass elementwise (inf when a non-finite value mismatches).
    `abs_stat` / `rel_stat` are the statistics `stat` judged (max, mean, median or the
    quantile; for elemwise the max). `suggestion` is filled by `parity.diagnose.diagnose`,
    `hint` with the name of the heuristic that made it.
    `headroom`: the worst element's error as a fraction of what its tolerance allows (above 1
    fails).
    `amplification` (end-to-end taps): max abs here over max abs of the same tap isolated.
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
    amplification: float | None = None
    note: str = ""
    suggestion: str | None = None
    hint: str | None = None

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
        # parity.init_check, parity.learning, parity.sampling: in the note
        if self.stat in ("init", "check", "sampling"):
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
