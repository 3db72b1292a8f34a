"""Optional TFLite export of the network (the mobile use case).

What is converted is the Keras network alone: its inputs are the *transformed* features
(`<feature>_xf`: vocabulary ids as int64, z-scored numerics as float32, sequences as int64
ids padded to the feature's `max_length`). The tf.Transform graph (the string -> id vocabulary lookups
and the z-scoring) stays outside the TFLite model: on a device the app maps ids with the
exported vocabulary files and scales numerics with the exported means and deviations, or
calls the server. The fused `score` is not part of the TFLite model either.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from models.spec import Task


def input_specs(network: keras.Model) -> dict[str, tf.TensorSpec]:
    """The network's inputs: transformed features, batch dimension first."""
    specs = {}
    for tensor in network.inputs:
        name = tensor.name.split(":")[0]
        specs[name] = tf.TensorSpec(tensor.shape, tf.as_dtype(tensor.dtype), name=name)
    return specs


def convert(network: keras.Model) -> bytes:
    """The TFLite flatbuffer of `network` (builtin ops only, float32, no quantization).

    The network's call is frozen first (variables become constants): the converter's own
    variable handling crashes on Keras 3's BatchNormalization variables with this TensorFlow.
    """

    @tf.function(input_signature=[input_specs(network)])
    def serve(inputs):
        return dict(network(inputs, training=False))

    return _convert_function(serve.get_concrete_function())


def convert_saved_model(model_dir: str) -> bytes:
    """The TFLite flatbuffer of a pushed SavedModel's `serving_transformed` signature."""
    from models.export import TRANSFORMED_SIGNATURE, load_saved_model

    loaded = load_saved_model(model_dir)
    if TRANSFORMED_SIGNATURE not in loaded.signatures:
        raise ValueError(f"{model_dir} has no {TRANSFORMED_SIGNATURE!r} signature (exported "
                         f"before it existed?); signatures: {sorted(loaded.signatures)}")
    return _convert_function(loaded.signatures[TRANSFORMED_SIGNATURE])


def _convert_function(function) -> bytes:
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(function)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def output_names(tasks: tuple[Task, ...]) -> list[str]:
    """The TFLite outputs' task names, in order: a dict output is flattened in sorted key
    order, and the converter names the flattened outputs Identity, Identity_1, ..."""
    return sorted(t.name for t in tasks)


def run(flatbuffer: bytes, inputs: dict[str, np.ndarray],
        tasks: tuple[Task, ...]) -> dict[str, np.ndarray]:
    """Runs the TFLite model on a batch of transformed inputs, keyed by task (`tasks`: the
    model's task list, as in its serving contract)."""
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    details = {d["name"]: d for d in interpreter.get_input_details()}
    missing = sorted(set(details) - set(inputs))
    if missing:
        raise ValueError(f"TFLite inputs missing: {missing}; expected {sorted(details)}")
    for name, detail in details.items():
        interpreter.resize_tensor_input(detail["index"], np.shape(inputs[name]))
    interpreter.allocate_tensors()
    for name, detail in details.items():
        interpreter.set_tensor(detail["index"], np.asarray(inputs[name], detail["dtype"]))
    interpreter.invoke()

    def order(detail) -> int:
        _, _, suffix = detail["name"].partition("_")
        return int(suffix) if suffix.isdigit() else 0

    outputs = sorted(interpreter.get_output_details(), key=order)
    names = output_names(tasks)
    if len(outputs) != len(names):
        raise ValueError(f"the TFLite model has {len(outputs)} outputs but the tasks are "
                         f"{names}: pass the model's own task list")
    return {name: interpreter.get_tensor(d["index"]) for name, d in zip(names, outputs)}
