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
import sys
from pathlib import Path

from bench_create import cpu_project, timed  # the same project and timing as create

PINS = ("2.2.6", "2.3.1")  # numpy


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
    root, env, spec = cpu_project(torchenv, args.wheels, "upgrade")
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
