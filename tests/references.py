"""The reference side the outside pairs' tests check their ports against: preset small,
batch 3, three synced steps, on the test suite's moving-objects data."""

from __future__ import annotations

from pathlib import Path

from parity.harness import ReferenceRun, prepare_reference
from parity.settings import ParitySettings


def small_reference(model: str, data: Path) -> ReferenceRun:
    settings = ParitySettings(model=model, preset="small", data=str(data), batch_size=3,
                              steps=3)
    run = prepare_reference(settings, progress=False)
    run.store_steps()
    return run
