"""The exporter of `torchenv monitor serve` with collections made here: what it serves, what it
leaves out, how failures show, that it binds loopback unless told, and that memory stays
bounded over many scrapes."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import urllib.request
from pathlib import Path

import pytest

from builders import probe_context
from torchenv.commands.monitor import Monitor, check_listen, serve
from torchenv.errors import UsageError
from torchenv.models.monitor import (
    METRIC_NAMES,
    Collection,
    GpuIdentity,
    GpuReading,
    ProcessReading,
)

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

H100 = GpuIdentity(0, "GPU-0f1e", "NVIDIA H100 80GB HBM3", "00000000:18:00.0")
OLD = GpuIdentity(1, "GPU-77aa", 'Tesla K80, rev "b"\n', "00000000:3B:00.0")


def two_gpus() -> Collection:
    full = GpuReading(
        H100,
        utilization_ratio=0.97,
        memory_utilization_ratio=0.5,
        memory_used_bytes=70 << 30,
        memory_total_bytes=80 << 30,
        temperature_celsius=71,
        power_draw_watts=650.5,
        power_limit_watts=700,
        sm_clock_hertz=1.98e9,
        memory_clock_hertz=2.6e9,
        throttle_reasons=0x4 | 0x40,
        ecc_corrected=3,
        ecc_uncorrected=0,
        remapped_rows_correctable=1,
        remapped_rows_uncorrectable=0,
        mig_enabled=False,
        processes=(
            ProcessReading(4242, 60 << 30, "python", "/srv/envs/vision", "2.13.0+cu130", "cu130"),
            ProcessReading(77, None, "\x1b[31mevil\x07", "", "", ""),
        ),
    )
    sparse = GpuReading(OLD, memory_total_bytes=12 << 30)  # a GPU that reports little
    return Collection("nvml", (full, sparse), driver="580.65.06", cuda="13.0")


def exposition(monitor: Monitor) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(monitor)  # type: ignore[arg-type]
    return generate_latest(registry).decode("utf-8")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_serves_what_was_read_and_leaves_out_what_was_not() -> None:
    monitor = Monitor(two_gpus, "0.1.0")
    monitor.collect_once()
    served = samples(exposition(monitor))
    assert set(served) <= METRIC_NAMES
    temps = served["torchenv_gpu_temperature_celsius"]
    assert [(labels["gpu"], value) for labels, value in temps] == [("0", 71.0)]  # not 0 for gpu1
    assert len(served["torchenv_gpu_memory_total_bytes"]) == 2
    throttled = {lab["reason"]: v for lab, v in served["torchenv_gpu_throttle_active"]}
    assert throttled["sw_power_cap"] == 1 and throttled["hw_thermal_slowdown"] == 1
    assert throttled["gpu_idle"] == 0
    process = [lab for lab, _ in served["torchenv_gpu_process_memory_used_bytes"]]
    assert process == [
        {
            "gpu": "0",
            "uuid": "GPU-0f1e",
            "name": "NVIDIA H100 80GB HBM3",
            "pci_bus_id": "00000000:18:00.0",
            "pid": "4242",
            "process": "python",
            "environment": "/srv/envs/vision",
            "torch": "2.13.0+cu130",
            "variant": "cu130",
        }
    ]  # the process without a memory figure is left out
    names = {lab["name"] for lab, _ in served["torchenv_gpu_info"]}
    assert all("\n" not in n and "\x1b" not in n for n in names)
    peak = served["torchenv_gpu_published_peak_bf16_flops"]
    assert [lab["gpu"] for lab, _ in peak] == ["0"] and peak[0][1] > 5e14  # H100: ~989 TFLOP/s
    (build,) = served["torchenv_build_info"]
    assert build[0] == {
        "driver": "580.65.06",
        "cuda": "13.0",
        "torchenv": "0.1.0",
        "source": "nvml",
    }
    assert served["torchenv_exporter_collect_success"] == [({"source": "nvml"}, 1.0)]


def test_a_failing_source_is_a_metric_not_a_crash() -> None:
    answers = [
        Collection("nvidia-smi", error="timeout", detail="nvidia-smi did not answer in 5 s"),
        Collection("nvidia-smi", error="timeout", detail="again"),
    ]

    def broken() -> Collection:
        if answers:
            return answers.pop(0)
        raise RuntimeError("driver gone")

    monitor = Monitor(broken, "0.1.0")
    for _ in range(3):
        monitor.collect_once()
    served = samples(exposition(monitor))
    errors = {
        (lab["source"], lab["reason"]): v
        for lab, v in served["torchenv_exporter_collect_errors_total"]
    }
    assert errors == {("nvidia-smi", "timeout"): 2.0, ("torchenv", "internal"): 1.0}
    assert served["torchenv_exporter_collect_success"] == [({"source": "torchenv"}, 0.0)]
    assert "torchenv_gpus" not in served and "torchenv_build_info" not in served


def test_memory_stays_bounded_over_ten_thousand_scrapes() -> None:
    pids = iter(range(10**9))

    def changing() -> Collection:
        # every collection sees a new process: nothing of the old ones may stay behind
        gpu = GpuReading(H100, memory_used_bytes=1, processes=(ProcessReading(next(pids), 1),))
        return Collection("nvml", (gpu,), driver="580", cuda="13.0")

    monitor = Monitor(changing, "0.1.0")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(monitor)  # type: ignore[arg-type]
    for _ in range(500):  # warm caches (peaks, the client's own)
        monitor.collect_once()
        generate_latest(registry)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(10_000):
        monitor.collect_once()
        generate_latest(registry)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 256 * 1024, f"{grown} bytes more after 10,000 scrapes"


def test_binds_loopback_and_serves_over_http(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    stop, port = threading.Event(), []
    thread = threading.Thread(
        target=serve,
        args=(ctx,),
        kwargs={
            "listen": "127.0.0.1",
            "port": 0,
            "interval": 0.2,
            "torchenv": "0.1.0",
            "progress": lambda _: None,
            "stop": stop,
            "ready": port.append,
            "reader": (two_gpus, lambda: None),
        },
        daemon=True,
    )
    thread.start()
    try:
        for _ in range(100):
            if port:
                break
            threading.Event().wait(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port[0]}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        assert "torchenv_gpu_utilization_ratio{" in text
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_listen_addresses() -> None:
    assert check_listen("127.0.0.1") == [] and check_listen("::1") == []
    (warning,) = check_listen("0.0.0.0")  # noqa: S104
    assert "anyone who reaches this port" in warning
    with pytest.raises(UsageError, match="not an IP address"):
        check_listen("localhost; rm -rf /")


def test_a_collection_that_hangs_withdraws_the_readings() -> None:
    """NVML calls have no timeout: a wedged driver must not leave old readings served as
    fresh."""
    release = threading.Event()
    first = [True]

    def wedged() -> Collection:
        if first[0]:
            first[0] = False
            return two_gpus()
        release.wait(30)
        return two_gpus()

    monitor = Monitor(wedged, "0.1.0", hung_after=0.2)
    monitor.collect_once()
    worker = threading.Thread(target=monitor.collect_once, daemon=True)
    worker.start()
    threading.Event().wait(0.5)
    served = samples(exposition(monitor))
    again = samples(exposition(monitor))
    release.set()
    worker.join(10)
    assert "torchenv_gpu_info" not in served
    assert served["torchenv_exporter_collect_success"] == [({"source": "nvml"}, 0.0)]
    counted = [v for _, v in again["torchenv_exporter_collect_errors_total"]]
    assert counted == [1.0]  # counted once, however often it is scraped
    assert "torchenv_gpu_info" in samples(exposition(monitor))
