"""`torchenv upgrade` of a one-package change against a fresh `torchenv create` of the same lock
(uv backend, warm uv cache, verify --quick in both), side by side in one run.

A project with torch 2.13.0+cpu from the local wheel folder and a pinned numpy is created once;
each round then flips the numpy pin, times the upgrade (lock + build beside + verify + switch),
times `lock` alone on the same spec (the part create does not do), and times a create of the
lock the upgrade wrote into a fresh prefix. Goal (issue 12): the upgrade costs no more than the
create plus the lock.

    python benchmarks/bench_upgrade.py [--torchenv .venvs/bench/bin/torchenv] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PINS = ("2.2.6", "2.3.1")  # numpy


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def pin(spec: Path, numpy: str) -> None:
    text = re.sub(r"packages = \[[^\]]*\]\n", "", spec.read_text())
    spec.write_text(
        text.replace("libraries = []\n", f'libraries = []\npackages = ["numpy=={numpy}"]\n')
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--torchenv", default=None, help="torchenv executable (default: -m)")
    parser.add_argument("--wheels", default=os.environ.get("TORCHENV_TEST_WHEELS", "/opt/wheels"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torchenv = [args.torchenv] if args.torchenv else [sys.executable, "-m", "torchenv"]
    root = Path(tempfile.mkdtemp(prefix="torchenv-bench-upgrade-"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(root / "data")
    (root / "no-pytorch-index").mkdir()
    init = ["init", "--torch", "2.13.0", "--python", "3.11", "--cuda", "cpu", "--name", "bench"]
    timed([*torchenv, *init], env, root)
    spec = root / "torchenv.toml"
    text = re.sub(r"libraries = \[[^\]]*\]\n", "libraries = []\n", spec.read_text())
    spec.write_text(
        text + f'\n[index]\npytorch = "file://{root / "no-pytorch-index"}"\n'
        f'find-links = ["{args.wheels}"]\n'
    )
    pin(spec, PINS[0])
    timed([*torchenv, "lock"], env, root)
    prefix = root / "env"
    timed([*torchenv, "create", "--prefix", str(prefix)], env, root)  # also warms uv's cache
    upgrades, locks, creates = [], [], []
    for run in range(args.runs):
        pin(spec, PINS[(run + 1) % 2])
        upgrades.append(timed([*torchenv, "upgrade", "--prefix", str(prefix), "--yes"], env, root))
        locks.append(timed([*torchenv, "lock"], env, root))  # the same spec: the same lock
        fresh = root / f"fresh-{run}"
        creates.append(timed([*torchenv, "create", "--prefix", str(fresh)], env, root))
    rows = {
        "upgrade (lock + build + verify + switch)": upgrades,
        "lock alone": locks,
        "create of the same lock (build + verify)": creates,
    }
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for name, values in rows.items():
        print(f"{name:45s} median {statistics.median(values):6.2f} s  min {min(values):6.2f} s")
    ratio = statistics.median(upgrades) / (statistics.median(locks) + statistics.median(creates))
    print(f"upgrade / (lock + create): {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
