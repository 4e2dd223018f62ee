"""How a mutant is made: the built-in port with ONE thing done the naive way.

Two shapes, each a few lines: the port with one `TFCompat` option at its naive value
(`compat_mutant`: an option value, no patching), or a subclass of
`chainer_port.cross_conv.CrossConvModel` overriding one `_<kind>` method (or `set_weights` /
`train_step`) for a mistake that is no TF behaviour. Every mutant is its own factory,
`Mutant(preset, seed=0, device="cpu")`, so `twinport parity --port
chainer_port.mutants.cross_conv:NAME` runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from chainer_port.cross_conv import CrossConvModel
from chainer_port.tf_compat import TFCompat


def compat_mutant(name: str, doc: str, **options: Any) -> Callable[..., CrossConvModel]:
    """A factory of the port with `options` of `TFCompat` set (the rest TF's)."""
    compat = dataclasses.replace(TFCompat(), **options)

    def factory(preset: Any, seed: int = 0, device: str = "cpu") -> CrossConvModel:
        return CrossConvModel(preset, seed=seed, device=device, tf_compat=compat)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory
