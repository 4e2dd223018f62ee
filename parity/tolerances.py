"""Default tolerances per section, from the measured float32 noise floor (docs/parity.md).

Every atol is in units of the tensor's largest |reference| value (`scale_atol`), so one number
fits taps of magnitude 10, gradients of magnitude 1e-4 and a BatchNorm beta near 0. An element
passes when its scaled absolute difference is within atol or its relative difference within
rtol (Polygraphy's elementwise rule).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Tolerances:
    """(atol, rtol) per section."""

    inference: tuple[float, float] = (1e-4, 1e-5)
    training: tuple[float, float] = (1e-3, 1e-4)
    moving_statistics: tuple[float, float] = (1e-3, 1e-4)
    gradients: tuple[float, float] = (1e-1, 1e-3)
    steps: tuple[float, float] = (1e-4, 1e-4)
    after_training: tuple[float, float] = (1e-1, 1e-3)

    @classmethod
    def defaults(cls, atol: float | None = None, rtol: float | None = None) -> Tolerances:
        """The measured defaults; `--atol` / `--rtol` replace them in every section."""
        base = cls()
        if atol is None and rtol is None:
            return base
        return replace(base, **{
            f.name: (atol if atol is not None else getattr(base, f.name)[0],
                     rtol if rtol is not None else getattr(base, f.name)[1])
            for f in fields(base)})
