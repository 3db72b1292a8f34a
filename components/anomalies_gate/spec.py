"""AnomaliesGate component spec: statistics, schema and ExampleValidator anomalies in, the
validated schema out (Transform and Trainer read it, so they cannot start before the gate)."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
ANOMALIES_KEY = "anomalies"
VALIDATED_SCHEMA_KEY = "validated_schema"
ALLOW_ANOMALIES_KEY = "allow_anomalies"
REFERENCE_STATISTICS_KEY = "reference_statistics"
LABEL_KEYS_KEY = "label_keys"
MIN_EXAMPLES_KEY = "min_examples"


class AnomaliesGateSpec(ComponentSpec):
    """Inputs, outputs and parameters of `AnomaliesGate`."""

    PARAMETERS = {
        # 1: report anomalies as warnings and let the run go on.
        ALLOW_ANOMALIES_KEY: ExecutionParameter(type=int),
        # Text-format DatasetFeatureStatisticsList the drift comparators compare with ("" = none).
        REFERENCE_STATISTICS_KEY: ExecutionParameter(type=str, optional=True),
        # JSON list of label features of which every span must hold at least one observed
        # (>= 0) value.
        LABEL_KEYS_KEY: ExecutionParameter(type=str, optional=True),
        # The fewest examples (all splits) a span may have; fewer refuse it before any other
        # check (0: no minimum).
        MIN_EXAMPLES_KEY: ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {
        VALIDATED_SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
    }
