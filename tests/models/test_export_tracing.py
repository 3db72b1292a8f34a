"""Export tracing: library code written for graph mode is not rewritten by autograph."""

from tensorflow.python.autograph.core import config as autograph_config

from models.export import leave_libraries_unconverted


def test_tf_keras_and_tf_transform_are_left_unconverted_once():
    leave_libraries_unconverted()
    leave_libraries_unconverted()
    prefixes = [rule._prefix for rule in autograph_config.CONVERSION_RULES
                if isinstance(rule, autograph_config.DoNotConvert)]
    assert prefixes.count("tf_keras") == 1
    assert prefixes.count("tensorflow_transform") == 1
    assert "keras" in prefixes and "tensorflow" in prefixes  # TensorFlow's own rules kept
