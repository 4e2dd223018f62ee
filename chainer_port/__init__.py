"""The Chainer 7.8.1 port of the cross-conv model (NCHW, NumPy or CuPy)."""
