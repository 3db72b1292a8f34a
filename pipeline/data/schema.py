"""The curated schema: `mtl schema freeze` writes it, the pipeline validates every span against it.

A schema re-inferred on every run accepts whatever the bad data looks like (a feature that
went missing is simply not in the new schema). So the schema is frozen once from good data,
reviewed, kept with the home (or committed where the user keeps it), and imported by the
pipeline (`ImportSchemaGen`). The default problem's curated schema ships with the package.

`freeze(home)` infers the schema from the newest statistics in a home's ML Metadata (what
SchemaGen does) and curates it:
  - presence: every feature and label in every example (`min_fraction` 1);
  - closed categorical features (`CLOSED_DOMAINS`): their value set, no other value allowed;
    open categorical features (`category`): the values seen, with `min_domain_mass` so that a
    few never-seen values are tolerated (they map to the OOV bucket); ids: no domain;
  - numeric ranges (`NUMERIC_RANGES`), NaN and infinity disallowed;
  - labels: binary labels in {-1, 0, 1}, regression labels >= -1 (-1 = not observed);
    optional tasks' labels (`models.features.OPTIONAL_TASKS`) may be absent, in range if not;
  - drift comparators (`DRIFT`) on features whose distribution must not move far: the gate
    compares each span with the reference statistics frozen alongside the schema.

Files: `HOME/schema/schema.pbtxt` and `reference_statistics.pbtxt` beside it (only the
drift-compared features), each written to a temporary file and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from models import features
from pipeline.core import metadata

# The curated schema of the default problem, shipped as package data.
PACKAGED_DIR = Path(__file__).resolve().parent / "curated"
# `mtl schema freeze` writes to HOME/schema/ by default, and a run on that home uses it.
HOME_SCHEMA_DIR = "schema"
SCHEMA_FILE = "schema.pbtxt"
REFERENCE_STATS_FILE = "reference_statistics.pbtxt"

# Categorical features whose value set is closed: any other value is an anomaly.
CLOSED_DOMAINS: tuple[str, ...] = ("device",)
# Categorical features with a domain that tolerates a small share of never-seen values.
OPEN_DOMAINS: dict[str, float] = {"category": 0.9}
# Numeric ranges (min, max); None leaves that side open.
NUMERIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "price": (0.0, None),
    "item_ctr_7d": (0.0, 1.0),
    "user_age": (0, 150),
    "hour": (0, 23),
}
# Drift comparators: feature -> ("infinity_norm" | "jensen_shannon_divergence", threshold).
DRIFT: dict[str, tuple[str, float]] = {
    "device": ("infinity_norm", 0.15),
    "price": ("jensen_shannon_divergence", 0.15),
}


def default_schema_path() -> Path:
    """The curated schema shipped with the package (the default problem's)."""
    return PACKAGED_DIR / SCHEMA_FILE


def home_schema_path(home: str | os.PathLike) -> Path:
    """Where `mtl schema freeze` writes a home's own curated schema."""
    return Path(home) / HOME_SCHEMA_DIR / SCHEMA_FILE


def reference_stats_path(schema_path: str | os.PathLike) -> Path:
    """The reference statistics frozen next to `schema_path`."""
    return Path(schema_path).parent / REFERENCE_STATS_FILE


def resolve_schema_path(schema_path: str | None, home: str | os.PathLike,
                        infer: bool = False) -> Path | None:
    """The curated schema a run validates against, or None when the run asked to infer one.

    In order: `schema_path` (must exist), the home's own (`home_schema_path`), the packaged one.
    A run that should validate against a curated schema and finds none stops here with an error:
    it never silently falls back to a schema inferred from the data it should check.
    """
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
    packaged = default_schema_path()
    if not packaged.is_file():
        raise FileNotFoundError(
            f"the curated schema that ships with the package is missing ({packaged}): reinstall "
            "the package, pass --schema FILE, or --infer-schema to let SchemaGen infer one")
    return packaged


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of a file: part of a component's cache key, so editing the file re-runs it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _feature(schema, name: str):
    for feature in schema.feature:
        if feature.name == name:
            return feature
    raise KeyError(f"feature {name!r} is not in the inferred schema; features: "
                   f"{sorted(f.name for f in schema.feature)}")


def curate(schema, statistics):
    """Applies the curation rules above to an inferred `schema` (modified and returned)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    stats = {f.path.step[0] if f.path.step else f.name: f for f in statistics.datasets[0].features}
    schema.ClearField("string_domain")
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        feature.ClearField("domain")
        feature.ClearField("distribution_constraints")
    for name in features.CATEGORICAL_FEATURES:
        feature = _feature(schema, name)
        feature.ClearField("string_domain")
        if name in CLOSED_DOMAINS or name in OPEN_DOMAINS:
            # top_values holds only the 20 most frequent; the rank histogram holds up to 1000.
            string_stats = stats[name].string_stats
            values = sorted({v.value for v in string_stats.top_values}
                            | {b.label for b in string_stats.rank_histogram.buckets})
            feature.string_domain.name = name
            feature.string_domain.value[:] = values
            if name in OPEN_DOMAINS:
                feature.distribution_constraints.min_domain_mass = OPEN_DOMAINS[name]
    for name, (low, high) in NUMERIC_RANGES.items():
        feature = _feature(schema, name)
        if feature.type == schema_pb2.FLOAT:
            domain = feature.float_domain
            domain.disallow_nan = True
            domain.disallow_inf = True
        else:
            domain = feature.int_domain
        if low is not None:
            domain.min = low
        if high is not None:
            domain.max = high
    for task in features.TASKS:
        _label_domain(_feature(schema, task.label_key), task)
    for task in features.OPTIONAL_TASKS:
        # May be absent (data without the optional label stays valid), in range when present.
        present = [f for f in schema.feature if f.name == task.label_key]
        feature = present[0] if present else schema.feature.add(name=task.label_key)
        feature.type = schema_pb2.FLOAT if task.kind == "regression" else schema_pb2.INT
        feature.ClearField("shape")
        feature.ClearField("value_count")
        feature.presence.min_fraction = 0.0
        feature.presence.min_count = 0
        _label_domain(feature, task)
    schema.feature.sort(key=lambda f: f.name)
    for name, (kind, threshold) in DRIFT.items():
        comparator = _feature(schema, name).drift_comparator
        comparator.Clear()
        getattr(comparator, kind).threshold = threshold
    return schema


def _label_domain(feature, task: features.Task) -> None:
    """A label's valid values: -1 (not observed) up to 1 (binary) or K-1 (multiclass class
    ids), or >= -1 for a regression label."""
    if task.max_label is not None:
        feature.ClearField("int_domain")
        feature.int_domain.min = features.MISSING_LABEL
        feature.int_domain.max = task.max_label
    else:
        feature.ClearField("float_domain")
        feature.float_domain.min = features.MISSING_LABEL
        feature.float_domain.disallow_nan = True
        feature.float_domain.disallow_inf = True


def reference_statistics(statistics):
    """The drift-compared features' statistics alone (small enough to review and commit)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    out = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = out.datasets.add()
    source = statistics.datasets[0]
    dataset.name = source.name
    dataset.num_examples = source.num_examples
    for feature in source.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        if name in DRIFT:
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


def _write_text_atomically(path: Path, text: str) -> None:
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
           split: str = "train") -> tuple[Path, Path]:
    """Infers and curates the schema from `home`'s newest statistics; writes schema + reference.

    Returns the two paths written (`out`, default `home_schema_path(home)`, where the next run on
    that home finds it, and the reference statistics next to it).
    """
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format

    stats_path = Path(latest_statistics_uri(home)) / f"Split-{split}" / "FeatureStats.pb"
    if not stats_path.exists():
        raise FileNotFoundError(f"statistics file {stats_path} is missing")
    statistics = tfdv.load_stats_binary(str(stats_path))
    schema = curate(tfdv.infer_schema(statistics, infer_feature_shape=True), statistics)
    schema_path = Path(out) if out else home_schema_path(home)
    ref_path = reference_stats_path(schema_path)
    header = (f"# Curated by `mtl schema freeze` from {stats_path}.\n"
              "# Review before committing; the pipeline validates every span against it.\n")
    _write_text_atomically(schema_path, header + text_format.MessageToString(schema))
    _write_text_atomically(ref_path, "# Reference distributions for the drift comparators.\n"
                           + text_format.MessageToString(reference_statistics(statistics)))
    return schema_path, ref_path
