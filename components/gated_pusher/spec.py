"""GatedPusher component spec: the candidate, its blessing and the examples its latency is
measured on in; the PushedModel out. Keys as named constants, read by the component and the
executor."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
EXAMPLES_KEY = "examples"
PUSHED_MODEL_KEY = "pushed_model"
SERVING_DIR_KEY = "serving_dir"
LATENCY_BUDGET_MS_KEY = "latency_budget_ms"
LATENCY_SAMPLES_KEY = "latency_samples"
LATENCY_SPLIT_KEY = "latency_split"
CODE_FINGERPRINT_KEY = "code_fingerprint"


class GatedPusherSpec(ComponentSpec):
    """Inputs, outputs and parameters of `GatedPusher`."""

    PARAMETERS = {
        # The TF Serving model folder (`<base>/<model name>`).
        SERVING_DIR_KEY: ExecutionParameter(type=str),
        # The largest allowed p99 of `serving_default` at batch 1, and how many examples of
        # which split are timed.
        LATENCY_BUDGET_MS_KEY: ExecutionParameter(type=float),
        LATENCY_SAMPLES_KEY: ExecutionParameter(type=int),
        LATENCY_SPLIT_KEY: ExecutionParameter(type=str),
        # A hash of the component's code, so caching follows code changes.
        CODE_FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
    }
