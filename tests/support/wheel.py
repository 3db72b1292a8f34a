"""The project as the Kubeflow image installs it: a wheel built from the tracked files, installed
without `-e` into a scratch folder and used from outside the checkout.

The wheel is installed with `pip install --no-deps --target SITE` (the dependencies come from the
test's own environment) and SITE goes first on PYTHONPATH, ahead of any editable install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Installed:
    site: Path     # the --target folder: the project's packages and bin/mtl
    env: dict      # this environment with PYTHONPATH=site
    work: Path     # an empty working folder outside the checkout
    wheel: Path

    @property
    def mtl(self) -> str:
        return str(self.site / "bin" / "mtl")


def tracked_copy(dest: Path) -> Path:
    """The checkout's tracked files (and new, unignored ones) copied to `dest`."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = ROOT / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
    return dest


def build_and_install(tmp: Path) -> Installed:
    """Builds the wheel from a tracked copy under `tmp` and installs it into `tmp/site`."""
    source = tracked_copy(tmp / "source")
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(source)], check=True, timeout=600)
    [wheel] = dist.glob("mtl_pipeline-*.whl")
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, timeout=600)
    env = dict(os.environ, PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="2")
    work = tmp / "work"
    work.mkdir()
    return Installed(site, env, work, wheel)


def run(args, env, cwd, timeout=300) -> str:
    """Runs `args`; its stdout, or an assertion error with the end of both streams."""
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout
