"""The curated schema: `mtl schema freeze` writes it, the pipeline validates every span against it.

A schema re-inferred on every run accepts whatever the bad data looks like (a feature that
went missing is simply not in the new schema). So the schema is frozen once from good data,
reviewed, kept with the home (or committed where the user keeps it), and imported by the
pipeline (`ImportSchemaGen`). A problem spec's curated schema may sit beside the spec file
(`schema.pbtxt`): the default problem's ships with the package that way.

`curate(schema, statistics, spec)` turns the schema TFDV infers from statistics into the
curated one, following the problem spec (`models.spec`):
  - presence, from the data: a spec feature the reference data holds in every example is
    required (`min_fraction` 1); one absent from some reference examples (an absent tf.Example
    feature, an empty CSV cell: `components.anomalies_gate.presence`) is optional, with
    `min_fraction` its reference presence less `PRESENCE_MARGIN`, so a span in which it goes
    missing from most examples is still refused; so is a feature the spec marks `optional`.
    An optional feature has no fixed shape (Transform parses it as a sparse feature and imputes
    it: `models.preprocessing`). Labels the reference data holds in every example must be in
    every example; labels of optional tasks may be absent;
  - columns of the data the spec does not name (neither a feature nor a label) are ignored:
    marked deprecated, so the gate requires nothing of them and Transform does not parse them
    (`ignored_columns` lists them; the freeze says so once);
  - categorical features with `schema.domain`: `closed`, their value set, no other value
    allowed; `open`, the values seen, with `min_domain_mass` so that a few never-seen values
    are tolerated (they map to the OOV bucket); other ids: no domain;
  - numeric features: `schema.min` / `schema.max`, NaN and infinity disallowed for floats;
  - labels: the missing sentinel up to 1 (binary) or K-1 (multiclass class ids), or at least
    min(sentinel, 0) for a regression label;
  - CSV spans: labels may be empty cells (a missing label);
  - drift comparators (`schema.drift`) on features whose distribution must not move far: the
    gate compares each span with the reference statistics frozen alongside the schema.

`freeze(home, spec=...)` curates from the newest statistics in a home's ML Metadata;
`freeze_from_data(data_dir, spec)` computes the statistics of the newest span itself (a
first run on a new problem's data does this). Files: `HOME/schema/schema.pbtxt` and
`reference_statistics.pbtxt` beside it (only the drift-compared features), each written to a
temporary file and renamed into place.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path

from components.anomalies_gate import presence as presence_lib
from models.spec import ProblemSpec, SpecError, Task, default_spec
from pipeline.core import metadata
from pipeline.data import layout
from pipeline.data import statistics as statistics_lib

# `mtl schema freeze` writes to HOME/schema/ by default, and a run on that home uses it.
HOME_SCHEMA_DIR = "schema"
SCHEMA_FILE = "schema.pbtxt"
REFERENCE_STATS_FILE = "reference_statistics.pbtxt"
# An optional feature's minimum presence is its presence in the reference data less this
# (absolute) margin, rounded down to a percent: present in 75% of the reference examples, a
# span must hold it in at least 55% of its own. Spans of a few thousand examples vary by a
# percent or two by chance; the margin leaves room for ordinary change between spans and still
# refuses a feature that went missing from most examples. Edit `presence.min_fraction` in the
# frozen schema to choose another bound for one feature.
PRESENCE_MARGIN = 0.2


def spec_schema_path(spec: ProblemSpec) -> Path | None:
    """The curated schema beside the spec's file (None when it has none there)."""
    if not spec.source:
        return None
    path = Path(spec.source).resolve().parent / SCHEMA_FILE
    return path if path.is_file() else None


def default_schema_path() -> Path:
    """The curated schema shipped with the package, beside the default problem's spec."""
    return Path(default_spec().source).resolve().parent / SCHEMA_FILE


def home_schema_path(home: str | os.PathLike) -> Path:
    """Where `mtl schema freeze` writes a home's own curated schema."""
    return Path(home) / HOME_SCHEMA_DIR / SCHEMA_FILE


def reference_stats_path(schema_path: str | os.PathLike) -> Path:
    """The reference statistics frozen next to `schema_path`."""
    return Path(schema_path).parent / REFERENCE_STATS_FILE


