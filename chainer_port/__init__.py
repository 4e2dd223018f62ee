"""The Chainer 7.8.1 twins (NCHW, NumPy or CuPy): one module per pair (`cross_conv`), what they
share (`twin`, `layers`, `tf_compat`), the CPU fast path (`fast_cpu`), the mutants."""

from chainer_port import compat  # noqa: F401  (before any `import chainer`: NumPy 2 names)
