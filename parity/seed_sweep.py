"""The harness's own regression check: the project's port must PASS for every seed.

    python -m parity.seed_sweep --preset tiny --seeds 0-19 [--data DIR] [--batch-size 4]

Runs `twinport parity` once per seed (batch and noise drawn from it) and prints one markdown
row per seed: the verdict, the tie items, and per section the worst item's error as a fraction
of its tolerance (headroom; above 1 fails, tie items left out). Exits 1 when any seed fails.
A benchmark-style script, not a test: tiny seeds 0-19 take ~12 minutes, paper seeds 0-4 ~17.
"""

from __future__ import annotations

import argparse
import sys

from common.paths import DEFAULT_DATASET
from parity.compare import fmt
from parity.harness import ParitySettings, run_parity
from parity.verdict import SECTION_TITLES, ordered_sections


def seed_range(text: str) -> list[int]:
    """"0-19" or "0,4,7" as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def sweep(preset: str, seeds: list[int], data: str, batch_size: int) -> tuple[list[str], bool]:
    lines: list[str] = []
    all_passed = True
    keys: list[str] = []
    for seed in seeds:
        run = run_parity(ParitySettings(preset=preset, data=data, batch_size=batch_size,
                                        seed=seed), progress=False)
        verdict = run.verdict
        if not keys:
            keys = ordered_sections(verdict.sections)
            titles = [SECTION_TITLES.get(k, k) for k in keys]
            lines.append("| seed | verdict | tie items | " + " | ".join(titles) + " |")
            lines.append("|---" * (3 + len(keys)) + "|")
        ties = sum(s.n_tie for s in verdict.sections.values())
        cells = [fmt(verdict.sections[k].worst_headroom) if k in verdict.sections else ""
                 for k in keys]
        lines.append(f"| {seed} | {verdict.status} | {ties} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
        all_passed &= verdict.passed
    return lines, all_passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity.seed_sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", default="0-19", help='e.g. "0-19" or "0,4,7"')
    parser.add_argument("--data", default=DEFAULT_DATASET)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args(argv)
    lines, passed = sweep(args.preset, seed_range(args.seeds), args.data, args.batch_size)
    print("\n" + "\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
