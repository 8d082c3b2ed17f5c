"""`torchenv create` (uv backend, warm uv cache) against a bare `uv venv` + `uv pip sync` of the
same lock, and against the pip backend; side by side in one run (design.md goal: within 1.5x of
bare uv).

It makes a project with torch 2.13.0+cpu from the local wheel folder (torchenv init + lock), warms
uv's cache once, then interleaves the cases. Every run builds a fresh environment.

    python benchmarks/bench_create.py --torchenv .venvs/bench/bin/torchenv [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import write_results


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def cpu_project(
    torchenv: list[str], wheels: str, purpose: str
) -> tuple[Path, dict[str, str], Path]:
    """(directory, environment, spec) of a fresh project for torch 2.13.0+cpu from the local
    wheel folder (an empty stand-in for the PyTorch index, which is not reachable here)."""
    root = Path(tempfile.mkdtemp(prefix=f"torchenv-bench-{purpose}-"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(root / "data")
    (root / "no-pytorch-index").mkdir()
    init = ["init", "--torch", "2.13.0", "--python", "3.11", "--cuda", "cpu", "--name", "bench"]
    timed([*torchenv, *init], env, root)
    spec = root / "torchenv.toml"
    text = re.sub(r"libraries = \[[^\]]*\]\n", "libraries = []\n", spec.read_text())
    spec.write_text(
        text + f'\n[index]\npytorch = "file://{root / "no-pytorch-index"}"\n'
        f'find-links = ["{wheels}"]\n'
    )
    return root, env, spec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--torchenv", default=None, help="torchenv executable (default: -m)")
    parser.add_argument("--wheels", default=os.environ.get("TORCHENV_TEST_WHEELS", "/opt/wheels"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pip-runs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    torchenv = [args.torchenv] if args.torchenv else [sys.executable, "-m", "torchenv"]
    import uv  # noqa: PLC0415  (the uv torchenv itself runs; only when benchmarking)

    uv_bin = str(uv.find_uv_bin())
    root, env, _ = cpu_project(torchenv, args.wheels, "create")
    timed([*torchenv, "lock"], env, root)
    index = ["--index-url", "https://pypi.org/simple", "--find-links", args.wheels]

    def bare(prefix: Path) -> list[list[str]]:
        return [
            [uv_bin, "venv", "-q", "--python", "3.11", str(prefix)],
            [
                uv_bin,
                "pip",
                "sync",
                "-q",
                "pylock.toml",
                "--python",
                str(prefix / "bin/python"),
                *index,
            ],
        ]

    cases: dict[str, tuple[int, object]] = {
        "uv venv + uv pip sync pylock.toml (bare)": (args.runs, bare),
        "torchenv create --backend uv": (
            args.runs,
            lambda p: [[*torchenv, "create", "--backend", "uv", "--prefix", str(p)]],
        ),
        "torchenv create --backend uv --no-verify": (
            args.runs,
            lambda p: [[*torchenv, "create", "--no-verify", "--prefix", str(p)]],
        ),
        "torchenv create --backend pip": (
            args.pip_runs,
            lambda p: [[*torchenv, "create", "--backend", "pip", "--prefix", str(p)]],
        ),
    }
    for argv in bare(root / "warm"):  # fill uv's cache
        timed(argv, env, root)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(max(n for n, _ in cases.values())):
        for name, (runs, make) in cases.items():
            if i >= runs:
                continue
            prefix = root / f"env-{len(samples[name])}-{abs(hash(name)) % 1000}"
            total = sum(timed(argv, env, root) for argv in make(prefix))  # type: ignore[operator]
            samples[name].append(total)
            shutil.rmtree(prefix, ignore_errors=True)
    base = statistics.median(samples["uv venv + uv pip sync pylock.toml (bare)"])
    rows = []
    print(f"{'case':44} {'median':>8} {'min':>8} {'runs':>5} {'vs bare':>8}")
    for name, values in samples.items():
        med = statistics.median(values)
        rows.append({"case": name, "median_s": med, "min_s": min(values), "runs": len(values)})
        print(f"{name:44} {med:7.2f}s {min(values):7.2f}s {len(values):5} {med / base:7.2f}x")
    if args.json:
        write_results(args.json, rows)
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
