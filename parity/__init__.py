"""The framework-independent core of the parity harness: compare, diagnose, judge, report.

Everything works on numpy arrays (no TensorFlow or Chainer import), so captures made on other
machines can be compared and reported with only numpy, pandas and matplotlib installed.
"""

from parity.compare import (
    STATS,
    TensorDiff,
    compare_arrays,
    compare_dicts,
    compare_steps,
)
from parity.diagnose import suggest
from parity.results import ParityRun
from parity.sections import SECTION_ORDER
from parity.verdict import SectionVerdict, Verdict, build_verdict
from spec.section_keys import (
    AFTER_TRAINING,
    FORWARD_E2E_INFERENCE,
    FORWARD_E2E_TRAINING,
    FORWARD_ISO_INFERENCE,
    FORWARD_ISO_TRAINING,
    GRADIENTS,
    INITIALISATION,
    INPUT_GRADIENT,
    MOVING_STATISTICS,
    TRAINING_LOSSES,
)


def write_report(*args, **kwargs):
    """parity.report.write_report (imported on first use: matplotlib loads lazily)."""
    from parity.report import write_report as _write_report

    return _write_report(*args, **kwargs)


def plot_training_runs(*args, **kwargs):
    """parity.report.plot_training_runs (imported on first use)."""
    from parity.report import plot_training_runs as _plot_training_runs

    return _plot_training_runs(*args, **kwargs)


__all__ = [
    "AFTER_TRAINING",
    "FORWARD_E2E_INFERENCE",
    "FORWARD_E2E_TRAINING",
    "FORWARD_ISO_INFERENCE",
    "FORWARD_ISO_TRAINING",
    "GRADIENTS",
    "INITIALISATION",
    "INPUT_GRADIENT",
    "MOVING_STATISTICS",
    "SECTION_ORDER",
    "STATS",
    "TRAINING_LOSSES",
    "ParityRun",
    "SectionVerdict",
    "TensorDiff",
    "Verdict",
    "build_verdict",
    "compare_arrays",
    "compare_dicts",
    "compare_steps",
    "plot_training_runs",
    "suggest",
    "write_report",
]
