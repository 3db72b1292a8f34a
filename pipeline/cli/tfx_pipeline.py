"""The pipeline file of the TFX CLI:

  tfx pipeline create --engine local --pipeline_path pipeline/cli/tfx_pipeline.py
  tfx run create --engine local --pipeline_name mtl

Both execute this file (`tfx pipeline create` in-process with `LocalDagRunner.run` intercepted,
`tfx run create` as `python pipeline/cli/tfx_pipeline.py`); the configuration comes from the
environment (`MTL_HOME`, `MTL_RUN_ARGS`: the flags of `mtl run`). Under `tfx pipeline create`
the CLI records the pipeline instead of running it (the data folder is filled first, so that
ImportExampleGen finds a span); under `tfx run create` the run is real and holds the home's
lock like `mtl run`.
"""

from __future__ import annotations

import logging
import sys

from pipeline.cli.run_flags import config_from_environment
from pipeline.runs.local import run_pipeline
from pipeline.runs.lock import home_lock


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = config_from_environment()
    # `tfx pipeline create` executes this file inside the TFX CLI, with LocalDagRunner.run
    # patched to record the pipeline (tfx/tools/cli/handler/dag_runner_patcher.py): that call
    # must happen. `tfx run create` runs it as a script: nothing launches when nothing changed.
    creating = "tfx.tools.cli.handler.dag_runner_patcher" in sys.modules
    with home_lock(config.home):
        reason = run_pipeline(config, skip_unchanged=not creating)
    if reason:
        print(reason)


if __name__ == "__main__":
    main()
