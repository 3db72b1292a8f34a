"""A tiny SavedModel whose answers are known by hand: `click = scale * price`.

Shared by the GatedPusher tests (serving_default only) and the local serving stand-in tests
(also `serving_raw`, one tensor per raw feature).
"""

from __future__ import annotations

import tensorflow as tf

RAW_SPECS = {
    "user_id": tf.string, "item_id": tf.string, "category": tf.string, "device": tf.string,
    "price": tf.float32, "item_ctr_7d": tf.float32, "user_age": tf.int64, "hour": tf.int64,
    "history_item_ids": tf.string,
}


def save_tiny_model(path, scale: float = 2.0, with_raw: bool = False) -> str:
    """Saves the model at `path`; `with_raw` adds the `serving_raw` signature."""

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(scale)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            parsed = tf.io.parse_example(
                examples, {"price": tf.io.FixedLenFeature([], tf.float32, default_value=0.0)})
            return {"click": parsed["price"] * self.scale}

        def raw(self, **inputs):
            return {"click": inputs["price"] * self.scale}

    module = Tiny()
    signatures = {"serving_default": module.serve}
    if with_raw:
        signatures["serving_raw"] = tf.function(module.raw).get_concrete_function(
            **{k: tf.TensorSpec([None], dtype, name=k) for k, dtype in RAW_SPECS.items()})
    tf.saved_model.save(module, str(path), signatures=signatures)
    return str(path)
