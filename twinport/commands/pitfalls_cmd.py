"""`twinport pitfalls [--check]`: the porting-pitfall catalogue, and its mutation suite."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from twinport.commands.common import add_command, add_model_option

if TYPE_CHECKING:
    from spec.pair import TwinPair
    from spec.pitfall import Pitfall

CATALOGUE_COLUMNS = ("pitfall", "title", "mutant", "expected first section",
                     "expected first item", "hints naming it")
CHECK_COLUMNS = ("pitfall", "mutant", "caught", "first section", "named first", "expected",
                 "hint", "figure")
HINT_COLUMNS = ("hint", "names the cause of", "given for", "right", "precision", "recall")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "pitfalls", "a model's catalogue of TF -> Chainer porting "
                    "pitfalls (docs/pitfalls.md); --check proves the harness catches each one")
    add_model_option(p)
    p.add_argument("--check", action="store_true",
                   help="run the mutation suite: the un-mutated port and every pitfall's mutant "
                   "against one reference run (the model's suite setting; cross_conv: tiny "
                   "preset, batch 2, 2 synced steps from step 15000); exit 0 when the "
                   "un-mutated port passes and every mutant is caught and localised, else 1")
    p.add_argument("--only", metavar="NAME[,NAME...]",
                   help="the pitfalls to check (all when not given)")
    p.add_argument("--data", help="dataset folder for --check (default: the model's)")
    p.add_argument("--code", metavar="DIR", help="the original code's folder (`twinport parity "
                   "original`): --check also runs the mistakes both twins share against it "
                   "(skipped without it)")
    p.add_argument("--markdown", action="store_true", help="markdown: the full catalogue "
                   "(without --check) or the results table (with it), as in docs/pitfalls.md")
    p.add_argument("--quiet", action="store_true", help="no per-mutant progress lines")
    p.set_defaults(func=run_pitfalls)


def run_pitfalls(args: argparse.Namespace) -> int:
    from parity.mutation import select
    from spec.registry import get_pair

    pair = get_pair(args.model)
    pitfalls = select(pair, args.only.split(",") if args.only else None)
    if not args.check:
        print(catalogue_markdown(pair, pitfalls) if args.markdown else
              render(CATALOGUE_COLUMNS, [catalogue_row(pair, p) for p in pitfalls], False))
        return 0
    return run_check(args, pitfalls)


def catalogue_row(pair: TwinPair, pitfall: Pitfall) -> list[str]:
    """Name, title, mutant and what the suite's setting must name first."""
    preset = pair.get_preset(pair.suite["preset"])
    item = pitfall.expected_item(preset, pair.suite.get("start_step", 0))
    return [pitfall.name, pitfall.title, pitfall.mutant, pitfall.section, item,
            ", ".join(pitfall.hints)]


def catalogue_markdown(pair: TwinPair, pitfalls: list[Pitfall]) -> str:
    """Every pitfall in full: what TF does, the naive call, how it shows, the fix."""
    parts = [render(CATALOGUE_COLUMNS, [catalogue_row(pair, p) for p in pitfalls], True)]
    for p in pitfalls:
        naive = "The mistake, in the graph both twins follow" if p.shared else "Naive Chainer"
        parts.append(f"\n### `{p.name}`: {p.title}\n\n"
                     f"- **TF:** {p.tf}\n- **{naive}:** {p.naive}\n"
                     f"- **In a twinport report:** {p.shows}\n- **Fix:** {p.fix}\n"
                     f"- **Mutant:** `{pair.mutants}:{p.mutant}`; expected first: "
                     f"`{p.section}`, `{catalogue_row(pair, p)[4]}`")
    return "\n".join(parts)


def run_check(args: argparse.Namespace, pitfalls: list[Pitfall]) -> int:
    from parity.mutation import MutantResult, hint_scores, run_suite

    def progress(result: MutantResult) -> None:
        if not (args.quiet or args.markdown):
            shared = ("" if result.parity is None else "; parity of both mutated twins: "
                      + result.parity.ensure_verdict().status)
            print(f"{result.pitfall.name}: {'caught' if result.caught else 'NOT CAUGHT'}, "
                  f"{result.named} ({result.section}){shared}", flush=True)

    skipped = [p.name for p in pitfalls if p.shared and not args.code]
    if skipped:
        print(f"skipped without --code (mistakes both twins share, caught only against the "
              f"original code): {', '.join(skipped)}")
    pitfalls = [p for p in pitfalls if p.name not in skipped]
    clean, results = run_suite(args.model, args.data, pitfalls, report=progress,
                               code=args.code)
    settings = clean.settings
    verdict = clean.ensure_verdict()
    rows = [[r.pitfall.name, r.pitfall.mutant, "yes" if r.caught else "NO",
             r.section or "", r.named or "", ("" if r.localised else "MISSED: ") + r.expected,
             _hint_cell(r), r.figure] for r in results]
    print(render(CHECK_COLUMNS, rows, args.markdown))
    print("\nThe hints: how often each diagnosis of the first failing item names the cause "
          "(Pitfall.hints)\n")
    print(render(HINT_COLUMNS, [[h.hint, h.expected, h.fired, h.right, _ratio(h.precision),
                                 _ratio(h.recall)] for h in hint_scores(results)],
                 args.markdown))
    right = sum(bool(r.hint) and r.hint in r.pitfall.hints for r in results)
    wrong = sum(bool(r.hint) and r.hint not in r.pitfall.hints for r in results)
    print(f"\n{right} of {len(results)} mutants got the hint that names their cause, {wrong} a "
          f"hint that does not, {len(results) - right - wrong} none")
    caught = sum(r.localised for r in results)
    print(f"\nun-mutated port: {verdict.headline()}\n{caught} of {len(results)} mutants caught "
          f"and localised (preset {settings['preset']}, batch {settings['batch_size']}, "
          f"{settings['steps']} steps from step {settings['start_step']})")
    return 0 if verdict.passed and caught == len(results) else 1


def _hint_cell(result) -> str:
    """The hint given, marked when it is not the one that names the cause."""
    if result.hint in result.pitfall.hints or not (result.hint or result.pitfall.hints):
        return result.hint
    return f"{result.hint or 'none'} (names it: {' or '.join(result.pitfall.hints) or 'none'})"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def render(columns: Sequence[str], rows: list[list[str]], markdown: bool) -> str:
    """A markdown table, or plain text columns padded to their widest cell."""
    if markdown:
        def line(cells):
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

        return "\n".join([line(columns), "|" + "---|" * len(columns)] + [line(r) for r in rows])
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
                     .rstrip() for cells in [columns, *rows])