def resolve_schema_path(schema_path: str | None, home: str | os.PathLike,
                        infer: bool = False, spec: ProblemSpec | None = None) -> Path | None:
    """The curated schema a run validates against, or None when the run asked to infer one.

    In order: `schema_path` (must exist), the home's own (`home_schema_path`), the one beside
    the spec's file (the default problem's ships with the package). A run that should validate
    against a curated schema and finds none stops here with an error: it never silently falls
    back to a schema inferred from the data it should check (a local run on a new problem's
    data freezes one from its first span first: `pipeline.runs.local`).
    """
    spec = spec or default_spec()
    if infer:
        return None
    if schema_path:
        path = Path(schema_path)
        if not path.is_file():
            raise FileNotFoundError(f"curated schema {path} does not exist; write one with "
                                    "`mtl schema freeze --out FILE`")
        return path.resolve()
    own = home_schema_path(home)
    if own.is_file():
        return own.resolve()
    beside = spec_schema_path(spec)
    if beside is not None:
        return beside
    if spec == default_spec():
        raise FileNotFoundError(
            f"the curated schema that ships with the package is missing "
            f"({default_schema_path()}): reinstall the package, pass --schema FILE, or "
            f"--infer-schema to let SchemaGen infer one")
    raise FileNotFoundError(
        f"problem {spec.name!r} has no curated schema: none in {home_schema_path(home)} nor "
        f"beside {spec.source}; write one with `mtl schema freeze --spec {spec.source} --data "
        f"DIR --root {home}` (a local `mtl run` does it from the first span), pass --schema "
        f"FILE, or --infer-schema")


def schema_feature_names(path: str | os.PathLike) -> set[str]:
    """The feature names of a curated schema file."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(path).read_text(), schema_pb2.Schema())
    return {f.name for f in schema.feature}


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of a file: part of a component's cache key, so editing the file re-runs it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _feature(schema, name: str):
    for feature in schema.feature:
        if feature.name == name:
            return feature
    raise KeyError(f"feature {name!r} is not in the inferred schema; features: "
                   f"{sorted(f.name for f in schema.feature)}")


def curate(schema, statistics, spec: ProblemSpec | None = None):
    """Applies the curation rules above to an inferred `schema` (modified and returned)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    spec = spec or default_spec()
    stats = {f.path.step[0] if f.path.step else f.name: f for f in statistics.datasets[0].features}
    num_examples = statistics.datasets[0].num_examples
    features = {f.name: f for f in spec.features}
    labels = {key for t in spec.tasks for key in (t.label_key, t.label_end_key) if key}
    schema.ClearField("string_domain")
    for feature in schema.feature:
        feature.ClearField("domain")
        feature.ClearField("distribution_constraints")
        if feature.name not in features and feature.name not in labels:
            _ignore(feature)
        elif feature.name in features:
            fraction = presence_lib.present_fraction(stats.get(feature.name), num_examples)
            if fraction >= 1.0 and not features[feature.name].optional:
                feature.presence.min_fraction = 1.0
                feature.presence.min_count = 1
            else:
                _optional(feature, features[feature.name], fraction)
        elif _always_present(stats.get(feature.name), num_examples):
            feature.presence.min_fraction = 1.0
            feature.presence.min_count = 1
        else:
            feature.presence.min_fraction = 0.0
            feature.presence.min_count = 0
    for spec_feature in spec.categorical:
        name = spec_feature.name
        feature = _feature(schema, name)
        feature.ClearField("string_domain")
        domain = spec_feature.schema.get("domain")
        if domain and name in stats:
            # top_values holds only the 20 most frequent; the rank histogram holds up to 1000.
            string_stats = stats[name].string_stats
            values = sorted({v.value for v in string_stats.top_values}
                            | {b.label for b in string_stats.rank_histogram.buckets})
            feature.string_domain.name = name
            feature.string_domain.value[:] = values
            if domain == "open":
                feature.distribution_constraints.min_domain_mass = float(
                    spec_feature.schema.get("min_domain_mass", 0.9))
    for spec_feature in spec.features:
        if spec_feature.kind != "numeric":
            continue
        feature = _feature(schema, spec_feature.name)
        low, high = spec_feature.schema.get("min"), spec_feature.schema.get("max")
        if feature.type == schema_pb2.FLOAT:
            domain = feature.float_domain
            domain.disallow_nan = True
            domain.disallow_inf = True
        elif low is None and high is None:
            continue
        else:
            domain = feature.int_domain
        if low is not None:
            domain.min = low if feature.type == schema_pb2.FLOAT else int(low)
        if high is not None:
            domain.max = high if feature.type == schema_pb2.FLOAT else int(high)
    if spec.input_format == "csv":
        # An empty CSV cell is a feature with no value for CsvExampleGen: a label may be one
        # (a missing label), so labels have no shape and no presence.
        empty_ok = {t.label_key for t in spec.tasks}
        for feature in schema.feature:
            if feature.name in empty_ok:
                feature.ClearField("shape")
                feature.ClearField("value_count")
                feature.presence.min_fraction = 0.0
                feature.presence.min_count = 0
    for task, key in [(t, k) for t in spec.tasks for k in (t.label_key, t.label_end_key) if k]:
        present = [f for f in schema.feature if f.name == key]
        if not present and not task.optional:
            raise KeyError(f"label {key!r} of task {task.name!r} is not in the "
                           f"statistics; features: {sorted(f.name for f in schema.feature)}")
        feature = present[0] if present else schema.feature.add(name=key)
        if task.optional:
            # May be absent (data without the optional label stays valid), in range if not.
            feature.type = (schema_pb2.FLOAT if task.kind == "regression" else schema_pb2.BYTES
                            if task.kind == "sequence_labeling" else schema_pb2.INT)
            feature.ClearField("shape")
            feature.ClearField("value_count")
            feature.presence.min_fraction = 0.0
            feature.presence.min_count = 0
        _label_domain(feature, task)
    schema.feature.sort(key=lambda f: f.name)
    for spec_feature in spec.features:
        for kind, threshold in spec_feature.schema.get("drift", {}).items():
            comparator = _feature(schema, spec_feature.name).drift_comparator
            comparator.Clear()
            getattr(comparator, kind).threshold = threshold
    return schema


