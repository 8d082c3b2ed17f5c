"""`torchenv monitor serve` end to end, on a machine without GPUs: a fake nvidia-smi (NVML cannot
load here, so the exporter falls back to nvidia-smi's query interface) answers for two GPUs, one
of which reports little; `promtool check metrics` accepts what is served; a real Prometheus
(Debian's package, started here on 127.0.0.1) scrapes the exporter and loads the generated
alerting rules; the exporter binds loopback and survives an nvidia-smi that hangs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from builders import require
from integration.conftest import torchenv_cmd

pytestmark = pytest.mark.integration

FAKE_SMI = r'''#!{python}
"""A fake nvidia-smi: answers --query-gpu and --query-compute-apps for the fields asked."""
import os, sys, time
if os.environ.get("FAKE_SMI_HANG"):
    time.sleep(60)
GPUS = [
    {{"index": "0", "uuid": "GPU-0f1e", "pci.bus_id": "00000000:18:00.0",
     "utilization.gpu": "97", "utilization.memory": "40", "memory.used": "71000",
     "memory.total": "81559", "temperature.gpu": "71", "power.draw": "650.25",
     "power.limit": "700.00", "enforced.power.limit": "700.00", "driver_version": "580.65.06",
     "clocks.sm": "1980", "clocks.mem": "2619",
     "clocks_event_reasons.active": "0x0000000000000004",
     "clocks_throttle_reasons.active": "0x0000000000000004",
     "ecc.errors.corrected.volatile.total": "3", "ecc.errors.uncorrected.volatile.total": "0",
     "retired_pages.single_bit_ecc.count": "[N/A]", "retired_pages.double_bit.count": "[N/A]",
     "mig.mode.current": "Disabled", "name": "NVIDIA H100 80GB HBM3"}},
    {{"index": "1", "uuid": "GPU-77aa", "pci.bus_id": "00000000:3B:00.0", "name": "Tesla K80, x"}},
]
args = " ".join(sys.argv[1:])
if "--query-gpu=" in args:
    fields = args.split("--query-gpu=")[1].split()[0].split(",")
    for gpu in GPUS:
        print(", ".join(gpu.get(f, "[N/A]") for f in fields))
elif "--query-compute-apps=" in args:
    print("GPU-0f1e, 4242, 70000, python")
else:
    print("NVIDIA-SMI 580.65.06   Driver Version: 580.65.06   CUDA Version: 13.0")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def exporter(
    tmp_path: Path, *args: str, hang: bool = False
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    smi = tools / "nvidia-smi"
    smi.write_text(FAKE_SMI.format(python=sys.executable))
    smi.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["PATH"] = f"{tools}:{env['PATH']}"
    env["TORCHENV_DATA_DIR"] = str(tmp_path / "data")
    if hang:
        env["FAKE_SMI_HANG"] = "1"
    port = free_port()
    process = subprocess.Popen(
        [*torchenv_cmd("monitor", "serve", "--port", str(port), *args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        process.wait(10)


def scrape(port: int, host: str = "127.0.0.1") -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


def test_promtool_accepts_the_served_metrics_and_prometheus_scrapes_them(tmp_path: Path) -> None:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    require(promtool is not None and prometheus is not None, "prometheus is not installed")
    assert promtool is not None and prometheus is not None
    with exporter(tmp_path, "--interval", "0.5") as (port, _):
        time.sleep(1.5)
        text = scrape(port)
        assert 'torchenv_gpu_temperature_celsius{gpu="0"' in text
        assert 'torchenv_gpu_temperature_celsius{gpu="1"' not in text  # [N/A]: left out
        assert 'torchenv_gpu_power_limit_watts{gpu="0"' in text
        assert 'driver="580.65.06"' in text
        assert 'environment=""' in text or "torchenv_gpu_process_memory_used_bytes{" in text
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
        rules = tmp_path / "rules.yml"
        done = subprocess.run(
            [*torchenv_cmd("monitor", "rules", "--out", str(rules))],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        web = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{rules}']\n"
            "scrape_configs:\n  - job_name: torchenv\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{port}']\n"
        )
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            found = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not found:
                time.sleep(1)
                try:
                    found = query(web, "torchenv_gpus")
                except OSError:
                    assert server.poll() is None, server.communicate()[1][-2000:]
            assert found and found[0]["value"][1] == "2", found
            (up,) = query(web, 'up{job="torchenv"}')
            assert up["value"][1] == "1"
            groups = api(web, "rules")["data"]["groups"]
            loaded = [r for g in groups for r in g["rules"]]
            assert len(loaded) >= 8 and all(r["health"] in ("ok", "unknown") for r in loaded)
        finally:
            server.terminate()
            server.wait(20)


def api(port: int, path: str) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}/api/v1/{path}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def query(port: int, expr: str) -> list[dict[str, object]]:
    data = api(port, "query?query=" + urllib.parse.quote(expr))["data"]
    return data["result"]  # type: ignore[index, no-any-return]


def test_binds_loopback_only(tmp_path: Path) -> None:
    with exporter(tmp_path) as (port, _):
        names = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        outside = sorted(n for n in names if not n.startswith("127."))
        for address in outside:
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=1).close()
        assert "torchenv_gpus" in scrape(port)


def test_a_hanging_nvidia_smi_is_a_metric(tmp_path: Path) -> None:
    with exporter(tmp_path, "--interval", "0.5", hang=True) as (port, process):
        started = time.monotonic()
        text = scrape(port)  # a scrape is answered while the collection hangs
        assert time.monotonic() - started < 5
        assert process.poll() is None
        assert re.search(r'torchenv_exporter_collect_success\{source="[^"]+"\} 0\.0', text), text
