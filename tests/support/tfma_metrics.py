"""Feeding a custom TFMA metric's combiner by hand, as Beam would."""

from __future__ import annotations

import numpy as np
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.metrics import metric_types


def combine_in_two_workers(metric, rows) -> dict[str, float]:
    """The metric's outputs {name: value} over (label, prediction, weight) rows fed to two
    workers (the first two rows, the rest), merged as Beam would. A row may carry a fourth
    item, its transformed features {name: value}, for a metric that reads them. Identical
    combiners run once and derived metrics follow, as in TFMA; private ("_") metrics are
    left out."""
    results: dict = {}
    combined: list = []
    for computation in metric.computations(example_weighted=True):
        if isinstance(computation, metric_types.DerivedMetricComputation):
            results.update(computation.result(results))
            continue
        if computation in combined:
            continue
        combined.append(computation)
        combiner = computation.combiner
        accumulators = []
        for part in (rows[:2], rows[2:]):
            acc = combiner.create_accumulator()
            for label, prediction, weight, *features in part:
                inputs = dict(labels=np.array([label]), predictions=np.array(prediction),
                              example_weights=np.array([weight]))
                if features:
                    inputs[constants.TRANSFORMED_FEATURES_KEY] = features[0]
                acc = combiner.add_input(acc, metric_types.StandardMetricInputs(**inputs))
            accumulators.append(acc)
        results.update(combiner.extract_output(combiner.merge_accumulators(accumulators)))
    return {key.name: value for key, value in results.items() if not key.name.startswith("_")}
