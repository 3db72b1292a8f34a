"""Optional TFLite export of the network (the mobile use case).

What is converted is the Keras network alone: its inputs are the *transformed* features
(`<feature>_xf`: vocabulary ids as int64, z-scored numerics as float32, the history as int64
ids padded to `HISTORY_LENGTH`). The tf.Transform graph (the string -> id vocabulary lookups
and the z-scoring) stays outside the TFLite model: on a device the app maps ids with the
exported vocabulary files and scales numerics with the exported means and deviations, or
calls the server. The fused `score` is not part of the TFLite model either.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from models import features


def input_specs() -> dict[str, tf.TensorSpec]:
    """The network's inputs: transformed features, batch dimension first."""
    specs = {}
    for key in features.CATEGORICAL_FEATURES:
        name = features.transformed_name(key)
        specs[name] = tf.TensorSpec([None], tf.int64, name=name)
    for key in (*features.FLOAT_FEATURES, *features.INT_FEATURES):
        name = features.transformed_name(key)
        specs[name] = tf.TensorSpec([None], tf.float32, name=name)
    name = features.transformed_name(features.HISTORY_FEATURE)
    specs[name] = tf.TensorSpec([None, features.HISTORY_LENGTH], tf.int64, name=name)
    return specs


def convert(network: keras.Model) -> bytes:
    """The TFLite flatbuffer of `network` (builtin ops only, float32, no quantization).

    The network's call is frozen first (variables become constants): the converter's own
    variable handling crashes on Keras 3's BatchNormalization variables with this TensorFlow.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    @tf.function(input_signature=[input_specs()])
    def serve(inputs):
        return dict(network(inputs, training=False))

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def run(flatbuffer: bytes, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the TFLite model on a batch of transformed inputs (resizing to the batch)."""
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    return {k: np.asarray(v) for k, v in runner(**inputs).items()}
