"""The Chainer 7.8.1 port of the cross-conv model (NCHW, NumPy or CuPy)."""

from chainer_port import compat  # noqa: F401  (before any `import chainer`: NumPy 2 names)
