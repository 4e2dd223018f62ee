"""How a mutant is made: the built-in port with ONE thing done the naive way.

Two shapes, each a few lines: the port with one `TFCompat` option at its naive value
(`compat_mutant`: an option value, no patching), or a subclass of the pair's Chainer twin
overriding one `_<kind>` method (or a helper it calls, `set_weights`, `train_step`) for a
mistake that is no TF behaviour. Every mutant is its own factory, `Mutant(preset, seed=0,
device="cpu")`, so `twinport parity --port chainer_port.mutants.PAIR:NAME` runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from chainer_port.tf_compat import TFCompat
from chainer_port.twin import ChainerTwin


def compat_mutant(model: type[ChainerTwin], name: str, doc: str, **options: Any
                  ) -> Callable[..., ChainerTwin]:
    """A factory of the `model` port with `options` of `TFCompat` set (the rest TF's)."""
    compat = dataclasses.replace(TFCompat(), **options)

    def factory(preset: Any, seed: int = 0, device: str = "cpu") -> ChainerTwin:
        return model(preset, seed=seed, device=device, tf_compat=compat)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory
