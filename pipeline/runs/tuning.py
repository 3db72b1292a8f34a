"""Whether a local run searches, reuses a stored search, or trains its own hyperparameters.

The rule (docs/guides/tuning.md, "When a new search runs"):

- `--tune [TRIALS]` always puts the Tuner in the run: it searches (TFX's cache reuses the
  search only when the transformed data, the spec, the flags and the code are all unchanged).
- Without `--tune`, the run reuses the newest search recorded in the home's ML Metadata whose
  tuning key (`PipelineConfig.tuning_key`: the spec's content, the optional tasks and the
  hyperparameter flags other than --seed / --epochs) is this run's, whichever data it ran on.
- A changed spec or flag changes the key: no stored search matches, the run trains its own
  hyperparameters and says so; `--tune` searches for the new key. A search never starts
  without `--tune` (it costs up to its cap).
"""

from __future__ import annotations

import logging

from pipeline.core import metadata
from pipeline.core.config import PipelineConfig
from pipeline.monitoring import tuning as tuning_lib


def resolve_stored(config: PipelineConfig, say=None) -> PipelineConfig:
    """`config` with `tuned_hyperparameters` set to the stored search it reuses, if any;
    `say` (a reporter's) gets a line when the home holds searches for other keys only."""
    if config.tune_trials is not None or config.tuned_hyperparameters:
        return config
    if not config.metadata_path.exists():
        return config
    store = metadata.readonly_store(config.metadata_path)
    found = tuning_lib.searches(store, config.pipeline_name)
    key = config.tuning_key()
    match = next((s for s in found if s.key == key), None)
    if match is not None:
        logging.info("reusing the hyperparameters searched by run %s: %s", match.run_id,
                     match.best_uri)
        return config.replace(tuned_hyperparameters=match.best_uri)
    if found:
        message = (f"Tuning: the stored search (run {found[0].run_id}) was for another spec "
                   f"or other flags: training this run's own hyperparameters (`--tune` "
                   f"searches for these)")
        logging.info("%s", message)
        if say:
            say(message)
    return config
