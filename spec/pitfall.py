"""One porting pitfall of a pair: what TF does, the naive Chainer call, how the mistake shows in
a twinport report, the fix, the mutant that injects it, and what the harness must name first.

A pair lists its pitfalls (`TwinPair.pitfalls`) and the module of their mutants
(`TwinPair.mutants`); `parity.mutation` runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Pitfall:
    """One porting mistake.

    shared: the mistake is in the graph both twins follow (the reference re-implemented
    wrongly): parity cannot see it, so the suite runs its mutant, a `SharedMistake` both twins
    get, against the original code (`twinport parity original`) and expects parity to pass.
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
    shared: bool = False

    def expected_item(self, preset: Any, start_step: int) -> str:
        fields = preset if isinstance(preset, Mapping) else vars(preset)  # a dict preset too
        return self.item.format(**fields, step0=start_step, step1=start_step + 1)

    def matches(self, section: str | None, item: str | None, preset: Any,
                start_step: int) -> bool:
        """Whether a verdict naming (section, item) first localises this pitfall."""
        return (section is not None and fnmatchcase(section, self.section) and item is not None
                and fnmatchcase(item, self.expected_item(preset, start_step)))


class SharedMistake:
    """A mixin over either twin that changes the graph both twins build (`mutate`): the
    mutant of a `Pitfall.shared` mistake. `with_twin` makes the mutant of one twin class."""

    @staticmethod
    def mutate(layers: list[Any]) -> list[Any]:
        raise NotImplementedError

    def build_layers(self) -> list[Any]:
        return self.mutate(super().build_layers())  # type: ignore[misc]

    @classmethod
    def with_twin(cls, twin: type) -> type:
        return type(cls.__name__, (cls, twin), {"__doc__": cls.__doc__})