def min_presence(fraction: float) -> float:
    """An optional feature's `presence.min_fraction`: its reference presence less
    `PRESENCE_MARGIN`, rounded down to a percent, at least 0."""
    return max(0.0, math.floor(round((fraction - PRESENCE_MARGIN) * 100, 6)) / 100)


def _optional(feature, spec_feature, fraction: float) -> None:
    """An optional feature: present in at least `min_presence(fraction)` of the examples, no
    fixed shape (parsed as a sparse feature), at most one value when it holds one (a sequence:
    any number)."""
    feature.presence.min_fraction = min_presence(fraction)
    feature.presence.min_count = 1 if fraction > 0 else 0
    feature.ClearField("shape")
    feature.ClearField("value_count")
    if spec_feature.kind != "sequence":
        feature.value_count.max = 1


def _ignore(feature) -> None:
    """A column the spec does not name: deprecated (validation and Transform skip it)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    feature.lifecycle_stage = schema_pb2.DEPRECATED
    for field in ("presence", "shape", "value_count", "int_domain", "float_domain",
                  "string_domain", "bool_domain", "drift_comparator", "skew_comparator"):
        feature.ClearField(field)


def ignored_columns(schema) -> list[str]:
    """The columns a curated schema ignores (deprecated: the spec does not name them)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    return sorted(f.name for f in schema.feature if f.lifecycle_stage == schema_pb2.DEPRECATED)


def ignored_message(path: str | os.PathLike) -> str | None:
    """One line naming the columns a curated schema file ignores (None: it ignores none)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    ignored = ignored_columns(text_format.Parse(Path(path).read_text(), schema_pb2.Schema()))
    if not ignored:
        return None
    return (f"columns of the data that the spec does not name are ignored (not validated, not "
            f"transformed): {', '.join(ignored)}")


def optional_features(path: str | os.PathLike | None, spec: ProblemSpec) -> tuple[str, ...]:
    """The spec's features that a curated schema file lets an example lack (presence below 1
    or no fixed shape), in the spec's order; none without a curated schema."""
    if path is None:
        return ()
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(path).read_text(), schema_pb2.Schema())
    by_name = {f.name: f for f in schema.feature}
    out = []
    for feature in spec.features:
        entry = by_name.get(feature.name)
        if entry is None:
            continue
        if feature.optional and entry.HasField("shape"):
            index = spec.features.index(feature)
            raise SpecError(spec.source, f"features[{index}].optional",
                            f"feature {feature.name!r} is optional in problem {spec.name!r}, "
                            f"but the curated schema {path} requires it in every example (a "
                            f"fixed shape); re-freeze the schema (`mtl schema freeze --spec "
                            f"FILE --data DIR`)")
        if feature.optional or entry.presence.min_fraction < 1.0:
            out.append(feature.name)
    return tuple(out)


def _always_present(feature_stats, num_examples: int) -> bool:
    """Whether the statistics show the feature in every example."""
    if feature_stats is None:
        return False
    common = (feature_stats.num_stats.common_stats if feature_stats.HasField("num_stats")
              else feature_stats.string_stats.common_stats)
    return common.num_missing == 0 and common.num_non_missing >= num_examples


