"""`twinport parity [capture | compare]` and `twinport report`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from common.paths import DEFAULT_DATASET
from twinport.commands.common import add_command

if TYPE_CHECKING:
    from spec.presets import Preset

STATS = ("elemwise", "max", "mean", "quantile")


def add_tolerance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--atol", type=float, help="absolute tolerance (default: measured, per "
                   "section; see docs/parity.md)")
    p.add_argument("--rtol", type=float, help="relative tolerance (default: measured)")
    p.add_argument("--stat", choices=STATS, default="elemwise",
                   help="what must stay within the tolerances")


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="paper")
    p.add_argument("--data", default=DEFAULT_DATASET, help="dataset folder (train split is used)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20, help="SGD steps compared")
    p.add_argument("--lr", type=float, help="learning rate of those steps (default: the "
                   "seed's schedule, 0.8 * 0.5^(step/10000))")
    p.add_argument("--start-step", type=int, default=0,
                   help="global step of the first SGD step: the schedule's form (staircase, "
                   "per-update decay, the 0.01 floor) only shows away from step 0 "
                   "(docs/pitfalls.md)")


def add_numerics_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-tf32", action="store_true",
                   help="let TF, cuBLAS and cuDNN use TensorFloat-32 on a GPU (off by default: "
                   "it fails float32 tolerances for no fault of the port; common.numerics)")


def register(subparsers) -> None:
    p = add_command(subparsers, "parity", "compare the TF reference and the port, layer by "
                    "layer, gradients and K training steps; exit 0 PASS, 1 FAIL, 2 bad input")
    add_input_options(p)
    p.add_argument("--mode", choices=("both", "end-to-end", "isolated"), default="both",
                   help="forward comparison: whole model, each layer on the reference's "
                   "inputs, or both")
    add_tolerance_options(p)
    p.add_argument("--port", default="chainer_port.model:CrossConvModel",
                   help="MODULE:FACTORY of the port to check (docs/port-interface.md)")
    p.add_argument("--device", default="cpu", help="device for both backends")
    p.add_argument("--tf-device", help="TF device (GPU id); default --device")
    p.add_argument("--chainer-device", help="port device (GPU id); default --device")
    add_numerics_options(p)
    p.add_argument("--out", default="reports/parity", help="report folder (replaced)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_parity)
    commands = p.add_subparsers(dest="parity_command", metavar="COMMAND")

    c = add_command(commands, "capture", "run one backend and save what it computes, to "
                    "compare on another machine or environment")
    c.add_argument("--backend", choices=("tf", "chainer"), default="chainer")
    c.add_argument("--port", help="MODULE:FACTORY instead of --backend")
    add_input_options(c)
    c.add_argument("--weights", required=True, help="interchange .npz both captures start from "
                   "(e.g. `twinport weights init`)")
    c.add_argument("--parts", default="forward,gradients,training",
                   help="comma-separated: forward, gradients, training")
    c.add_argument("--device", default="cpu")
    add_numerics_options(c)
    c.add_argument("-o", "--output", required=True, help="capture .npz (compressed)")
    c.set_defaults(func=run_capture)

    c = add_command(commands, "compare", "compare two captures (reference first)")
    c.add_argument("reference", metavar="A.npz")
    c.add_argument("port", metavar="B.npz")
    add_tolerance_options(c)
    c.add_argument("--out", default="reports/compare", help="report folder (replaced)")
    c.set_defaults(func=run_compare)

    r = add_command(subparsers, "report", "plot training runs of either backend side by side")
    r.add_argument("runs", metavar="RUN_DIR", nargs="+")
    r.add_argument("-o", "--output", required=True, help="report folder")
    r.set_defaults(func=run_report)


def print_verdict(run, out: str) -> int:
    verdict = run.ensure_verdict()
    print(verdict.summary_text())
    print(f"report: {out}/report.html")
    return verdict.exit_status()


def run_parity(args: argparse.Namespace) -> int:
    from parity.harness import ParitySettings, run_parity
    from parity.port import load_port
    from parity.report import write_report
    from spec import build_spec, get_preset

    check_inputs(args)
    # A bad --port is refused now, not after the reference's capture.
    load_port(args.port, args.preset, args.seed, args.chainer_device or args.device)
    settings = ParitySettings(
        preset=args.preset, data=args.data, batch_size=args.batch_size, seed=args.seed,
        steps=args.steps, lr=args.lr, mode=args.mode, atol=args.atol, rtol=args.rtol,
        stat=args.stat,
        port=args.port, tf_device=args.tf_device or args.device,
        chainer_device=args.chainer_device or args.device, start_step=args.start_step)
    run = run_parity(settings, progress=not args.quiet)
    order = [layer.name for layer in build_spec(get_preset(args.preset))]
    write_report(run, args.out, graph_order=order)
    return print_verdict(run, args.out)


def check_inputs(args: argparse.Namespace) -> Preset:
    """The preset; refuses bad counts and data that does not fit it, before any work."""
    from common.errors import UserError
    from spec import get_preset
    from twinport.datafit import open_split

    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.steps < 0:
        raise UserError(f"--steps {args.steps}: must not be negative")
    if args.start_step < 0:
        raise UserError(f"--start-step {args.start_step}: must not be negative")
    preset = get_preset(args.preset)
    open_split(args.data, "train", preset, args.batch_size)
    return preset


def run_capture(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from parity.capture import PARTS, capture_model
    from parity.inputs import ParityInputs
    from parity.port import load_port
    from spec import build_spec
    from spec.weights import load_weights

    preset = check_inputs(args)
    layers = build_spec(preset)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise UserError(f"--parts {args.parts}: choose from {', '.join(PARTS)}")
    weights = load_weights(args.weights, layers)
    inputs = ParityInputs.from_dataset(args.data, preset, args.batch_size, args.seed,
                                       args.steps)
    spec = args.port or {"tf": "tf_reference.model:CrossConvModel",
                         "chainer": "chainer_port.model:CrossConvModel"}[args.backend]
    model, layout = load_port(spec, args.preset, args.seed, args.device)
    capture = capture_model(model, layout, layers, weights, inputs, args.steps, parts,
                            label=args.port or args.backend, lr=args.lr,
                            start_step=args.start_step)
    from parity.environment import environment

    capture.meta.update(backend=args.port or args.backend, preset=args.preset,
                        batch_size=args.batch_size, seed=args.seed, steps=args.steps,
                        lr=args.lr, start_step=args.start_step, versions=environment())
    capture.save(args.output)
    print(f"wrote {args.output}: {len(capture.arrays)} arrays, {len(capture.steps)} steps")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from parity.capture import Capture, check_comparable
    from parity.environment import numerics_differences
    from parity.harness import Comparer, capture_step_rows, compare_captures
    from parity.report import write_report
    from parity.results import ParityRun
    from parity.tolerances import Tolerances
    from spec import build_spec, get_preset

    reference, port = Capture.load(args.reference), Capture.load(args.port)
    check_comparable(reference, port, args.reference, args.port)
    differences = numerics_differences(reference.meta.get("versions") or {},
                                       port.meta.get("versions") or {})
    if differences:
        print(f"twinport: warning: the captures were made under different numerics "
              f"({'; '.join(differences)}): differences may not be the port's", file=sys.stderr)
    layers = build_spec(get_preset(reference.meta["preset"]))
    comparer = Comparer(layers, Tolerances.defaults(args.atol, args.rtol), args.stat)
    run = ParityRun(
        settings={**{k: reference.meta.get(k) for k in ("preset", "batch_size", "seed",
                                                         "steps")},
                  "reference": args.reference, "port": args.port, "stat": args.stat},
        versions={"reference": reference.meta.get("versions"),
                  "port": port.meta.get("versions")},
        sections=compare_captures(reference, port, comparer),
        steps=capture_step_rows(reference, port),
    )
    write_report(run, args.out, graph_order=[layer.name for layer in layers])
    return print_verdict(run, args.out)


def run_report(args: argparse.Namespace) -> int:
    from parity.report import plot_training_runs

    out = plot_training_runs(args.runs, args.output)
    print(f"report: {out}")
    return 0
