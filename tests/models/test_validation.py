"""The validation slice `epochs: auto` and the hyperparameter search hold out of the train split."""

from __future__ import annotations

import tensorflow as tf

from models import validation


def _records(n: int) -> list[bytes]:
    return [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))})).SerializeToString()
        for i in range(n)]


def _split(records, fraction=validation.VALIDATION_FRACTION):
    rest, held = validation.validation_split(tf.data.Dataset.from_tensor_slices(records),
                                             fraction)
    return [r.numpy() for r in rest], [r.numpy() for r in held]


def test_slice_is_disjoint_from_the_rest_and_together_they_are_every_record():
    records = _records(2000)
    rest, held = _split(records)
    assert not set(rest) & set(held)
    assert sorted(rest + held) == sorted(records)


def test_slice_is_roughly_the_fraction():
    records = _records(4000)
    for fraction in (0.1, 0.2):
        _, held = _split(records, fraction)
        # Binomial(4000, f): 4 standard deviations either side.
        sd = (4000 * fraction * (1 - fraction)) ** 0.5
        assert abs(len(held) - 4000 * fraction) < 4 * sd, (fraction, len(held))


def test_slice_depends_on_the_record_alone_not_on_order_or_run():
    records = _records(1000)
    _, held = _split(records)
    _, held_reversed = _split(records[::-1])
    assert sorted(held) == sorted(held_reversed)
    assert _split(records)[1] == held
    # The same membership record by record, and a record's duplicate on the same side.
    flags = validation.in_validation(tf.constant(records + records[:50])).numpy().tolist()
    assert {r for r, f in zip(records, flags) if f} == set(held)
    assert flags[1000:] == flags[:50]


def test_fraction_outside_zero_one_is_refused():
    import pytest

    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="validation fraction"):
            validation.in_validation(tf.constant([b"a"]), bad)
