"""`twinport models` and `twinport spec`: the registered twin pairs, and the architecture table
a pair's preset builds (the single source of truth)."""

from __future__ import annotations

import argparse
import os

from twinport.commands.common import add_command, add_model_option


def register(subparsers) -> None:
    p = add_command(subparsers, "models", "list the twin pairs: name, presets, inputs, noise, "
                    "optimizer")
    p.set_defaults(func=run_models)
    p = add_command(subparsers, "spec", "print every layer of a preset: name, kind, output shape")
    add_model_option(p)
    p.add_argument("--preset", default="paper")
    p.add_argument("--markdown", action="store_true", help="as a markdown table")
    p.set_defaults(func=run_spec)


def run_models(args: argparse.Namespace) -> int:
    from spec.registry import DEFAULT_MODEL, MODELS, get_pair

    for name in MODELS:
        pair = get_pair(name)
        preset = pair.get_preset(next(iter(pair.presets)))
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {pair.title}")
        print(f"  presets: {', '.join(pair.presets)}")
        print(f"  inputs: {', '.join(s.name for s in pair.inputs(preset))}; noise: "
              f"{', '.join(s.name for s in pair.noise(preset)) or 'none'}; loss: {pair.loss}")
        print(f"  optimizer: {pair.optimizer.describe or pair.optimizer.kind}")
        print(f"  twins: {', '.join(f'{k} {v}' for k, v in pair.twins.items())}")
    return 0


def spec_rows(model: str, preset_name: str) -> list[tuple[str, str, str, str]]:
    from spec.layout import Transpose
    from spec.registry import get_pair

    pair = get_pair(model)
    rows = []
    for layer in pair.build(pair.get_preset(preset_name)):
        shape = ", ".join([layer.batch, *map(str, layer.shape)]) if layer.batch else "scalar"
        shown = [v for v in layer.variables if v.transpose is not Transpose.NONE]
        scope = len(os.path.commonprefix([v.name.split("/")[:-1] for v in shown]))
        variables = ", ".join(f"{'/'.join(v.name.split('/')[scope:])} {list(v.shape)}"
                              for v in shown)
        rows.append((layer.name, layer.kind, f"[{shape}]", variables))
    return rows


def run_spec(args: argparse.Namespace) -> int:
    rows = spec_rows(args.model, args.preset)
    if args.markdown:
        print("| layer | kind | output (TF layout) | kernel |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(f"`{row[0]}`" if i == 0 else cell
                                    for i, cell in enumerate(row)) + " |")
    else:
        width = max(len(row[0]) for row in rows)
        for name, kind, shape, variables in rows:
            print(f"{name:{width}s}  {kind:13s}  {shape:22s}  {variables}")
    print(f"model {args.model}, preset {args.preset}; the first axis is the batch's label "
          "(cross_conv: B = batch, B' = B * (seq_len - 1))")
    return 0
