"""One porting pitfall of a pair: what TF does, the naive Chainer call, how the mistake shows in
a twinport report, the fix, the mutant that injects it, and what the harness must name first.

A pair lists its pitfalls (`TwinPair.pitfalls`) and the module of their mutants
(`TwinPair.mutants`); `parity.mutation` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Pitfall:
    """One porting mistake.

    section / item: the first failing section of the verdict and its first failing item
    (each an fnmatch pattern: a mistake the data shows first in one of two sections names
    both). `item` may name the preset's fields (`{levels[0]}`) and the first / second synced
    step (`{step0}` / `{step1}`).
    """

    name: str
    title: str
    tf: str
    naive: str
    shows: str
    fix: str
    mutant: str
    section: str
    item: str
    hints: tuple[str, ...] = ()

    def expected_item(self, preset: Any, start_step: int) -> str:
        return self.item.format(**vars(preset), step0=start_step, step1=start_step + 1)

    def matches(self, section: str | None, item: str | None, preset: Any,
                start_step: int) -> bool:
        """Whether a verdict naming (section, item) first localises this pitfall."""
        return (section is not None and fnmatchcase(section, self.section) and item is not None
                and fnmatchcase(item, self.expected_item(preset, start_step)))
