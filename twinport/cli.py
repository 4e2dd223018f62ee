"""The `twinport` command: one entry point, one subcommand module per concern.

Each module in `twinport.commands` has `register(subparsers)`; it adds its parser and sets
`func` on it. Heavy imports (TensorFlow, Chainer) happen inside the command functions, so
`twinport --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

import chainer_port  # noqa: F401  (NumPy 2 names for Chainer, before a pair's module imports it)
from common.errors import UserError
from common.numerics import set_numerics
from common.tf_startup import show_tf_logs

COMMAND_MODULES = (
    "twinport.commands.data_cmd",
    "twinport.commands.model_cmd",
    "twinport.commands.weights_cmd",
    "twinport.commands.parity_cmd",
    "twinport.commands.pitfalls_cmd",
    "twinport.commands.spec_cmd",
    "twinport.commands.bench_cmd",
    "twinport.commands.env_cmd",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults in every --help and keeps description line breaks."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twinport",
        description="Keep a TensorFlow reference and a Chainer port numerically in step.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks for errors and TensorFlow's C++ logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command as given: `train --workers N` runs it again as each worker.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.debug:
        show_tf_logs()
    set_numerics(getattr(args, "allow_tf32", False) or None)
    try:
        status = args.func(args)
    except UserError as error:
        if args.debug:
            traceback.print_exc()
        # One line whatever the message quotes (a file may hold newlines in a field).
        message = str(error).replace("\r", "\\r").replace("\n", "\\n")
        print(f"twinport: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("twinport: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
