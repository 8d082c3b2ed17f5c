"""torchenv doctor/inspect against `python -m torch.utils.collect_env`, side by side in one run.

Both commands look at the same environment; their runs are interleaved so machine noise hits
both alike. Reports median and min wall time of whole processes (interpreter start included).

    python benchmarks/bench_doctor.py --env .venvs/torch-2.13.0-cpu \
        --torchenv .venvs/bench/bin/torchenv      (benchmarks/run.sh builds both venvs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from timing import timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True, type=Path, help="environment with torch")
    parser.add_argument("--torchenv", default=None, help="torchenv executable (default: -m)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--deep-runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    python = str(args.env / "bin" / "python")
    torchenv = [args.torchenv] if args.torchenv else [sys.executable, "-m", "torchenv"]
    prefix = ["--prefix", str(args.env)]
    cache = tempfile.mkdtemp(prefix="torchenv-bench-cache-")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_CACHE_DIR"] = cache

    cases: dict[str, tuple[list[str], int]] = {
        "python -m torch.utils.collect_env": ([python, "-m", "torch.utils.collect_env"], args.runs),
        "torchenv doctor": ([*torchenv, "doctor", *prefix], args.runs),
        "torchenv doctor --json": ([*torchenv, "doctor", "--json", *prefix], args.runs),
        "torchenv inspect --json": ([*torchenv, "inspect", "--json", *prefix], args.runs),
        "torchenv doctor (cold cache)": ([*torchenv, "doctor", *prefix], args.runs),
        "torchenv doctor --deep": ([*torchenv, "doctor", "--deep", *prefix], args.deep_runs),
    }
    for argv, _ in cases.values():  # warm the page cache and torchenv's own cache
        timed(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(max(n for _, n in cases.values())):
        for name, (argv, runs) in cases.items():
            if i >= runs:
                continue
            run_env = env
            if "cold" in name:
                run_env = {**env, "TORCHENV_CACHE_DIR": tempfile.mkdtemp(prefix="torchenv-cold-")}
            samples[name].append(timed(argv, run_env))

    base = statistics.median(samples["python -m torch.utils.collect_env"])
    rows = []
    print(f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    print(f"environment: {args.env}\n")
    print("| command | median | min | runs | collect_env / this |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in samples.items():
        median = statistics.median(values)
        rows.append(
            {"command": name, "median_s": median, "min_s": min(values), "runs": len(values)}
        )
        print(
            f"| `{name}` | {median * 1000:.0f} ms | {min(values) * 1000:.0f} ms | {len(values)} "
            f"| {base / median:.1f}x |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"env": str(args.env), "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
