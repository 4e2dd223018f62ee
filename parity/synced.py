"""Synced training: K steps where every port step starts from the reference's weights and
optimizer state of that step, and the step rows both sides' losses fill."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.progress import progress as show_progress
from parity.capture import Capture, error_text, step_row
from parity.inputs import ParityInputs


def capture_step_rows(reference: Capture, port: Capture) -> list[dict]:
    """The steps both captures ran, then the step the port raised on (if it did)."""
    rows = step_rows(reference.steps, port.steps)
    if len(reference.steps) > len(rows):
        ref = reference.steps[len(rows)]
        error = port.section_errors("step").get(str(ref["step"]))
        if error is not None:
            rows.append(step_entry(ref, error=error))
    return rows


def step_rows(reference: list[dict], port: list[dict]) -> list[dict]:
    return [step_entry(ref, prt) for ref, prt in zip(reference, port, strict=False)]


def step_entry(reference: dict, port: dict | None = None, error: str | None = None) -> dict:
    """One row of the steps table: the reference's step, lr and losses, the port's (its lr as
    `port_lr`) or the error it raised (`port_error`)."""
    labels = [key for key in reference if key not in ("step", "lr")]
    row = {"step": reference["step"], "lr": reference["lr"],
           **{f"tf_{k}": reference[k] for k in labels}}
    if port is not None:
        row.update({f"port_{k}": port[k] for k in (*labels, "lr")})
    if error is not None:
        row["port_error"] = error
    return row


@dataclass
class Trained:
    """One side's weights and optimizer state (`TwinModel.get_optimizer_state`; empty for
    SGD)."""

    weights: OrderedDict[str, np.ndarray]
    state: OrderedDict[str, np.ndarray]


@dataclass
class SyncedStep:
    """One training step of the reference: where it starts, its row, where it ends."""

    index: int
    step: int
    start: Trained
    row: dict[str, float]
    end: Trained


def reference_steps(reference: Any, weights: OrderedDict, inputs: ParityInputs, steps: int,
                    lr: float | None, start_step: int = 0) -> Iterator[SyncedStep]:
    """The reference's K training steps from `weights` and a fresh optimizer at global steps
    start_step, ... (lazily)."""
    reference.set_weights(weights)
    reference.reset_optimizer_state()
    start = Trained(weights, reference.get_optimizer_state())
    for index in range(steps):
        step = start_step + index
        row = step_row(step, reference.train_step(inputs.batches[index], inputs.noise[index],
                                                  step, lr), reference.pair.losses)
        end = Trained(reference.get_weights(), reference.get_optimizer_state())
        yield SyncedStep(index, step, start, row, end)
        start = end


def synced_training(reference: Iterable[SyncedStep], port: Any, inputs: ParityInputs,
                    lr: float | None, progress: bool, total: int | None = None
                    ) -> tuple[list[dict], SyncedStep | None, Trained | None]:
    """K training steps where every port step starts from the reference's weights and
    optimizer state of that step.

    Free-running, two float32 trainings part within a few steps at the seed's learning rates
    whatever the port (rounding differences grow ~20x per step; docs/parity.md), so each step
    is checked on its own: same starting weights and state, same batch and noise, then the
    losses, the learning rates, and the updated weights and state are compared. `reference`:
    its steps (`reference_steps`, run interleaved, or a stored list reused for many ports).
    Returns the step rows, the reference's last step and where the port's ended; when the port
    raises, its row says so and both are None.
    """
    rows: list[dict] = []
    last = None
    for synced in show_progress(reference, desc="training steps", unit="step", total=total,
                                disable=not progress, leave=False):
        port.set_weights(synced.start.weights)
        try:
            port.set_optimizer_state(synced.start.state)
            out = port.train_step(inputs.batches[synced.index], inputs.noise[synced.index],
                                  synced.step, lr)
        except Exception as error:  # a port's failure is a finding
            rows.append(step_entry(synced.row, error=error_text(error)))
            return rows, None, None
        rows.append(step_entry(synced.row, step_row(synced.step, out, port.pair.losses)))
        last = synced
    return rows, last, (Trained(port.get_weights(), port.get_optimizer_state()) if rows
                        else None)
