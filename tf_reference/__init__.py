"""The TensorFlow reference model of the seed's cross-conv graph."""

from tf_reference.model import CrossConvModel

__all__ = ["CrossConvModel"]
