from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from builders import FakeRunner, fake_tool, fixture_text, probe_context
from torchenv.models import Gpu, ProbeNote
from torchenv.probe.machine import probe_machine
from torchenv.probe.nvidia import (
    QUERY_FIELDS,
    cuda_version_from_int,
    explain_smi_failure,
    parse_proc_version,
    parse_smi_query,
    probe_device_nodes,
    probe_driver_and_gpus,
    probe_pci_device_ids,
    probe_pci_nvidia,
)
from torchenv.probe.nvml import NvmlReading, NvmlUnavailable
from torchenv.probe.runner import RunResult


def test_parse_query_two_h100() -> None:
    gpus, driver, skipped = parse_smi_query(fixture_text("nvidia", "query-h100x2.csv"))
    assert skipped == []
    assert driver == "580.159.03"
    assert gpus[1] == Gpu(
        1,
        "NVIDIA H100 80GB HBM3",
        "GPU-8c35f4c9-4dff-c9a2-866f-afb5d82e1dd7",
        "9.0",
        81559,
        "00000000:3B:00.0",
    )


def test_parse_query_placeholders_become_none() -> None:
    (gpu,), driver, _ = parse_smi_query(fixture_text("nvidia", "query-gtx770-not-supported.csv"))
    assert gpu.compute_capability is None and gpu.memory_total_mib is None
    assert gpu.name == "GeForce GTX 770" and driver == "470.182.03"


def test_parse_query_keeps_the_gpus_around_a_stray_line() -> None:
    text = "WARNING: infoROM is corrupted at gpu 0000:19:00.0\n" + fixture_text(
        "nvidia", "query-h100x2.csv"
    ).replace("81559", "N/A", 1)
    gpus, _, skipped = parse_smi_query(text)
    assert len(gpus) == 2 and gpus[0].memory_total_mib is None
    assert skipped == ["WARNING: infoROM is corrupted at gpu 0000:19:00.0"]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("proc-version-open-565.txt", ("565.57.01", "open")),
        ("proc-version-open-525.txt", ("525.60.11", "open")),
        ("proc-version-proprietary-515.txt", ("515.76", "proprietary")),
    ],
)
def test_parse_proc_version(fixture: str, expected: tuple[str, str]) -> None:
    assert parse_proc_version(fixture_text("nvidia", fixture)) == expected


def test_explain_smi_failures() -> None:
    assert "kernel module not loaded" in explain_smi_failure(
        fixture_text("nvidia", "smi-no-driver.txt")
    )
    assert explain_smi_failure(fixture_text("nvidia", "smi-mismatch-570.txt")) == (
        "driver/library version mismatch (user-space NVML 570.124)"
    )
    assert explain_smi_failure(fixture_text("nvidia", "smi-mismatch-470.txt")) == (
        "driver/library version mismatch"
    )


def test_cuda_version_encoding() -> None:
    assert cuda_version_from_int(12080) == "12.8"
    assert cuda_version_from_int(13000) == "13.0"


def test_nvml_is_used_first(tmp_path: Path) -> None:
    reading = NvmlReading("580.65.06", 13000, (Gpu(0, "NVIDIA B200", None, "10.0"),))
    runner = FakeRunner()
    ctx, _ = probe_context(tmp_path, runner, nvml=reading)
    fake_tool(tmp_path, "nvidia-smi")
    driver, gpus = probe_driver_and_gpus(ctx)
    assert (driver.version, driver.cuda_driver_api, driver.source) == ("580.65.06", "13.0", "nvml")
    assert gpus == reading.gpus
    assert runner.calls == []  # no subprocess when NVML answers


