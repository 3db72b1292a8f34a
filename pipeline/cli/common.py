"""Flag helpers shared by the command modules."""

from __future__ import annotations

import argparse
import logging
import os


def add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=os.environ.get("MTL_HOME", "mtl_home"),
                        help="home folder (data/, pipeline_root/, metadata.db, serving/); "
                             "default ./mtl_home or $MTL_HOME")


def parse_overrides(pairs: list[str], flag: str) -> dict[str, float]:
    """["TASK=0.7", ...] -> {"TASK": 0.7}; a malformed pair exits with a usage error."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"mtl: {flag} expects TASK=VALUE, got {pair!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f"mtl: {flag} {pair!r}: {value!r} is not a number") from None
    return out


def strip_dashes(run_args: list[str]) -> list[str]:
    """The RUN FLAGS after a leading `--` (argparse.REMAINDER keeps it)."""
    return list(run_args[1:]) if run_args[:1] == ["--"] else list(run_args)


def quiet_beam() -> None:
    """Beam's INFO records (state caches, batch sizes, shard renames) off a command's output."""
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
