"""`twinport weights`: import a seed checkpoint, export a run's weights, diff two files."""

from __future__ import annotations

import numpy as np

from common.arrays import read_npz
from spec.cross_conv import build_spec, get_preset
from spec.weights import save_weights
from twinport.evaluate import latest_model
from twinport.runs import RunDir

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float: what diff_rows can subtract


def import_checkpoint(prefix: str, preset: str, output: str) -> int:
    """Read a TF1 Saver checkpoint of the seed into the interchange file; its variable count."""
    from tf_reference.checkpoint import import_tf1_checkpoint

    weights, _ = import_tf1_checkpoint(prefix, build_spec(get_preset(preset)))
    save_weights(output, weights)
    return len(weights)


def export_run(backend: str, run_dir: str, output: str) -> int:
    """The run's newest checkpoint, loaded into `backend` and saved from it."""
    model, _, _ = latest_model(RunDir(run_dir), backend)
    model.save(output)
    return len(model.get_weights())


def diff_rows(path_a: str, path_b: str) -> list[dict]:
    """Per variable: shapes and max abs / max rel difference (rel to |A|, 2.2e-16 at zeros)."""
    a, b = read_npz(path_a, "weights"), read_npz(path_b, "weights")
    rows = []
    for name in list(a) + [n for n in b if n not in a]:
        if name not in a or name not in b:
            rows.append({"variable": name, "status": f"only in {path_a if name in a else path_b}"})
            continue
        if not all(value.dtype.kind in NUMERIC_KINDS for value in (a[name], b[name])):
            rows.append({"variable": name, "status": f"dtype {a[name].dtype} vs {b[name].dtype}"})
            continue
        if a[name].shape != b[name].shape:
            rows.append({"variable": name, "status": f"shape {list(a[name].shape)} vs "
                                                     f"{list(b[name].shape)}"})
            continue
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        absdiff = np.abs(x - y)
        rel = absdiff / (np.abs(x) + (x == 0) * 2.2e-16)
        rows.append({"variable": name, "status": "equal" if not absdiff.any() else "differs",
                     "max_abs": float(absdiff.max(initial=0)),
                     "max_rel": float(rel.max(initial=0))})
    return rows
