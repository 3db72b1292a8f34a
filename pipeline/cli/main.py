"""The `mtl` console script: builds the parser from the command modules and dispatches to the
handler each one registered (`set_defaults(handler=...)`). Only the command line reads flags;
the environment is read for defaults ($MTL_HOME) and by the TFX CLI pipeline file."""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline.cli import (
    data_commands,
    kfp_commands,
    monitoring_commands,
    run_commands,
    serving_commands,
    spec_commands,
    text_commands,
)
from pipeline.runs import progress

# Commands that only read and print: no TensorFlow, absl or warning text before their output.
QUIET_COMMANDS = frozenset({"metrics", "report", "predict", "describe-model", "promote",
                            "schema", "spec"})

# In the order `mtl --help` lists them.
COMMAND_MODULES = (run_commands, kfp_commands, data_commands, text_commands, spec_commands,
                   monitoring_commands, serving_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtl", description="Multi-task learning TFX pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in QUIET_COMMANDS:
        # Before TensorFlow loads: its native logging level is read once, at load.
        progress.quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
