"""`twinport parity original`: the pair's TF reference against the original TF1 code it was
re-implemented from (`spec.original.OriginalCode`, run by `tf_reference.original`).

Parity proves the port equals the reference; this proves the reference equals the original.
The original is the truth here: both forward modes of the original graph, on the pair's
weights, inputs and noise, are compared with the reference's taps the pair's map names, in
graph order, with parity's end-to-end tolerances, so the report reads as parity's does (the
"reference" column is the original code, the "port" column the pair's TF reference) and the
first divergent tap is the first place the reference computes something else.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.errors import UserError
from parity.capture import MODES, capture_model
from parity.comparer import Comparer
from parity.environment import environment
from parity.harness import check_reference
from parity.inputs import ParityInputs
from parity.results import ParityRun
from parity.sections import E2E_SECTIONS
from parity.tolerances import Tolerances
from spec.pair import TwinPair
from spec.registry import get_pair


@dataclass
class OriginalSettings:
    """The pair and preset, its data and batch, the seed, and the original code's folder."""

    model: str
    preset: str
    code: str
    data: str | None = None
    batch_size: int = 2
    seed: int = 0
    atol: float | None = None
    rtol: float | None = None
    stat: str = "elemwise"


def original_code(pair: TwinPair) -> Any:
    if pair.original is None:
        raise UserError(f"model {pair.name} has no map to its original code "
                        "(TwinPair.original; spec/original.py)")
    return pair.original


def check_original(settings: OriginalSettings, progress: bool = True,
                   reference_class: type | None = None) -> tuple[ParityRun, list[str]]:
    """The run (one forward section per mode) and notes on how the original was run (its
    patches, the variables only it has, the creation order). `reference_class`: another TF
    twin than the pair's (a mutant)."""
    from tf_reference.original import run_original

    pair = get_pair(settings.model)
    code = original_code(pair)
    preset = pair.get_preset(settings.preset)
    folder = code.check_folder(settings.code, preset)
    inputs = ParityInputs.from_dataset(pair, preset, settings.data or pair.default_data,
                                       settings.batch_size, settings.seed, 0)
    reference = (reference_class or pair.twin_class("tf"))(preset, seed=settings.seed)
    weights = reference.get_weights()
    capture = capture_model(reference, reference.layout, reference.layers, weights, inputs, 0,
                            ("forward",), progress, "tf")
    check_reference(capture)
    comparer = Comparer(reference.layers, Tolerances.defaults(settings.atol, settings.rtol),
                        settings.stat)
    sections, notes = {}, [f"patched {patch.file}: {patch.why}"
                           for patch in code.patches(preset)]
    for section in E2E_SECTIONS:
        taps = capture.section(section.mode)
        feed = {name: taps[code.fed_taps[name]] if name in code.fed_taps else value
                for name, value in inputs.batches[0].items()}
        training = MODES[section.mode]
        found, match = run_original(code, folder, preset, feed, inputs.noise[0], weights,
                                    training, code.feeds(preset, inputs.batches[0], taps,
                                                         training))
        sections[section.key] = comparer.taps_diff(
            section.key, found, {name: taps[name] for name in found if name in taps},
            taps=[name for name in comparer.taps if name in found])
    notes.append(f"{match.count} variables loaded by name, "
                 f"{'in' if match.same_order else 'NOT in'} the pair's creation order")
    if match.extra:
        notes.append(f"{len(match.extra)} trainable variables only the original has, left at "
                     f"its initialiser: {', '.join(match.extra[:5])}")
    run = ParityRun(
        settings={**asdict(settings), "reference": f"original code in {settings.code}",
                  "port": f"{pair.name}'s TF reference ({pair.twins['tf']})",
                  "tolerances": asdict(comparer.tolerances)},
        versions=environment(),
        sections=sections,
        steps=[],
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    run.ensure_verdict(comparer.taps)
    return run, notes


def write(run: ParityRun, notes: list[str], out: str | Path, graph_order: list[str]) -> None:
    from parity.report import write_report

    folder = write_report(run, out, graph_order=graph_order)
    (folder / "original.txt").write_text("\n".join(notes) + "\n")
