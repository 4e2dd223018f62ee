"""What a forward pass returns, on either twin of any pair."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ForwardResult:
    """Every tap (graph order, the twin's native layout); the pair's named taps
    (`TwinPair.named_taps`, e.g. `output`, `loss`) read as attributes: `result.loss`."""

    taps: OrderedDict[str, Any]
    named: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        named = self.__dict__.get("named", {})
        if name in named:
            return self.taps[named[name]]
        raise AttributeError(f"ForwardResult has no tap named {name!r} "
                             f"(named taps: {', '.join(named)})")
