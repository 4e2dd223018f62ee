"""`twinport env`: what this machine offers each side (the table every capture and report has)."""

from __future__ import annotations

import argparse
import json

from twinport.commands.common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "env", "versions, devices, cuDNN, TF32, determinism, BLAS, "
                    "threads, fast-path switches and CPU, as both sides see them")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.add_argument("--no-frameworks", action="store_true",
                   help="skip what only a loaded TF or Chainer can tell (fast)")
    p.set_defaults(func=run_env)


def run_env(args: argparse.Namespace) -> int:
    from parity.environment import environment, table_text

    rows = environment(load=not args.no_frameworks)
    print(json.dumps(rows, indent=2) if args.json else table_text(rows))
    return 0
