"""The validation slice: a deterministic part of the train split that training never fits.

`epochs: auto` (models.trainer) stops when the loss on this slice stops improving, and a
hyperparameter search scores its trials on it; the eval split stays the Evaluator's alone.

A record belongs to the slice when the 64-bit fingerprint of its serialized bytes falls in the
first `fraction` of `BUCKETS` buckets (`tf.strings.to_hash_bucket_fast`, FarmHash's
Fingerprint64, the same on every platform and TensorFlow version). So the slice depends on the
record alone: the same records give the same slice on every run, in any file order, under any
number of workers, and identical records always fall on the same side.
"""

from __future__ import annotations

import tensorflow as tf

# The share of the train split held out by default.
VALIDATION_FRACTION = 0.1
# Granularity of the fraction: 0.1% steps.
BUCKETS = 1000


def _threshold(fraction: float) -> int:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
    return max(1, round(fraction * BUCKETS))


def in_validation(records: tf.Tensor, fraction: float = VALIDATION_FRACTION) -> tf.Tensor:
    """Whether each serialized record (a string tensor of any shape) is in the validation
    slice."""
    buckets = tf.strings.to_hash_bucket_fast(records, BUCKETS)
    return buckets < _threshold(fraction)


def validation_split(records: tf.data.Dataset, fraction: float = VALIDATION_FRACTION
                     ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(the records to train on, the validation slice) of a dataset of serialized records
    (e.g. a `tf.data.TFRecordDataset` of the train split's transformed examples), before any
    parsing or batching."""
    _threshold(fraction)  # a bad fraction fails here, not when the dataset is read

    def held_out(record):
        return in_validation(record, fraction)

    return (records.filter(lambda r: tf.logical_not(held_out(r))),
            records.filter(held_out))
