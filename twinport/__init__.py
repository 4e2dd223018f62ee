"""twinport: a TensorFlow reference and a Chainer port of one network, kept in step."""
