"""Import a TF1 `tf.train.Saver` checkpoint of the seed's graph into interchange weights."""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from common.errors import UserError
from spec.layer import Layer
from spec.weights import check_weights, variable_shapes

GLOBAL_STEP = "global_step"


def import_tf1_checkpoint(prefix: str | os.PathLike, layers: list[Layer]
                          ) -> tuple[OrderedDict[str, np.ndarray], int | None]:
    """The checkpoint's weights (seed's names, TF layout, graph order) and its global step.

    `prefix` is the Saver's path prefix (`model.ckpt-1000`, without `.index`) or a folder
    holding a `checkpoint` file. Raises UserError when it is not a readable checkpoint, and
    one UserError naming every missing / unexpected variable and shape mismatch when it is a
    checkpoint of another graph.
    """
    try:
        reader = tf.train.load_checkpoint(os.fspath(prefix))
    except (tf.errors.OpError, ValueError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise UserError(f"{prefix}: not a readable TensorFlow checkpoint ({reason})") from None
    names = [name for name in reader.get_variable_to_shape_map() if name != GLOBAL_STEP]
    weights = {name: reader.get_tensor(name) for name in names}
    check_weights(weights, layers, str(prefix))
    step = int(reader.get_tensor(GLOBAL_STEP)) if reader.has_tensor(GLOBAL_STEP) else None
    return OrderedDict((name, weights[name]) for name in variable_shapes(layers)), step
