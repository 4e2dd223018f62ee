"""`twinport parity [capture | compare]` and `twinport report`."""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from typing import TYPE_CHECKING

from parity.settings import MODE_CHOICES
from twinport.commands.common import add_command, add_model_option

if TYPE_CHECKING:
    from spec.pair import TwinPair

STATS = ("elemwise", "max", "mean", "quantile")
# The harness's checks of itself: (subcommand, module with add_arguments / run, help).
HARNESS_CHECKS = (
    ("seed-sweep", "parity.seed_sweep", "the model's port must PASS for every seed: one "
     "markdown row per seed with each section's headroom; exit 1 when a seed fails"),
    ("noise-floor", "parity.noise_floor", "the float32 noise floor the default tolerances "
     "stand on: TF32, C32 and C64 from the same weights, per section"),
    ("init-z", "parity.init_check", "the worst |z| of each backend's own initial weights over "
     "many seeds (measures the initialisation check's Z_MAX)"),
)


def add_tolerance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--atol", type=float, help="absolute tolerance (default: measured, per "
                   "section; see docs/parity.md)")
    p.add_argument("--rtol", type=float, help="relative tolerance (default: measured)")
    p.add_argument("--stat", choices=STATS, default="elemwise",
                   help="what must stay within the tolerances")


def add_input_options(p: argparse.ArgumentParser) -> None:
    add_model_option(p)
    p.add_argument("--preset", default="paper")
    p.add_argument("--data", help="dataset folder (train split is used; default: the model's "
                   "default dataset)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20, help="training steps compared")
    p.add_argument("--lr", type=float, help="learning rate of those steps (default: the "
                   "model's schedule)")
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
    p.add_argument("--mode", choices=MODE_CHOICES, default="both",
                   help="forward comparison: whole model, each layer on the reference's "
                   "inputs, or both")
    add_tolerance_options(p)
    p.add_argument("--port", help="MODULE:FACTORY of the port to check (docs/port-interface.md;"
                   " default: the model's own Chainer twin)")
    p.add_argument("--device", default="cpu", help="device for both backends")
    p.add_argument("--tf-device", help="TF device (GPU id); default --device")
    p.add_argument("--chainer-device", help="port device (GPU id); default --device")
    add_numerics_options(p)
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run each side N times on the same weights and inputs and report "
                   "whether the runs are bit-identical, or their spread (determinism)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run seeds --seed .. --seed+N-1 (each its own batch, noise and "
                   "weights) and report each section's worst headroom over them: the margin "
                   "of the tolerances (no report folder; tables in --out)")
    p.add_argument("--sample-pixels", type=int, default=256, metavar="N",
                   help="an autoregressive pair (vpn): the first N pixels of the next frame "
                   "sampled on both twins (0: the whole frame)")
    p.add_argument("--greedy", action="store_true",
                   help="sample each pixel's argmax, not the inverse CDF of a uniform")
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

    for name, module, text in HARNESS_CHECKS:
        c = add_command(commands, name, text)
        add_model_option(c)
        importlib.import_module(module).add_arguments(c)
        c.set_defaults(func=functools.partial(run_harness_check, module))

    c = add_command(commands, "original", "the model's TF reference against the original "
                    "TF1 code it re-implements (on your disk), tap by tap; exit 0 PASS, 1 FAIL")
    add_model_option(c)
    c.add_argument("--preset", default="tiny")
    c.add_argument("--code", required=True, metavar="DIR",
                   help="folder of the original code's files (for Finn's pairs: "
                   "prediction_model.py, lstm_ops.py, spatial_transformer.py)")
    c.add_argument("--data", help="dataset folder (default: the model's)")
    c.add_argument("--batch-size", type=int, default=2)
    c.add_argument("--seed", type=int, default=0)
    add_tolerance_options(c)
    c.add_argument("--out", default="reports/original", help="report folder (replaced)")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    c.set_defaults(func=run_original, steps=0, start_step=0)

    c = add_command(commands, "compare", "compare two captures (reference first)")
    c.add_argument("reference", metavar="A.npz")
    c.add_argument("port", metavar="B.npz")
    add_tolerance_options(c)
    c.add_argument("--out", default="reports/compare", help="report folder (replaced)")
    c.set_defaults(func=run_compare)

    c = add_command(commands, "runs", "two training runs of one pair (any backend, any "
                    "--workers) from the same weights, step by step: losses, then weights and "
                    "optimizer state; exit 0 PASS, 1 FAIL")
    compare_runs = importlib.import_module("twinport.compare_runs")
    compare_runs.add_arguments(c)
    c.set_defaults(func=compare_runs.run)

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
    from parity.harness import run_parity
    from parity.port import load_port, port_spec
    from parity.report import write_report
    from parity.settings import ParitySettings

    pair, preset = check_inputs(args)
    # A bad --port is refused now, not after the reference's capture.
    port = load_port(port_spec(args.port, pair), preset, args.seed,
                     args.chainer_device or args.device)
    settings = ParitySettings(
        model=args.model, preset=args.preset, data=args.data, batch_size=args.batch_size,
        seed=args.seed,
        steps=args.steps, lr=args.lr, mode=args.mode, atol=args.atol, rtol=args.rtol,
        stat=args.stat,
        port=args.port, tf_device=args.tf_device or args.device,
        chainer_device=args.chainer_device or args.device, start_step=args.start_step,
        repeat=args.repeat, sample_pixels=args.sample_pixels, greedy=args.greedy)
    if args.seeds > 1:
        return run_seeds(settings, args.seeds, args.out)
    run = run_parity(settings, progress=not args.quiet, port=port)
    write_report(run, args.out)
    if run.repeat:
        from parity.repeat import summary_line

        print(summary_line(run.repeat, settings.repeat))
    return print_verdict(run, args.out)


def run_seeds(settings, count: int, out: str) -> int:
    """`--seeds N`: the setting over N seeds; the tables printed and in OUT/seeds.md."""
    from pathlib import Path

    from common.atomic import atomic_path
    from parity.seed_sweep import report

    lines, passed = report(settings, list(range(settings.seed, settings.seed + count)))
    text = (f"# twinport parity over {count} seeds ({settings.model}, preset "
            f"{settings.preset}, batch {settings.batch_size}, {settings.steps} steps)\n\n"
            + "\n".join(lines) + "\n")
    with atomic_path(Path(out, "seeds.md")) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    print("\n" + "\n".join(lines) + f"\n\ntables: {out}/seeds.md")
    return 0 if passed else 1


def check_inputs(args: argparse.Namespace) -> tuple[TwinPair, object]:
    """The pair and its preset; refuses bad counts and data that does not fit it, before any
    work. Fills in the pair's default dataset when --data is not given."""
    from common.errors import UserError
    from spec.registry import get_pair

    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.steps < 0:
        raise UserError(f"--steps {args.steps}: must not be negative")
    if args.start_step < 0:
        raise UserError(f"--start-step {args.start_step}: must not be negative")
    if getattr(args, "sample_pixels", 0) < 0:
        raise UserError(f"--sample-pixels {args.sample_pixels}: must not be negative")
    for option in ("repeat", "seeds"):
        if getattr(args, option, 1) < 1:
            raise UserError(f"--{option} {getattr(args, option)}: must be at least 1")
    pair = get_pair(args.model)
    preset = pair.get_preset(args.preset)
    args.data = args.data or pair.default_data
    if pair.check_data is not None:
        pair.check_data(args.data, "train", preset, args.batch_size)
    return pair, preset


def run_capture(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from parity.capture import PARTS, capture_model
    from parity.inputs import ParityInputs
    from parity.port import load_port, twin_spec
    from spec.weights import load_weights

    pair, preset = check_inputs(args)
    layers = pair.build(preset)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise UserError(f"--parts {args.parts}: choose from {', '.join(PARTS)}")
    weights = load_weights(args.weights, layers)
    inputs = ParityInputs.from_dataset(pair, preset, args.data, args.batch_size, args.seed,
                                       args.steps)
    spec = args.port or twin_spec(pair, args.backend)
    model, layout = load_port(spec, preset, args.seed, args.device)
    capture = capture_model(model, layout, layers, weights, inputs, args.steps, parts,
                            label=args.port or args.backend, lr=args.lr,
                            start_step=args.start_step)
    from parity.environment import environment

    capture.meta.update(backend=args.port or args.backend, model=args.model,
                        preset=args.preset,
                        batch_size=args.batch_size, seed=args.seed, steps=args.steps,
                        lr=args.lr, start_step=args.start_step, versions=environment())
    capture.save(args.output)
    print(f"wrote {args.output}: {len(capture.arrays)} arrays, {len(capture.steps)} steps")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from parity.capture import Capture, check_comparable
    from parity.comparer import Comparer, compare_captures
    from parity.environment import numerics_differences
    from parity.report import write_report
    from parity.results import ParityRun
    from parity.synced import capture_step_rows
    from parity.tolerances import Tolerances
    from spec.registry import DEFAULT_MODEL, get_pair

    reference, port = Capture.load(args.reference), Capture.load(args.port)
    check_comparable(reference, port, args.reference, args.port)
    differences = numerics_differences(reference.meta.get("versions") or {},
                                       port.meta.get("versions") or {})
    if differences:
        print(f"twinport: warning: the captures were made under different numerics "
              f"({'; '.join(differences)}): differences may not be the port's", file=sys.stderr)
    pair = get_pair(reference.meta.get("model", DEFAULT_MODEL))
    layers = pair.build(pair.get_preset(reference.meta["preset"]))
    comparer = Comparer(layers, Tolerances.defaults(args.atol, args.rtol), args.stat)
    run = ParityRun(
        settings={**{k: reference.meta.get(k) for k in ("model", "preset", "batch_size",
                                                         "seed", "steps")},
                  "reference": args.reference, "port": args.port, "stat": args.stat},
        versions={"reference": reference.meta.get("versions"),
                  "port": port.meta.get("versions")},
        sections=compare_captures(reference, port, comparer),
        steps=capture_step_rows(reference, port),
    )
    write_report(run, args.out, graph_order=[layer.name for layer in layers])
    return print_verdict(run, args.out)


def run_original(args: argparse.Namespace) -> int:
    from parity.original import OriginalSettings, check_original, original_code, write
    from spec.registry import get_pair

    original_code(get_pair(args.model))
    pair, preset = check_inputs(args)
    settings = OriginalSettings(model=args.model, preset=args.preset, code=args.code,
                                data=args.data, batch_size=args.batch_size, seed=args.seed,
                                atol=args.atol, rtol=args.rtol, stat=args.stat)
    run, notes = check_original(settings, progress=not args.quiet)
    write(run, notes, args.out, [layer.name for layer in pair.build(preset)])
    for note in notes:
        print(f"original: {note}")
    return print_verdict(run, args.out)


def run_harness_check(module: str, args: argparse.Namespace) -> int:
    return importlib.import_module(module).run(args)


def run_report(args: argparse.Namespace) -> int:
    from parity.report import plot_training_runs

    out = plot_training_runs(args.runs, args.output)
    print(f"report: {out}")
    return 0
