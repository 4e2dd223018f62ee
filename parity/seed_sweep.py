"""The harness's own regression check: the project's port must PASS for every seed.

    twinport parity seed-sweep --preset tiny --seeds 0-19 [--model M] [--data DIR]

Runs `twinport parity` once per seed (batch and noise drawn from it) and prints one markdown
row per seed: the verdict, the tie items, and per section the worst item's error as a fraction
of its tolerance (headroom; above 1 fails, tie items left out). Exits 1 when any seed fails.
A benchmark-style script, not a test: tiny seeds 0-19 take ~12 minutes, paper seeds 0-4 ~17.
"""

from __future__ import annotations

import argparse

from parity.diff import fmt
from parity.harness import run_parity
from parity.sections import title
from parity.settings import ParitySettings
from parity.verdict import ordered_sections


def seed_range(text: str) -> list[int]:
    """"0-19" or "0,4,7" as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def sweep(model: str, preset: str, seeds: list[int], data: str | None, batch_size: int
          ) -> tuple[list[str], bool]:
    lines: list[str] = []
    all_passed = True
    keys: list[str] = []
    for seed in seeds:
        settings = ParitySettings(model=model, preset=preset, batch_size=batch_size, seed=seed)
        if data:
            settings.data = data
        run = run_parity(settings, progress=False)
        verdict = run.verdict
        if not keys:
            keys = ordered_sections(verdict.sections)
            titles = [title(k) for k in keys]
            lines.append("| seed | verdict | tie items | " + " | ".join(titles) + " |")
            lines.append("|---" * (3 + len(keys)) + "|")
        ties = sum(s.n_tie for s in verdict.sections.values())
        cells = [fmt(verdict.sections[k].worst_headroom) if k in verdict.sections else ""
                 for k in keys]
        lines.append(f"| {seed} | {verdict.status} | {ties} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
        all_passed &= verdict.passed
    return lines, all_passed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", default="0-19", help='e.g. "0-19" or "0,4,7"')
    parser.add_argument("--data", help="default: the model's dataset")
    parser.add_argument("--batch-size", type=int, default=4)


def run(args: argparse.Namespace) -> int:
    lines, passed = sweep(args.model, args.preset, seed_range(args.seeds), args.data,
                          args.batch_size)
    print("\n" + "\n".join(lines))
    return 0 if passed else 1
