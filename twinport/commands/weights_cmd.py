"""`twinport weights import | export | diff`: the interchange .npz."""

from __future__ import annotations

import argparse

from twinport.commands.common import add_command, add_model_option


def register(subparsers) -> None:
    group = add_command(subparsers, "weights", "convert and compare weights (interchange .npz)")
    commands = group.add_subparsers(dest="weights_command", metavar="COMMAND", required=True)

    p = add_command(commands, "import", "a TF1 Saver checkpoint of the seed -> interchange .npz")
    p.add_argument("prefix", metavar="CKPT_PREFIX", help="e.g. /tmp/predict/model.ckpt-1000")
    p.add_argument("--preset", default="paper")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_import)

    p = add_command(commands, "init", "a backend's freshly initialised weights -> .npz")
    add_model_option(p)
    p.add_argument("--backend", choices=("tf", "chainer"), default="tf")
    p.add_argument("--preset", default="paper")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_init)

    p = add_command(commands, "export", "a run's newest checkpoint -> interchange .npz")
    p.add_argument("--backend", choices=("tf", "chainer"), required=True)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=run_export)

    p = add_command(commands, "diff", "per-variable max abs / rel difference of two .npz")
    p.add_argument("a", metavar="A.npz")
    p.add_argument("b", metavar="B.npz")
    p.set_defaults(func=run_diff)


def run_import(args: argparse.Namespace) -> int:
    from twinport.weights_io import import_checkpoint

    count = import_checkpoint(args.prefix, args.preset, args.output)
    print(f"wrote {args.output}: {count} variables")
    return 0


def run_init(args: argparse.Namespace) -> int:
    from twinport.backends import create_model

    model = create_model(args.backend, args.preset, seed=args.seed, model=args.model)
    model.save(args.output)
    print(f"wrote {args.output}: {len(model.get_weights())} variables ({args.backend} "
          f"initialisers, seed {args.seed})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from twinport.weights_io import export_run

    count = export_run(args.backend, args.run_dir, args.output)
    print(f"wrote {args.output}: {count} variables")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from twinport.weights_io import diff_rows

    rows = diff_rows(args.a, args.b)
    width = max(len(row["variable"]) for row in rows) if rows else 8
    print(f"{'variable':{width}s}  {'max_abs':>10s}  {'max_rel':>10s}  status")
    for row in rows:
        if "max_abs" in row:
            print(f"{row['variable']:{width}s}  {row['max_abs']:10.3e}  {row['max_rel']:10.3e}  "
                  f"{row['status']}")
        else:
            print(f"{row['variable']:{width}s}  {'':>10s}  {'':>10s}  {row['status']}")
    differing = sum(row["status"] != "equal" for row in rows)
    print(f"{len(rows)} variables, {differing} differ")
    return 0 if differing == 0 else 1
