"""The exported SavedModel: the network plus the tf.Transform graph, behind serving signatures.

Signatures:
  serving_default(examples: string[batch]) -> {task: float[batch]}
      serialized tf.Example in, no labels needed. Features absent from a request take the
      defaults in `models.features.SERVING_DEFAULTS`; ids never seen map to the OOV bucket.
  transform_features(examples: string[batch]) -> {transformed feature: tensor}
      the tf.Transform graph alone, labels and masks included: TFMA reads labels from it.

Saved with `tf.saved_model.save` from a `tf.Module` that tracks both the Keras 3 network and
the tf.Transform layer, so the feature engineering travels with the model into TF Serving.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_transform as tft

from models import features


def serving_parse_spec(raw_feature_spec: dict, with_labels: bool) -> dict:
    """The raw feature spec with defaults, so a request may omit features (and labels)."""
    spec = {}
    for key, value in raw_feature_spec.items():
        if key in features.LABEL_KEYS and not with_labels:
            continue
        if isinstance(value, tf.io.FixedLenFeature):
            if key in features.LABEL_KEYS:
                default = float(features.MISSING_LABEL) if value.dtype == tf.float32 else -1
            else:
                default = features.SERVING_DEFAULTS.get(key)
                if default is None:
                    raise ValueError(f"feature {key!r} has no serving default in models.features")
            if value.dtype == tf.string and isinstance(default, str):
                default = default.encode()
            count = 1
            for dim in value.shape:
                count *= dim
            spec[key] = tf.io.FixedLenFeature(
                value.shape, value.dtype, default_value=[default] * count if value.shape else default
            )
        else:
            spec[key] = value
    return spec


class ServingModule(tf.Module):
    """What is saved: the network, the tf.Transform layer and the signatures over both."""

    def __init__(self, network: keras.Model, tft_output: tft.TFTransformOutput):
        super().__init__()
        self.network = network
        self.tft_layer = tft_output.transform_features_layer()
        raw_spec = tft_output.raw_feature_spec()
        self._serving_spec = serving_parse_spec(raw_spec, with_labels=False)
        self._eval_spec = serving_parse_spec(raw_spec, with_labels=True)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        parsed = tf.io.parse_example(examples, self._serving_spec)
        transformed = self.tft_layer(parsed)
        inputs = {key: transformed[key] for key in features.model_input_keys()}
        outputs = self.network(inputs, training=False)
        return {name: tf.identity(value, name=name) for name, value in outputs.items()}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        parsed = tf.io.parse_example(examples, self._eval_spec)
        return self.tft_layer(parsed)


def export_serving_model(network: keras.Model, tft_output: tft.TFTransformOutput,
                         export_dir: str) -> None:
    """Writes the SavedModel with `serving_default` and `transform_features` signatures."""
    module = ServingModule(network, tft_output)
    signatures = {
        "serving_default": module.serve_examples.get_concrete_function(),
        "transform_features": module.transform_features.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
