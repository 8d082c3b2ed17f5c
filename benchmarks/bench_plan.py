"""How long `torchenv plan` takes past interpreter start-up (design.md goal: under 100 ms).

Runs, interleaved so machine noise hits all alike:
- `python -c pass` and `python -c "import click"` with torchenv's interpreter: the floor that
  is not plan's work;
- `torchenv plan` for machines given on the command line (a Hopper node; a Blackwell desktop
  with a 570 driver; a mixed fleet from two inspect files), text and JSON;
- `torchenv plan` for this machine (adds the hardware probe).
Reports median and min wall time of whole processes, and median minus `python -c pass`.

    python benchmarks/bench_plan.py --torchenv .venvs/bench/bin/torchenv
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import interleaved, write_results

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "machines"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--torchenv", default=None, help="torchenv executable (default: -m)")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    exe = args.torchenv or ""
    python = (
        str(Path(exe).with_name("python"))
        if exe and Path(exe).with_name("python").exists()
        else sys.executable
    )
    torchenv = [exe] if exe else [sys.executable, "-m", "torchenv"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_CACHE_DIR"] = tempfile.mkdtemp(prefix="torchenv-bench-cache-")
    env["TORCHENV_DATA_DIR"] = tempfile.mkdtemp(prefix="torchenv-bench-data-")  # packaged data
    hopper = ["--gpu", "H100", "--driver", "580.65.06", "--python", "3.12"]
    blackwell = ["--gpu", "RTX 5090", "--driver", "570.133.07", "--python", "3.12"]
    fleet = [f"--for={FIXTURES / 'h100-node.json'}", f"--for={FIXTURES / 'pascal-node.json'}"]
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "torchenv plan --gpu H100 --driver 580": [*torchenv, "plan", *hopper],
        "torchenv plan --gpu H100 --driver 580 --json": [*torchenv, "plan", *hopper, "--json"],
        "torchenv plan --gpu 'RTX 5090' --driver 570": [*torchenv, "plan", *blackwell],
        "torchenv plan --for two machines": [*torchenv, "plan", *fleet],
        "torchenv plan (this machine)": [*torchenv, "plan"],
    }
    samples = interleaved(cases, env, args.runs, expected=(0, 3))  # 3: no stack fits
    floor = statistics.median(samples["python -c pass"])
    rows = []
    print(f"{'case':48} {'median':>9} {'min':>9} {'past start-up':>14}")
    for name, values in samples.items():
        med, low = statistics.median(values), min(values)
        rows.append({"case": name, "median_ms": med * 1e3, "min_ms": low * 1e3})
        extra = "" if name == "python -c pass" else f"{(med - floor) * 1e3:11.0f} ms"
        print(f"{name:48} {med * 1e3:7.0f} ms {low * 1e3:7.0f} ms {extra:>14}")
    if args.json:
        write_results(args.json, rows, runs=args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
