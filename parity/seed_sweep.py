"""Flakiness as a number: the same parity setting over many seeds (each its own batch, noise
and reference weights), and the distribution of each section's worst headroom.

    twinport parity --preset paper --seeds 5          (seeds --seed .. --seed+4)
    twinport parity seed-sweep --preset tiny --seeds 0-19 [--model M] [--data DIR]

One markdown row per seed (the verdict, the tie items, per section the worst item's error as a
fraction of its tolerance: headroom, above 1 fails), then per section the spread of that
headroom over the seeds against its tolerances: how much margin the default tolerances have.
Exits 1 when any seed fails. A benchmark-style script, not a test: tiny seeds 0-19 take ~12
minutes, paper seeds 0-4 ~17.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import replace

from parity.diff import fmt
from parity.harness import run_parity
from parity.sections import BY_KEY, title
from parity.settings import ParitySettings
from parity.tolerances import Tolerances
from parity.verdict import Verdict, ordered_sections

SPREAD_COLUMNS = ("section", "items", "seeds passing", "atol (x max |ref|)", "rtol",
                  "worst headroom: min", "median", "max", "largest max abs")


def seed_range(text: str) -> list[int]:
    """"0-19" or "0,4,7" as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def sweep(settings: ParitySettings, seeds: list[int],
          each: Callable[[int, Verdict], None] | None = None) -> list[tuple[int, Verdict]]:
    """`settings` run once per seed; `each(seed, verdict)` as each one finishes."""
    results = []
    for seed in seeds:
        verdict = run_parity(replace(settings, seed=seed), progress=False).ensure_verdict()
        results.append((seed, verdict))
        if each is not None:
            each(seed, verdict)
    return results


def _keys(results: list[tuple[int, Verdict]]) -> list[str]:
    return ordered_sections(dict.fromkeys(k for _, v in results for k in v.sections))


def seed_row(seed: int, verdict: Verdict, keys: list[str]) -> str:
    ties = sum(s.n_tie for s in verdict.sections.values())
    cells = [fmt(verdict.sections[k].worst_headroom) if k in verdict.sections else ""
             for k in keys]
    return f"| {seed} | {verdict.status} | {ties} | " + " | ".join(cells) + " |"


def seed_table(results: list[tuple[int, Verdict]]) -> list[str]:
    """One row per seed: verdict, tie items, each section's worst headroom."""
    keys = _keys(results)
    return (["| seed | verdict | tie items | " + " | ".join(title(k) for k in keys) + " |",
             "|---" * (3 + len(keys)) + "|"]
            + [seed_row(seed, verdict, keys) for seed, verdict in results])


def spread_table(results: list[tuple[int, Verdict]], tolerances: Tolerances) -> list[str]:
    """Per section over the seeds: items, seeds passing, its tolerances (atol in units of each
    tensor's largest |reference|), the worst headroom's min / median / max and the largest
    max abs."""
    lines = ["| " + " | ".join(SPREAD_COLUMNS) + " |", "|---" * len(SPREAD_COLUMNS) + "|"]
    for key in _keys(results):
        found = [v.sections[key] for _, v in results if key in v.sections]
        rooms = [s.worst_headroom for s in found if s.worst_headroom is not None]
        largest = [s.worst_max_abs for s in found if s.worst_max_abs is not None]
        field = BY_KEY[key].tolerance if key in BY_KEY else ""
        atol, rtol = getattr(tolerances, field) if field else (None, None)
        cells = [title(key), str(found[0].n_items), f"{sum(s.passed for s in found)} of "
                 f"{len(found)}", fmt(atol), fmt(rtol)]
        cells += ([fmt(min(rooms)), fmt(statistics.median(rooms)), fmt(max(rooms))]
                  if rooms else ["", "", ""])
        cells.append(fmt(max(largest)) if largest else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", default="0-19", help='e.g. "0-19" or "0,4,7"')
    parser.add_argument("--data", help="default: the model's dataset")
    parser.add_argument("--batch-size", type=int, default=4)


def report(settings: ParitySettings, seeds: list[int]) -> tuple[list[str], bool]:
    """Run the sweep printing each seed's row as it finishes; the two tables and whether
    every seed passed."""
    keys: list[str] = []

    def each(seed: int, verdict: Verdict) -> None:
        keys[:] = keys or ordered_sections(verdict.sections)
        print(seed_row(seed, verdict, keys), flush=True)

    results = sweep(settings, seeds, each)
    lines = seed_table(results) + [""] + spread_table(
        results, Tolerances.defaults(settings.atol, settings.rtol))
    return lines, all(verdict.passed for _, verdict in results)


def run(args: argparse.Namespace) -> int:
    settings = ParitySettings(model=args.model, preset=args.preset, data=args.data,
                              batch_size=args.batch_size)
    lines, passed = report(settings, seed_range(args.seeds))
    print("\n" + "\n".join(lines))
    return 0 if passed else 1
