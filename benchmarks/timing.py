"""Whole-process timing shared by the benchmark scripts (imported from their folder)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def timed(argv: list[str], env: dict[str, str], expected: Iterable[int] = (0, 1)) -> float:
    """Wall seconds of one run of ``argv``; a run that exits otherwise stops the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in tuple(expected):
        raise SystemExit(f"{argv} failed ({result.returncode}):\n{result.stderr.decode()[-2000:]}")
    return elapsed


def interleaved(
    cases: Mapping[str, list[str]],
    env: dict[str, str],
    runs: int,
    expected: Iterable[int] = (0, 1),
) -> dict[str, list[float]]:
    """``runs`` timings of each case after one warm-up run, the cases taken in turn so that
    machine noise hits them alike."""
    codes = tuple(expected)
    for argv in cases.values():
        timed(argv, env, codes)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name].append(timed(argv, env, codes))
    return samples


def write_results(path: Path, rows: list[dict[str, Any]], **meta: Any) -> None:
    """The figures as JSON: the machine and CPU count, ``meta``, and one row per case."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"machine": platform.platform(), "cpus": os.cpu_count(), **meta}
    path.write_text(json.dumps({"meta": head, "results": rows}, indent=2) + "\n")
