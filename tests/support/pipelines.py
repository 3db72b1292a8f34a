"""Small, fast pipeline configurations shared by the e2e tests."""

from __future__ import annotations

# Small data cannot reach the production bounds in models.features; e2e tests gate on these
# (still above chance) so that they test the mechanics, not the data size.
SMALL_DATA_THRESHOLDS = {"click": 0.55, "conversion": 0.55, "watch_time": 80.0, "like": 0.5}
SMALL_EXAMPLES = 5000


def small_config(root, **changes):
    """A config for a fast run on `SMALL_EXAMPLES` generated examples under `root`."""
    from models.hparams import ModelHParams
    from pipeline.core.config import PipelineConfig

    hparams = changes.pop("hparams", ModelHParams(epochs=3, batch_size=128))
    return PipelineConfig(
        root=str(root),
        examples=changes.pop("examples", SMALL_EXAMPLES),
        seed=changes.pop("seed", 7),
        hparams=hparams,
        thresholds=changes.pop("thresholds", dict(SMALL_DATA_THRESHOLDS)),
        **changes,
    )
