"""What a scrape of `torchenv monitor serve` costs, with 8 GPUs, against nvidia-smi's own query.

The exporter reads the GPUs in a thread of its own; a scrape only turns the latest reading into
the exposition text. Measured here, in one process:
- a collection: NvmlSource.read() over a fake NVML module with 8 H100s (every field answered,
  4 processes each) plus the /proc lookup of the processes' environments (this process's pid,
  so /proc is really read);
- a scrape: an HTTP GET of /metrics from the running exporter on 127.0.0.1, wall time and the
  process's CPU time per scrape;
- nvidia-smi's own `--query-gpu` of the same fields, where nvidia-smi exists (on a GPU machine;
  the fake NVML stands in for the driver's microsecond calls, so the collection figure here is
  torchenv's own work, not the driver's).

    python benchmarks/bench_monitor.py [--scrapes 500]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import threading
import time
import urllib.request
from types import SimpleNamespace
from typing import Any

from torchenv.commands.monitor import Monitor, serve, with_environments
from torchenv.probe.gpumetrics import NvmlSource
from torchenv.probe.procenv import ProcessEnvironments

GIB = 1 << 30


class NVMLError(Exception):
    pass


def fake_pynvml(count: int) -> Any:
    """The calls NvmlSource makes, answered for ``count`` H100s at once."""
    me = os.getpid()

    def gpu(handle: int) -> int:
        return handle

    return SimpleNamespace(
        NVMLError=NVMLError,
        NVML_TEMPERATURE_GPU=0,
        NVML_CLOCK_SM=1,
        NVML_CLOCK_MEM=2,
        NVML_MEMORY_ERROR_TYPE_CORRECTED=0,
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED=1,
        NVML_VOLATILE_ECC=0,
        NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS=0,
        NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR=1,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlSystemGetDriverVersion=lambda: "580.65.06",
        nvmlSystemGetCudaDriverVersion_v2=lambda: 13000,
        nvmlDeviceGetCount=lambda: count,
        nvmlDeviceGetHandleByIndex=gpu,
        nvmlDeviceGetName=lambda h: "NVIDIA H100 80GB HBM3",
        nvmlDeviceGetUUID=lambda h: f"GPU-{h:08x}-0000-0000-0000-000000000000",
        nvmlDeviceGetPciInfo=lambda h: SimpleNamespace(busId=f"00000000:{h + 16:02X}:00.0"),
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=87, memory=42),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=60 * GIB, total=80 * GIB),
        nvmlDeviceGetTemperature=lambda h, s: 64,
        nvmlDeviceGetPowerUsage=lambda h: 650_000,
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 700_000,
        nvmlDeviceGetClockInfo=lambda h, c: 1980 if c == 1 else 2619,
        nvmlDeviceGetCurrentClocksEventReasons=lambda h: 0x4,
        nvmlDeviceGetTotalEccErrors=lambda h, t, c: 0,
        nvmlDeviceGetRetiredPages=lambda h, c: [],
        nvmlDeviceGetRemappedRows=lambda h: (0, 0, 0, 0),
        nvmlDeviceGetMigMode=lambda h: (0, 0),
        nvmlDeviceGetComputeRunningProcesses=lambda h: [
            SimpleNamespace(pid=me, usedGpuMemory=15 * GIB) for _ in range(4)
        ],
    )


def smi_query_seconds(runs: int) -> list[float] | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    fields = (
        "index,uuid,pci.bus_id,utilization.gpu,utilization.memory,memory.used,memory.total,"
        "temperature.gpu,power.draw,enforced.power.limit,clocks.sm,clocks.mem,"
        "clocks_event_reasons.active,ecc.errors.corrected.volatile.total,"
        "ecc.errors.uncorrected.volatile.total,mig.mode.current,name"
    )
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [smi, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--scrapes", type=int, default=500)
    args = parser.parse_args()

    source = NvmlSource(fake_pynvml(args.gpus))
    environments = ProcessEnvironments()

    def read() -> Any:
        return with_environments(source.read(), environments)

    collections = []
    for _ in range(200):
        started = time.perf_counter()
        read()
        collections.append(time.perf_counter() - started)

    monitor = Monitor(read, "bench")
    monitor.collect_once()
    stop, port = threading.Event(), []
    thread = threading.Thread(
        target=serve,
        args=(None,),  # no probe context: the reader is given
        kwargs={
            "listen": "127.0.0.1",
            "port": 0,
            "interval": 3600.0,  # one collection: the scrapes alone are timed
            "torchenv": "bench",
            "progress": lambda _: None,
            "stop": stop,
            "ready": port.append,
            "reader": (read, lambda: None),
        },
        daemon=True,
    )
    thread.start()
    while not port:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port[0]}/metrics"
    size = len(urllib.request.urlopen(url, timeout=5).read())
    walls = []
    cpu_before = time.process_time()
    for _ in range(args.scrapes):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=5) as answer:
            answer.read()
        walls.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu_before) / args.scrapes
    stop.set()
    thread.join(10)

    ms = 1000.0
    print(f"{args.gpus} fake GPUs, {args.scrapes} scrapes, exposition {size / 1024:.1f} KiB")
    collection = statistics.median(collections) * ms
    print(f"collection (NVML calls + /proc lookups): median {collection:.2f} ms")
    print(
        f"scrape over HTTP: median {statistics.median(walls) * ms:.2f} ms, "
        f"min {min(walls) * ms:.2f} ms; CPU per scrape {cpu * ms:.2f} ms "
        "(client and server in one process)"
    )
    smi = smi_query_seconds(20)
    if smi is None:
        print("nvidia-smi --query-gpu: not on this machine (no driver): run on a GPU machine")
    else:
        print(f"nvidia-smi --query-gpu: median {statistics.median(smi) * ms:.1f} ms")


if __name__ == "__main__":
    main()
