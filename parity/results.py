"""The data model of one parity run: what the orchestration fills and the report reads.

A `ParityRun` serialises to strict JSON (`summary.json`: everything but arrays) plus an
optional `arrays.npz` (the worst tap and the sample images); `ParityRun.load(folder)` reads both
back. Tables are also written as CSV by `parity.report`, for people and pandas.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import UserError
from parity.diff import TensorDiff, json_float
from parity.sections import FORWARD_SECTIONS
from parity.verdict import Verdict, build_verdict, ordered_sections

FORMAT = "twinport-parity/1"
SUMMARY_JSON = "summary.json"
ARRAYS_NPZ = "arrays.npz"

SETTINGS_KEYS = ("preset", "batch_size", "seed", "steps", "atol", "rtol", "stat", "quantile",
                 "port", "device", "data")


def step_quantities(steps: list[dict[str, Any]]) -> list[str]:
    """The loss labels of the step rows (`tf_<label>` keys, in first-seen order): the pair's
    `TwinPair.losses`."""
    found: dict[str, None] = {}
    for row in steps:
        found.update((key[3:], None) for key in row if key.startswith("tf_"))
    return list(found)


def step_columns(steps: list[dict[str, Any]]) -> list[str]:
    """step, tf_<label> and port_<label> of every loss, lr, port_lr."""
    labels = step_quantities(steps)
    return ["step", *(f"tf_{q}" for q in labels), *(f"port_{q}" for q in labels), "lr",
            "port_lr"]


def jsonable(value: Any) -> Any:
    """Strict-JSON form: numpy scalars to Python, non-finite floats to 'nan'/'inf'/'-inf',
    tuples to lists, paths to strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _step_float(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return value


def dumps_summary(data: dict[str, Any]) -> str:
    """Strict JSON, indented, with one line per TensorDiff (readable and diffable)."""
    data = dict(data)
    sections = data.get("sections") or {}
    marks = {key: f"@@section-{i}@@" for i, key in enumerate(sections)}
    data["sections"] = {key: marks[key] for key in sections}
    text = json.dumps(data, indent=2, allow_nan=False)
    for key, diffs in sections.items():
        lines = [json.dumps(d, allow_nan=False) for d in diffs]
        block = "[\n" + ",\n".join("      " + line for line in lines) + "\n    ]" if lines else "[]"
        text = text.replace(json.dumps(marks[key]), block, 1)
    return text + "\n"


@dataclass
class ParityRun:
    """One parity run.

    settings: preset, batch_size, seed, steps, atol, rtol, stat, quantile, port, device, data
        (free-form dict; these keys are shown first in reports).
    versions: package versions etc. (free-form dict of strings).
    sections: section key (parity.verdict.SECTION_ORDER, e.g. "forward/end-to-end/inference",
        "gradients", "input_gradient", "training_losses", "after_training") -> TensorDiffs in
        graph / variable / step order.
    steps: one dict per training step: step, tf_loss, tf_l2, tf_kl, port_loss, port_l2,
        port_kl, lr (the reference's), port_lr (floats; missing keys allowed), port_error
        (what the port raised, for the step it raised on).
    worst: {"name": str, "section": str, "reference": ndarray, "port": ndarray,
        "layout": "nchw" | "nhwc" | "flat" (optional)} for the worst tap, or None.
    sample: the pair's named images (`TwinPair.sample`), HxWxC floats in [0, 1]; the
        `tf_prediction` and `port_prediction` ones also get a |TF - port| panel
        in [0, 1], or None. sample_caption: the pair's words for them.
    verdict: a parity.verdict.Verdict, or None (then `ensure_verdict()` builds one).
    created: free-form timestamp string.
    repeat: the determinism table of `--repeat N` (`parity.repeat.Spread`s as dicts), or [].
    """

    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, list[TensorDiff]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    worst: dict[str, Any] | None = None
    sample: dict[str, np.ndarray] | None = None
    sample_caption: str = ""
    verdict: Verdict | None = None
    created: str = ""
    repeat: list[dict[str, Any]] = field(default_factory=list)

    def ensure_verdict(self, graph_order: list[str] | None = None) -> Verdict:
        """The verdict, built from the sections when not set yet."""
        if self.verdict is None:
            self.verdict = build_verdict(self.sections, graph_order)
        return self.verdict

    def ordered_sections(self) -> list[str]:
        return ordered_sections(self.sections)

    def pick_worst(self) -> tuple[str, str] | None:
        """(section, tap) to show as the worst tap: the verdict's first divergent forward tap,
        else the forward tap closest to failing (largest max_abs / (atol + rtol * |ref|max))."""
        for key in ordered_sections(self.sections):
            if key in FORWARD_SECTIONS:
                first = next((d for d in self.sections[key] if d.failed), None)
                if first is not None:
                    return key, first.name
        best, best_ratio = None, -1.0
        for key in ordered_sections(self.sections):
            if key not in FORWARD_SECTIONS:
                continue
            for d in self.sections[key]:
                if d.max_abs is None:
                    continue
                bound = d.atol + d.rtol * (d.ref_max_abs or 0.0)
                ratio = d.max_abs / bound if bound > 0 else (math.inf if d.max_abs else 0.0)
                if ratio > best_ratio:
                    best, best_ratio = (key, d.name), ratio
        return best

    # --- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """summary.json's content (no arrays)."""
        verdict = self.ensure_verdict()
        worst = None
        if self.worst:
            worst = {k: v for k, v in self.worst.items() if k not in ("reference", "port")}
            for key in ("reference", "port"):
                if self.worst.get(key) is not None:
                    worst[f"{key}_shape"] = list(np.shape(self.worst[key]))
        return jsonable({
            "format": FORMAT,
            "verdict": verdict.to_dict(),
            "first_divergent": verdict.first_divergent,
            "first_section": verdict.first_section,
            "created": self.created,
            "settings": self.settings,
            "versions": self.versions,
            "sections": {k: [d.to_dict() for d in self.sections[k]]
                         for k in self.ordered_sections()},
            "steps": self.steps,
            "worst": worst,
            "sample": sorted(self.sample) if self.sample else None,
            "sample_caption": self.sample_caption,
            "repeat": self.repeat,
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
                  ) -> ParityRun:
        if data.get("format") != FORMAT:
            raise UserError(f"not a twinport parity summary (format {data.get('format')!r}, "
                            f"expected {FORMAT!r})")
        arrays = arrays or {}
        worst = None
        if data.get("worst"):
            worst = {k: v for k, v in data["worst"].items() if not k.endswith("_shape")}
            if "worst_reference" in arrays and "worst_port" in arrays:
                worst["reference"] = arrays["worst_reference"]
                worst["port"] = arrays["worst_port"]
        sample = {k[len("sample_"):]: v for k, v in arrays.items() if k.startswith("sample_")}
        return cls(
            settings=dict(data.get("settings") or {}),
            versions=dict(data.get("versions") or {}),
            sections={k: [TensorDiff.from_dict(d) for d in v]
                      for k, v in (data.get("sections") or {}).items()},
            steps=[{k: _step_float(v) for k, v in s.items()} for s in data.get("steps") or []],
            worst=worst,
            sample=sample or None,
            sample_caption=data.get("sample_caption", ""),
            verdict=Verdict.from_dict(data["verdict"]) if data.get("verdict") else None,
            created=data.get("created", ""),
            repeat=list(data.get("repeat") or []),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """arrays.npz's content: worst_reference, worst_port, sample_<key>."""
        out = {}
        if self.worst and self.worst.get("reference") is not None:
            out["worst_reference"] = np.asarray(self.worst["reference"])
            out["worst_port"] = np.asarray(self.worst["port"])
        for key, value in (self.sample or {}).items():
            out[f"sample_{key}"] = np.asarray(value)
        return out

    def save(self, folder: str | os.PathLike) -> list[str]:
        """Write summary.json (and arrays.npz when there are arrays) into an existing folder;
        returns the file names written."""
        folder = Path(folder)
        (folder / SUMMARY_JSON).write_text(dumps_summary(self.to_dict()), encoding="utf-8")
        written = [SUMMARY_JSON]
        arrays = self.arrays()
        if arrays:
            np.savez_compressed(folder / ARRAYS_NPZ, **arrays)
            written.append(ARRAYS_NPZ)
        return written

    @classmethod
    def load(cls, path: str | os.PathLike) -> ParityRun:
        """Read a report folder (or its summary.json); arrays.npz beside it is optional."""
        path = Path(path)
        summary = path / SUMMARY_JSON if path.is_dir() else path
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{summary}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{summary}: not valid JSON ({error})") from None
        arrays = {}
        npz = summary.with_name(ARRAYS_NPZ)
        if npz.exists():
            with np.load(npz, allow_pickle=False) as loaded:
                arrays = {k: loaded[k] for k in loaded.files}
        try:
            return cls.from_dict(data, arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{summary}: malformed parity summary ({error})") from None
