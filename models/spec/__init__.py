"""The problem spec: the one description of a problem's raw features, tasks and gates.

A problem is a YAML or JSON file (`load_spec(path)`), validated on load: an error names the
file, the field, the value and what was expected (`SpecError`). Transform
(`models.preprocessing`), the model (`models.model`), the trainer and the export
(`models.trainer`, `models.export`), the eval config, the schema curation, the summary, the
report and the serving clients all read a `ProblemSpec`; none of them names a feature or a task.
The default problem (a recommendation funnel) is a spec shipped with the package
(`default_spec()`, `models/problems/recommendation/spec.yaml`).

    name: my_shop
    input: {format: tfrecord}            # or csv: span-<N>/*.csv
    features:
      - {name: shopper, kind: categorical, vocabulary_size: 20000, embedding_dim: 16}
      - {name: product, kind: categorical, vocabulary_size: 5000, embedding_dim: 16}
      - {name: store, kind: categorical, vocabulary_size: 50, embedding_dim: 4}
      - {name: basket_value, kind: numeric, dtype: float, transform: log}
      - {name: viewed, kind: sequence, max_length: 20, vocabulary: product}
    tasks:
      - name: add_to_cart
        kind: binary
        gate: {metric: auc, bound: 0.65, max_change: 0.02}
      - name: dwell
        kind: regression
        missing: -1
        scale: 30
        gate: {metric: rmse, bound: 60, max_change: 0.1, change: relative}
    slices: [store]
    model:
      entire_space: {purchase: add_to_cart}   # ESMM's funnel, child: parent
      hparams: {bottom_units: [64, 32]}       # defaults for this problem; flags override

Feature kinds (`FEATURE_KINDS`): `categorical` (an id: vocabulary of the `vocabulary_size`
most frequent values, `oov_buckets` for the rest, an embedding of `embedding_dim`), `numeric`
(`dtype` float or int; `transform` z_score, log (log1p, then z-score) or bucketize into
`buckets` quantiles, embedded like an id), `sequence` (a variable-length list of ids padded or
truncated to `max_length`, looked up in the vocabulary of the categorical feature named by
`vocabulary`, or in its own of `vocabulary_size`). A kind owns its fields, so a further kind
(tokenized text) adds its own fields without changing these.

Task kinds: `binary` (AUC), `regression` (RMSE), `multiclass` (accuracy; `classes` names its
classes, labels are class ids 0..K-1). A label equal to the task's `missing` sentinel (negative,
default -1), or absent, is not observed: it weighs nothing in the loss and in the metrics.

The package, by concern: `kinds` (the feature and task kinds, the gating metrics), `feature`,
`task` and `problem` (the dataclasses), `names` (the names of transformed keys), `fields` (the
fields a spec accepts and what each means), `parsing` (validation, `SpecError`) and `loading`
(files, the packaged problems, the default problem). Everything is imported from `models.spec`.

Pure Python (PyYAML for YAML files): the CLI and the pipeline definition read a spec without
importing TensorFlow. A spec travels to Transform and Trainer as `to_dict()` in their
`custom_config` (`from_dict` reads it back), so caching follows its content.
"""

from models.spec.feature import INT64_MIN, Feature
from models.spec.fields import (
    FEATURE_FIELDS,
    FIELD_DOCS,
    GATE_FIELDS,
    INPUT_FIELDS,
    LABELS_FIELDS,
    MODEL_FIELDS,
    PROBLEM_FIELDS,
    SCHEMA_FIELDS,
    TASK_FIELDS,
)
from models.spec.kinds import (
    DEFAULT_MISSING_LABEL,
    DRIFT_COMPARATORS,
    FEATURE_KINDS,
    GATE_METRICS,
    INPUT_FORMATS,
    NUMERIC_TRANSFORMS,
    TABULAR_TASK_KINDS,
    TASK_KINDS,
    TEXT_TASK_KINDS,
    TEXT_TOKENIZERS,
    TFMA_METRICS,
    TaskKind,
)
from models.spec.loading import (
    DEFAULT_SPEC_PATH,
    PROBLEMS_DIR,
    default_spec,
    load_model_spec,
    load_spec,
    packaged_problems,
    resolve_spec,
)
from models.spec.names import (
    label_name,
    length_name,
    missing_name,
    transformed_name,
    truncated_name,
    weight_name,
)
from models.spec.parsing import SpecError
from models.spec.problem import ProblemSpec
from models.spec.task import Task, task_by_name

__all__ = [
    "DEFAULT_MISSING_LABEL", "DEFAULT_SPEC_PATH", "DRIFT_COMPARATORS", "FEATURE_FIELDS",
    "FEATURE_KINDS", "FIELD_DOCS", "GATE_FIELDS", "GATE_METRICS", "INPUT_FIELDS", "INPUT_FORMATS",
    "INT64_MIN", "LABELS_FIELDS", "MODEL_FIELDS", "NUMERIC_TRANSFORMS", "PROBLEMS_DIR",
    "PROBLEM_FIELDS", "SCHEMA_FIELDS", "TABULAR_TASK_KINDS", "TASK_FIELDS", "TASK_KINDS",
    "TEXT_TASK_KINDS", "TEXT_TOKENIZERS", "TFMA_METRICS", "Feature", "ProblemSpec", "SpecError",
    "Task", "TaskKind", "default_spec", "label_name", "length_name", "load_model_spec",
    "load_spec", "missing_name", "packaged_problems", "resolve_spec", "task_by_name",
    "transformed_name", "truncated_name", "weight_name",
]
