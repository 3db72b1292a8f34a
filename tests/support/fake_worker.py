"""A stand-in for `models.worker` in the launcher's tests: no TensorFlow, instant.

  python -m tests.support.fake_worker ARGS.json

Reads its role from TF_CONFIG and what to do from ARGS.json's custom_config["fake"]:
{"<type>-<index>": "exit:N" | "sleep:S" | "ok"}; prints its role and the ARGS.json path.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    role = f"{task['type']}-{task['index']}"
    with open(sys.argv[1]) as f:
        plan = json.load(f)["custom_config"].get("fake", {}).get(role, "ok")
    print(f"fake {role} args={sys.argv[1]} plan={plan}", flush=True)
    action, _, value = plan.partition(":")
    if action == "sleep":
        time.sleep(float(value))
    if action == "exit":
        print(f"{role} failing on purpose", flush=True)
        return int(value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