def _label_domain(feature, task: Task) -> None:
    """A label's valid values: the missing sentinel up to 1 (binary) or K-1 (multiclass class
    ids), or >= min(sentinel, 0) for a regression label."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    low = min(task.missing_label, 0)
    if task.kind == "sequence_labeling":
        # One IOB2 tag per word, from the task's tags: any other value is an anomaly.
        feature.ClearField("string_domain")
        feature.ClearField("domain")
        feature.string_domain.name = feature.name
        feature.string_domain.value[:] = list(task.tags)
        feature.ClearField("shape")
        feature.ClearField("value_count")
        feature.presence.min_fraction = 0.0
        return
    if task.max_label is not None:
        feature.ClearField("int_domain")
        feature.int_domain.min = int(low)
        feature.int_domain.max = task.max_label
    elif feature.type == schema_pb2.INT:
        feature.ClearField("int_domain")
        feature.int_domain.min = int(low)
    else:
        feature.ClearField("float_domain")
        feature.float_domain.min = low
        feature.float_domain.disallow_nan = True
        feature.float_domain.disallow_inf = True


def reference_statistics(statistics, spec: ProblemSpec | None = None):
    """The drift-compared features' statistics alone (small enough to review and commit)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    spec = spec or default_spec()
    drift = {f.name for f in spec.features if f.schema.get("drift")}
    out = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = out.datasets.add()
    source = statistics.datasets[0]
    dataset.name = source.name
    dataset.num_examples = source.num_examples
    for feature in source.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        if name in drift:
            dataset.features.add().CopyFrom(feature)
    return out


def latest_statistics_uri(home: str | os.PathLike) -> str:
    """The newest ExampleStatistics artifact recorded in `home`'s ML Metadata."""
    db = Path(home) / "metadata.db"
    store = metadata.open_home_store(db, home)
    # StatisticsGen's outputs (pipeline_root/StatisticsGen/statistics/<execution>), not the
    # pre/post-transform statistics that Transform also records as ExampleStatistics.
    artifacts = [a for a in store.get_artifacts_by_type("ExampleStatistics")
                 if a.state == a.LIVE and Path(a.uri).parent.parent.name == "StatisticsGen"]
    if not artifacts:
        raise LookupError(f"no statistics recorded in {db}: run `mtl run --root {home}` first")
    return max(artifacts, key=lambda a: a.create_time_since_epoch).uri


def write_text_atomically(path: Path, text: str) -> None:
    """Writes `text` to a temporary file beside `path`, then renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def freeze(home: str | os.PathLike, out: str | os.PathLike | None = None,
           split: str = "train", spec: ProblemSpec | None = None) -> tuple[Path, Path]:
    """Infers and curates the schema from `home`'s newest statistics; writes schema + reference.

    Returns the two paths written (`out`, default `home_schema_path(home)`, where the next run on
    that home finds it, and the reference statistics next to it).
    """
    import tensorflow_data_validation as tfdv

    stats_path = Path(latest_statistics_uri(home)) / f"Split-{split}" / "FeatureStats.pb"
    if not stats_path.exists():
        raise FileNotFoundError(f"statistics file {stats_path} is missing")
    statistics = tfdv.load_stats_binary(str(stats_path))
    try:
        where = stats_path.relative_to(Path(home).resolve())
    except ValueError:
        where = stats_path
    return write_curated(statistics, spec, Path(out) if out else home_schema_path(home),
                         f"the statistics {where}")


def freeze_from_data(data_dir: str | os.PathLike, spec: ProblemSpec,
                     out: str | os.PathLike, beam_args=None) -> tuple[Path, Path]:
    """Computes the newest span's statistics (`pipeline.data.statistics`) and writes the
    curated schema for `spec` to `out`, with the reference statistics beside it."""
    span = layout.existing_spans(data_dir)[-1] if layout.existing_spans(data_dir) else None
    statistics = statistics_lib.span_statistics(data_dir, spec.input_format, beam_args=beam_args)
    return write_curated(statistics, spec, Path(out), f"span-{span} of the data")


def write_curated(statistics, spec: ProblemSpec | None, schema_path: Path,
                  described: str) -> tuple[Path, Path]:
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format

    spec = spec or default_spec()
    schema = curate(tfdv.infer_schema(statistics, infer_feature_shape=True), statistics, spec)
    ref_path = reference_stats_path(schema_path)
    header = (f"# Curated by `mtl schema freeze` for problem {spec.name!r} from {described}.\n"
              "# Review before committing; the pipeline validates every span against it.\n")
    ignored = ignored_columns(schema)
    if ignored:
        header += (f"# Columns of the data the spec does not name, ignored (deprecated): "
                   f"{', '.join(ignored)}.\n")
    write_text_atomically(schema_path, header + text_format.MessageToString(schema))
    write_text_atomically(ref_path, "# Reference distributions for the drift comparators.\n"
                           + text_format.MessageToString(reference_statistics(statistics, spec)))
    return schema_path, ref_path
