"""Start-up of torchenv's short commands against a bare interpreter start, side by side.

Each case is a whole process; all cases run interleaved, so machine noise hits them alike.
Reports the median and min wall time and the ratio of the median to `python -c pass` with the
same interpreter. `python -c "import click"` is listed as the floor torchenv's CLI library sets
on its own. Where the time goes inside one process: `python -X importtime -m torchenv ...`.

    python benchmarks/bench_startup.py --torchenv .venvs/bench/bin/torchenv
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import interleaved, write_results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--torchenv", default=None, help="torchenv executable (default: -m)")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    exe = args.torchenv or ""
    python = str(Path(exe).with_name("python")) if exe else sys.executable
    torchenv = [exe] if exe else [sys.executable, "-m", "torchenv"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode
    env["TORCHENV_CACHE_DIR"] = tempfile.mkdtemp(prefix="torchenv-bench-cache-")
    env["TORCHENV_DATA_DIR"] = tempfile.mkdtemp(prefix="torchenv-bench-data-")
    hopper = ["--gpu", "H100", "--driver", "580.65.06", "--python", "3.12"]
    cases = {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import click"': [python, "-c", "import click"],
        "torchenv --version": [*torchenv, "--version"],
        "torchenv --help": [*torchenv, "--help"],
        "torchenv plan --help": [*torchenv, "plan", "--help"],
        "torchenv plan --gpu H100 --driver 580": [*torchenv, "plan", *hopper],
        "torchenv plan --gpu H100 --driver 580 --json": [*torchenv, "plan", *hopper, "--json"],
        "torchenv doctor --explain driver-too-old-for-build": [
            *torchenv,
            "doctor",
            "--explain",
            "driver-too-old-for-build",
        ],
        "torchenv inspect --json": [*torchenv, "inspect", "--json"],
    }
    samples = interleaved(cases, env, args.runs)
    floor = statistics.median(samples["python -c pass"])
    rows = []
    print(f"{'case':52} {'median':>9} {'min':>9} {'x bare':>7}")
    for name, values in samples.items():
        med, low = statistics.median(values), min(values)
        rows.append({"case": name, "median_ms": med * 1e3, "min_ms": low * 1e3})
        print(f"{name:52} {med * 1e3:6.0f} ms {low * 1e3:6.0f} ms {med / floor:6.1f}x")
    if args.json:
        write_results(args.json, rows, runs=args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
