"""GatedPusher's executor: blessing check, latency gate, duplicate check, atomic push."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.gated_pusher import latency as latency_lib
from components.gated_pusher import push, spec

# Values of the `push_decision` custom property.
PUSHED = "pushed"
NOT_BLESSED = "not_blessed"
TOO_SLOW = "latency_over_budget"
ALREADY_SERVED = "already_served"

RECORD_FILE = "push_record.json"


def _write_json(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


class Executor(base_executor.BaseExecutor):
    """Decides and performs the push; the record explains the decision either way."""

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        """Reads `spec.MODEL_KEY`, `spec.MODEL_BLESSING_KEY`, `spec.EXAMPLES_KEY` (its
        `spec.LATENCY_SPLIT_KEY` split) and `spec.SERVING_DIR_KEY`,
        `spec.LATENCY_BUDGET_MS_KEY`, `spec.LATENCY_SAMPLES_KEY`; writes `spec.PUSHED_MODEL_KEY`
        with the decision as custom properties and `RECORD_FILE` in its folder."""
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[spec.PUSHED_MODEL_KEY])
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        blessing = artifact_utils.get_single_instance(input_dict[spec.MODEL_BLESSING_KEY])
        serving_dir = exec_properties[spec.SERVING_DIR_KEY]
        budget = float(exec_properties[spec.LATENCY_BUDGET_MS_KEY])
        model_dir = path_utils.serving_model_path(model.uri)
        record: dict[str, Any] = {
            "model_uri": model.uri,
            "serving_dir": serving_dir,
            "latency_budget_ms": budget,
            "served_version_before": push.latest_version(serving_dir),
        }
        pushed_model.set_float_custom_property("latency_budget_ms", budget)

        if not blessing.get_int_custom_property("blessed"):
            decision, reason = NOT_BLESSED, "the Evaluator did not bless the model"
        else:
            split_dir = artifact_utils.get_split_uri(input_dict[spec.EXAMPLES_KEY],
                                                     exec_properties[spec.LATENCY_SPLIT_KEY])
            examples = latency_lib.read_examples(split_dir,
                                                 int(exec_properties[spec.LATENCY_SAMPLES_KEY]))
            figures = latency_lib.measure(model_dir, examples)
            record["latency"] = figures.to_dict()
            pushed_model.set_float_custom_property("latency_p50_ms", figures.p50_ms)
            pushed_model.set_float_custom_property("latency_p99_ms", figures.p99_ms)
            logging.info("serving_default latency at batch 1 over %d examples: p50 %.2f ms, "
                         "p99 %.2f ms (budget %.1f ms)", figures.samples, figures.p50_ms,
                         figures.p99_ms, budget)
            served = push.served_copy_of(model_dir, serving_dir)
            if figures.p99_ms > budget:
                decision = TOO_SLOW
                reason = (f"serving_default p99 latency at batch 1 is {figures.p99_ms:.2f} ms, "
                          f"over the {budget:g} ms budget")
            elif served is not None:
                decision = ALREADY_SERVED
                reason = f"the model is identical to the served version {served}"
                pushed_model.set_string_custom_property("served_version", str(served))
            else:
                decision = PUSHED
                final = push.atomic_push(model_dir, serving_dir)
                reason = f"pushed as version {final.name}"
                record["pushed_version"] = int(final.name)
                pushed_model.set_int_custom_property("pushed", 1)
                pushed_model.set_string_custom_property("pushed_destination", str(final))
                pushed_model.set_string_custom_property("pushed_version", final.name)
                pushed_model.set_string_custom_property("served_version", final.name)

        if decision != PUSHED:
            pushed_model.set_int_custom_property("pushed", 0)
        pushed_model.set_string_custom_property("push_decision", decision)
        pushed_model.set_string_custom_property("push_reason", reason)
        record.update(decision=decision, reason=reason,
                      served_version_after=push.latest_version(serving_dir))
        logging.info("GatedPusher: %s (%s)", decision, reason)
        os.makedirs(pushed_model.uri, exist_ok=True)
        _write_json(os.path.join(pushed_model.uri, RECORD_FILE), record)
