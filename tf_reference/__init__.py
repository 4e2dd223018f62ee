"""The TensorFlow reference model of the seed's cross-conv graph."""

from common.tf_startup import import_tensorflow

import_tensorflow()  # quiet, before the modules below import tensorflow

from tf_reference.cross_conv import CrossConvModel  # noqa: E402

__all__ = ["CrossConvModel"]
