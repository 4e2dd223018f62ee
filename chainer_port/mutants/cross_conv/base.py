"""The cross-conv port's `compat_mutant` (`chainer_port.mutants.base`): its factories build
`CrossConvModel` with one `TFCompat` option at the naive value."""

from __future__ import annotations

import functools

from chainer_port.cross_conv import CrossConvModel
from chainer_port.mutants import base

compat_mutant = functools.partial(base.compat_mutant, CrossConvModel)
