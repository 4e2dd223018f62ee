"""`twinport bench`: TF vs the Chainer port (fast path and stock), speed and memory;
`twinport bench gemm`: the fast path's convolutions alone, GFLOP/s per BLAS and on oneDNN."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from twinport.commands.common import add_command, add_model_option


def register(subparsers) -> None:
    p = add_command(subparsers, "bench", "time TF, the Chainer port with its CPU fast path "
                    "and stock Chainer side by side (each in its own process); write markdown "
                    "and a CSV beside it")
    add_model_option(p)
    p.add_argument("--all", action="store_true",
                   help="every registered pair at its bench preset: a report each in "
                   "docs/benchmarks/NAME.md and one table of them in docs/benchmarks.md "
                   "(--out); `make bench`")
    p.add_argument("--preset", help="default: the pair's bench preset (its paper's or seed's "
                   "where a 2-core run finishes: TwinPair.bench_preset)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=5,
                   help="timed forwards and train steps per backend (median; stock Chainer: 1)")
    p.add_argument("--layer-repeats", type=int, default=3,
                   help="timed run_layer calls per layer (median; stock Chainer: 1)")
    p.add_argument("--data", help="dataset folder for the inputs and the loader throughput "
                   "(default: cross_conv a small generated moving-objects set, any other "
                   "model its default dataset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-stock", action="store_true",
                   help="skip stock Chainer (TWINPORT_FAST_CPU=0): minutes on paper")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="N processes spinning a core each while the backends are timed: the "
                   "ratios on a shared machine")
    p.add_argument("--parity", action="store_true",
                   help="also time `twinport parity --preset P --batch-size B`")
    p.add_argument("--blas-core", default="auto",
                   help="OPENBLAS_CORETYPE of the workers: auto (keep the environment's, else "
                   "the best this CPU supports), inherit (leave it as it is) or a name")
    p.add_argument("--out", help="markdown report; the CSV is written beside it (default: "
                   "reports/bench/MODEL.md; with --all docs/benchmarks.md, the pairs' reports in "
                   "the folder of its stem)")
    p.set_defaults(func=run_bench_command)
    tools = p.add_subparsers(dest="bench_command", metavar="[TOOL]",
                             help="run this tool instead of the benchmark")

    g = add_command(tools, "gemm", "where the fast path's convolution time goes: GFLOP/s of "
                    "each large conv layer's GEMMs alone and whole, on MKL and NumPy's BLAS, "
                    "and on oneDNN (a markdown table on stdout)")
    g.add_argument("--preset", default="paper")
    g.add_argument("--batch-size", type=int, default=4)
    g.add_argument("--min-gflop", type=float, default=1.0,
                   help="only conv layers of at least this many forward GFLOP")
    g.add_argument("--repeats", type=int, default=3, help="timed runs of each (median)")
    g.set_defaults(func=run_gemm_command)


def run_bench_command(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from spec.registry import DEFAULT_MODEL, MODELS, get_pair
    from twinport.bench.report import write_index
    from twinport.commands.model_cmd import check_positive

    check_positive(batch_size=args.batch_size, steps=args.steps,
                   layer_repeats=args.layer_repeats)
    if args.load < 0:
        raise UserError(f"--load {args.load}: must not be negative")
    if not args.all:
        pair = get_pair(args.model)
        preset = args.preset or pair.benchmarked_preset
        pair.get_preset(preset)
        _bench_one(args, pair.name, preset, args.out or f"reports/bench/{pair.name}.md")
        return 0
    if args.preset or args.data or args.model != DEFAULT_MODEL:
        raise UserError("--all times every pair at its own bench preset on its own dataset: "
                        "leave out --model, --preset and --data")
    index = Path(args.out or "docs/benchmarks.md")
    pages = []
    for name in MODELS:
        pair = get_pair(name)
        page = index.with_suffix("") / f"{name}.md"
        pages.append((name, _bench_one(args, name, pair.benchmarked_preset, page), page))
    written = write_index(pages, index, _command(args, "--all"))
    print(f"wrote {written}", file=sys.stderr)
    return 0


def _command(args: argparse.Namespace, what: str) -> str:
    """The command line a report names."""
    return (f"twinport bench {what} --batch-size {args.batch_size} --steps {args.steps}"
            + " --no-stock" * args.no_stock + " --parity" * args.parity
            + f" --load {args.load}" * bool(args.load))


def _bench_one(args: argparse.Namespace, model: str, preset: str, out: str | Path
               ) -> dict[str, Any]:
    """One pair's benchmark, printed and written to `out` (markdown, the CSV beside it)."""
    from twinport.bench.report import markdown, write_reports
    from twinport.bench.run import BenchSettings, run_bench

    settings = BenchSettings(preset, args.batch_size, args.steps, args.layer_repeats,
                             None if args.all else args.data, args.seed, not args.no_stock,
                             args.parity, args.blas_core, model, args.load)
    results = run_bench(settings)
    command = _command(args, f"--model {model} --preset {preset}")
    print(markdown(results, command))
    md, table = write_reports(results, out, command)
    print(f"wrote {md} and {table}", file=sys.stderr)
    return results


def run_gemm_command(args: argparse.Namespace) -> int:
    from twinport.bench.gemm import print_table

    print_table(args.preset, args.batch_size, args.min_gflop, args.repeats)
    return 0
