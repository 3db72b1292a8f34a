"""The serving contract's names, in one TensorFlow-free place: the export writes them, the
clients, the local server, the Pusher's latency gate and the TFMA config read them."""

import os

SERVING_DEFAULT = "serving_default"  # serialized tf.Example in
RAW_SIGNATURE = "serving_raw"  # raw feature tensors in (TF Serving's REST JSON rows)
TRANSFORMED_SIGNATURE = "serving_transformed"  # transformed features in (TFLite, debugging)
SCORE = "score"  # the fused ranking score output
# The contract the export writes beside the SavedModel (signatures, inputs, outputs).
CONTRACT_FILE = os.path.join("assets.extra", "serving_contract.json")
# The problem spec the model was trained on (`models.spec.ProblemSpec.to_dict()` plus
# "trained_tasks", the tasks of the model's run), beside the contract.
SPEC_FILE = os.path.join("assets.extra", "problem_spec.json")
