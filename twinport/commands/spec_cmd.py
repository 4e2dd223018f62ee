"""`twinport spec`: print the architecture table a preset builds (the single source of truth)."""

from __future__ import annotations

import argparse

from twinport.commands.common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "spec", "print every layer of a preset: name, kind, output shape")
    p.add_argument("--preset", default="paper")
    p.add_argument("--markdown", action="store_true", help="as a markdown table")
    p.set_defaults(func=run_spec)


def spec_rows(preset_name: str) -> list[tuple[str, str, str, str]]:
    from spec import build_spec, get_preset

    rows = []
    for layer in build_spec(get_preset(preset_name)):
        batch = {"frames": "B", "pairs": "B'", None: ""}[layer.batch]
        shape = ", ".join([batch, *map(str, layer.shape)]) if batch else "scalar"
        variables = ", ".join(f"{name.rsplit('/', 1)[-1]} {list(shape)}"
                              for name, shape in layer.variables if name.endswith("weights"))
        rows.append((layer.name, layer.kind, f"[{shape}]", variables))
    return rows


def run_spec(args: argparse.Namespace) -> int:
    rows = spec_rows(args.preset)
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
    print(f"B = batch, B' = B * (seq_len - 1); preset {args.preset}")
    return 0
