"""Helpers every subcommand uses to declare its parser the same way."""

from __future__ import annotations

import argparse


def add_command(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser whose --help shows defaults."""
    from twinport.cli import HelpFormatter

    return subparsers.add_parser(
        name, help=help_text, description=help_text, formatter_class=HelpFormatter
    )


def add_model_option(p: argparse.ArgumentParser) -> None:
    """`--model NAME`: the twin pair (`twinport models` lists them)."""
    from spec.registry import DEFAULT_MODEL

    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="the twin pair (`twinport models`), or MODULE:ATTR of your own TwinPair")