def test_falls_back_to_nvidia_smi_when_nvml_is_missing(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on_program("nvidia-smi", fixture_text("nvidia", "query-h100x2.csv"))
    ctx, host = probe_context(
        tmp_path, runner, nvml=NvmlUnavailable("NVML Shared Library Not Found")
    )
    fake_tool(tmp_path, "nvidia-smi")
    host.nvidia_driver("580.159.03")
    driver, gpus = probe_driver_and_gpus(ctx)
    assert driver.source == "nvidia-smi" and driver.version == "580.159.03"
    assert driver.kernel_module == "580.159.03" and driver.kernel_module_flavor == "open"
    assert [g.compute_capability for g in gpus] == ["9.0", "9.0"]
    assert driver.notes[0].source == "nvml"
    argv = runner.calls[0]
    assert argv[1] == "--query-gpu=" + ",".join((*QUERY_FIELDS, "name"))


def test_old_driver_without_compute_cap_is_asked_again(tmp_path: Path) -> None:
    runner = FakeRunner()
    old = fixture_text("nvidia", "query-old-driver-no-cc.csv")

    def smi(argv: list[str]) -> RunResult:
        if "compute_cap" in argv[1]:
            return RunResult(tuple(argv), 2, fixture_text("nvidia", "smi-no-compute-cap.txt"), "")
        return RunResult(tuple(argv), 0, old, "")

    runner.on(lambda a: a[0].endswith("nvidia-smi"), smi)
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    driver, gpus = probe_driver_and_gpus(ctx)
    assert len(runner.calls) == 2
    assert gpus[0].name == "GeForce GTX 1660 Ti" and gpus[0].compute_capability is None
    assert driver.version == "470.182.03"


def test_hanging_nvidia_smi_becomes_a_note(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on_program("nvidia-smi", error="timed out after 10s")
    ctx, host = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    host.nvidia_driver("550.144.03")
    driver, gpus = probe_driver_and_gpus(ctx)
    assert gpus == ()
    assert driver.version == "550.144.03" and driver.source == "/sys/module/nvidia/version"
    assert any(n.message == "timed out after 10s" for n in driver.notes)


def test_driver_not_loaded(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on_program("nvidia-smi", fixture_text("nvidia", "smi-no-driver.txt"), returncode=9)
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    driver, gpus = probe_driver_and_gpus(ctx)
    assert driver.version is None and gpus == ()
    messages = [n.message for n in driver.notes]
    assert any("cannot communicate with the NVIDIA driver" in m for m in messages)


def test_no_gpu_tools_at_all(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    driver, gpus = probe_driver_and_gpus(ctx)
    assert driver.version is None and gpus == ()
    assert [n.source for n in driver.notes] == ["nvidia-smi", "kernel module"]


def test_pci_devices_and_nodes(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.pci_gpu("0000:19:00.0")
    host.write("/sys/bus/pci/devices/0000:00:1f.6/vendor", "0x8086\n")
    host.write("/sys/bus/pci/devices/0000:00:1f.6/class", "0x020000\n")
    host.write("/sys/bus/pci/devices/0000:1a:00.1/vendor", "0x10de\n")  # NVIDIA audio function
    host.write("/sys/bus/pci/devices/0000:1a:00.1/class", "0x040300\n")
    host.device_nodes("nvidia0", "nvidiactl", "nvidia-uvm")
    assert probe_pci_nvidia(ctx) == ("0000:19:00.0",)
    assert probe_device_nodes(ctx) == ("/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl")


def test_pci_device_ids(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.pci_gpu("0000:01:00.0", device="0x1B80")  # GTX 1080
    host.pci_gpu("0000:02:00.0", device="garbage")
    host.pci_gpu("0000:03:00.0")
    host.write("/sys/bus/pci/devices/0000:03:00.0/device", "")
    pci = ("0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0")
    assert probe_pci_device_ids(ctx, pci) == ("1b80", "", "", "")


def test_the_machine_lists_each_device_id_beside_its_address(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.pci_gpu("0000:19:00.0", device="0x2330")
    host.pci_gpu("0000:1a:00.0", device="0x1db4")
    host.write("/sys/bus/pci/devices/0000:00:1f.6/vendor", "0x8086\n")
    host.write("/sys/bus/pci/devices/0000:00:1f.6/class", "0x020000\n")
    host.write("/sys/bus/pci/devices/0000:00:1f.6/device", "0x15b8\n")
    m = probe_machine(ctx)
    assert m.pci_nvidia_devices == ("0000:19:00.0", "0000:1a:00.0")
    assert m.pci_nvidia_device_ids == ("2330", "1db4")


def test_nvml_is_not_imported_when_its_library_is_absent(tmp_path: Path) -> None:
    calls = []

    def nvml() -> NvmlReading:
        calls.append(1)
        raise AssertionError("must not be called")

    ctx, _ = probe_context(tmp_path)
    ctx.nvml = nvml
    driver, _ = probe_driver_and_gpus(ctx, nvml_library=False)
    assert calls == [] and "not in the loader" in driver.notes[0].message


def test_hanging_nvml_call_times_out(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def stuck() -> NvmlReading:
        release.wait(30)
        raise NvmlUnavailable("released")

    ctx, _ = probe_context(tmp_path)
    ctx.nvml, ctx.tool_timeout = stuck, 0.2
    driver, _ = probe_driver_and_gpus(ctx)
    release.set()
    assert driver.notes[0] == ProbeNote("nvml", "timed out after 0.2s")


def _no_fork() -> int:
    raise AssertionError("a child process was forked although the library is absent")


def test_no_child_process_when_the_driver_libraries_are_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case of a machine without a GPU stays fast: no fork to load NVML or
    libcuda when the loader would not find them (probe.ldcache)."""
    from torchenv.probe.machine import probe_machine

    def must_not_run() -> Any:
        raise AssertionError("must not be called")

    runner = FakeRunner()
    runner.on_program("nvidia-smi", fixture_text("nvidia", "query-h100x2.csv"))
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")  # works, yet neither library can be loaded
    ctx.nvml, ctx.libcuda = must_not_run, must_not_run
    monkeypatch.setattr(os, "fork", _no_fork)
    machine = probe_machine(ctx)
    assert len(machine.gpus) == 2 and machine.driver.cuda_driver_api is None
    assert ProbeNote("nvml", "libnvidia-ml.so.1 is not in the loader's search path") in (
        machine.driver.notes
    )
    assert ProbeNote("libcuda.so.1", "not in the loader's search path") in machine.driver.notes


def test_libcuda_is_asked_when_the_loader_finds_it(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on_program("nvidia-smi", fixture_text("nvidia", "query-h100x2.csv"))
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    ctx.libcuda = _cuda_13_0
    driver, _ = probe_driver_and_gpus(ctx, nvml_library=False, libcuda_library=True)
    assert driver.cuda_driver_api == "13.0"


def _cuda_13_0() -> int:
    return 13000
