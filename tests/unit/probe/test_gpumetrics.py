"""probe.gpumetrics with a fake NVML module and a fake (or hanging, or failing) nvidia-smi: every
field read where the driver reports it, None where it does not, and an error instead of an
exception where nothing can be read."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from builders import FakeRunner, fake_tool, probe_context
from torchenv.models.monitor import THROTTLE_REASONS, GpuIdentity, ProcessReading
from torchenv.probe.gpumetrics import GPU_FIELDS, NvmlSource, SmiSource, collect_smi
from torchenv.probe.runner import RunResult, run

GIB = 1 << 30


# --------------------------------------------------------------------------- a fake pynvml
class NVMLError(Exception):
    def __init__(self, text: str = "Not Supported") -> None:
        super().__init__(text)


class NVMLError_NotSupported(NVMLError):  # pynvml's names
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


H100 = {
    "uuid": b"GPU-bc5610b9-79c8-fedd-8899-07539c7f868a",  # bytes: nvidia-ml-py < 11.515
    "name": "NVIDIA H100 80GB HBM3",
    "busId": "00000000:19:00.0",
    "utilization": SimpleNamespace(gpu=87, memory=42),
    "memory": SimpleNamespace(used=10 * GIB, total=80 * GIB, free=70 * GIB),
    "temperature": 64,
    "power": 312_500,  # mW
    "limit": 700_000,
    "clock_1": 1980,  # NVML_CLOCK_SM
    "clock_2": 2619,  # NVML_CLOCK_MEM
    "event_reasons": 0x4 | 0x40,
    "ecc_0": 3,  # corrected
    "ecc_1": 0,
    "pages_0": [],
    "pages_1": [0x1234000],
    "remapped": (2, 1, 0, 0),
    "mig": [0, 0],
    "processes": [
        SimpleNamespace(pid=4242, usedGpuMemory=8 * GIB),
        SimpleNamespace(pid=4343, usedGpuMemory=None),  # NVML_VALUE_NOT_AVAILABLE
    ],
}
# an old GeForce: name, UUID, bus id and memory, nothing else
GTX = {
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "name": b"GeForce GTX 770",
    "busId": b"00000000:3B:00.0",
    "memory": SimpleNamespace(used=GIB, total=2 * GIB, free=GIB),
}


def fake_pynvml(gpus: Sequence[dict[str, Any]], **overrides: Any) -> SimpleNamespace:
    """A module with pynvml's names; a field a GPU lacks raises NVMLError_NotSupported. The
    handle of a GPU is its index."""
    calls: list[str] = []

    def field(name: str) -> Callable[..., Any]:
        def get(handle: int, *args: Any) -> Any:
            calls.append(name)
            key = f"{name}_{args[0]}" if name in ("clock", "ecc", "pages") else name
            if name == "ecc":
                assert args[1] == 0  # NVML_VOLATILE_ECC
            if key not in gpus[handle]:
                raise NVMLError_NotSupported()
            return gpus[handle][key]

        return get

    def pci(handle: int) -> Any:
        return SimpleNamespace(busId=field("busId")(handle))

    def count() -> int:
        calls.append("count")
        return len(gpus)

    def temperature(handle: int, sensor: int) -> Any:
        assert sensor == 0  # NVML_TEMPERATURE_GPU
        return field("temperature")(handle)

    module = SimpleNamespace(
        calls=calls,
        NVMLError=NVMLError,
        NVMLError_NotSupported=NVMLError_NotSupported,
        NVML_TEMPERATURE_GPU=0,
        NVML_CLOCK_SM=1,
        NVML_CLOCK_MEM=2,
        NVML_MEMORY_ERROR_TYPE_CORRECTED=0,
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED=1,
        NVML_VOLATILE_ECC=0,
        NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS=0,
        NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR=1,
        NVML_DEVICE_MIG_ENABLE=1,
        nvmlInit=lambda: calls.append("init"),
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlSystemGetDriverVersion=lambda: b"580.159.03",
        nvmlSystemGetCudaDriverVersion_v2=lambda: 13000,
        nvmlDeviceGetCount=count,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetUUID=field("uuid"),
        nvmlDeviceGetName=field("name"),
        nvmlDeviceGetPciInfo=pci,
        nvmlDeviceGetUtilizationRates=field("utilization"),
        nvmlDeviceGetMemoryInfo=field("memory"),
        nvmlDeviceGetTemperature=temperature,
        nvmlDeviceGetPowerUsage=field("power"),
        nvmlDeviceGetEnforcedPowerLimit=field("limit"),
        nvmlDeviceGetClockInfo=field("clock"),
        nvmlDeviceGetCurrentClocksEventReasons=field("event_reasons"),
        nvmlDeviceGetCurrentClocksThrottleReasons=field("throttle_reasons"),
        nvmlDeviceGetTotalEccErrors=field("ecc"),
        nvmlDeviceGetRetiredPages=field("pages"),
        nvmlDeviceGetRemappedRows=field("remapped"),
        nvmlDeviceGetMigMode=field("mig"),
        nvmlDeviceGetComputeRunningProcesses=field("processes"),
    )
    for name, value in overrides.items():
        setattr(module, name, value)
    return module


def test_nvml_reads_every_field_and_none_where_the_gpu_lacks_it() -> None:
    nvml = fake_pynvml([H100, GTX])
    collection = NvmlSource(nvml).read()
    assert collection.error is None and collection.source == "nvml"
    assert (collection.driver, collection.cuda, collection.notes) == ("580.159.03", "13.0", ())
    h100, gtx = collection.gpus
    assert h100.identity == GpuIdentity(
        0, "GPU-bc5610b9-79c8-fedd-8899-07539c7f868a", "NVIDIA H100 80GB HBM3", "00000000:19:00.0"
    )
    assert h100.utilization_ratio == pytest.approx(0.87)
    assert h100.memory_utilization_ratio == pytest.approx(0.42)
    assert (h100.memory_used_bytes, h100.memory_total_bytes) == (10 * GIB, 80 * GIB)
    assert h100.temperature_celsius == 64
    assert h100.power_draw_watts == pytest.approx(312.5)
    assert h100.power_limit_watts == pytest.approx(700.0)
    assert (h100.sm_clock_hertz, h100.memory_clock_hertz) == (1980e6, 2619e6)
    assert h100.throttle_reasons is not None
    assert {THROTTLE_REASONS[bit] for bit in THROTTLE_REASONS if h100.throttle_reasons & bit} == {
        "sw_power_cap",
        "hw_thermal_slowdown",
    }
    assert (h100.ecc_corrected, h100.ecc_uncorrected) == (3, 0)
    assert (h100.retired_pages_single_bit, h100.retired_pages_double_bit) == (0, 1)
    assert (h100.remapped_rows_correctable, h100.remapped_rows_uncorrectable) == (2, 1)
    assert h100.mig_enabled is False
    assert h100.processes == (ProcessReading(4242, 8 * GIB), ProcessReading(4343, None))

    assert gtx.identity == GpuIdentity(
        1, "GPU-11111111-2222-3333-4444-555555555555", "GeForce GTX 770", "00000000:3B:00.0"
    )
    assert (gtx.memory_used_bytes, gtx.memory_total_bytes) == (GIB, 2 * GIB)
    missing = [
        "utilization_ratio",
        "memory_utilization_ratio",
        "temperature_celsius",
        "power_draw_watts",
        "power_limit_watts",
        "sm_clock_hertz",
        "memory_clock_hertz",
        "throttle_reasons",
        "ecc_corrected",
        "ecc_uncorrected",
        "retired_pages_single_bit",
        "retired_pages_double_bit",
        "remapped_rows_correctable",
        "remapped_rows_uncorrectable",
        "mig_enabled",
    ]
    assert {name: getattr(gtx, name) for name in missing} == dict.fromkeys(missing)
    assert gtx.processes == ()


def test_nvml_is_initialized_once_and_shut_down_on_close() -> None:
    nvml = fake_pynvml([H100])
    source = NvmlSource(nvml)
    for _ in range(3):
        assert source.read().error is None
    source.close()
    source.close()
    assert nvml.calls.count("init") == 1 and nvml.calls.count("shutdown") == 1


def test_throttle_reasons_of_an_older_nvidia_ml_py() -> None:
    nvml = fake_pynvml([{**H100, "throttle_reasons": 0x1}])
    del nvml.nvmlDeviceGetCurrentClocksEventReasons  # nvidia-ml-py < 12.535
    del nvml.nvmlDeviceGetRemappedRows  # older still
    (gpu,) = NvmlSource(nvml).read().gpus
    assert gpu.throttle_reasons == 0x1 and gpu.remapped_rows_correctable is None


def test_mig_enabled_and_a_mig_gpu_without_utilization() -> None:
    mig = {**H100, "mig": [1, 1]}
    del mig["utilization"]  # NVML answers NotSupported on a MIG-enabled GPU
    (gpu,) = NvmlSource(fake_pynvml([mig])).read().gpus
    assert gpu.mig_enabled is True and gpu.utilization_ratio is None


def test_nvml_init_failing_is_a_collection_error() -> None:
    def init() -> None:
        raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")

    nvml = fake_pynvml([H100], nvmlInit=init)
    source = NvmlSource(nvml)
    collection = source.read()
    assert collection.error == "nvml-unavailable" and collection.gpus == ()
    assert collection.detail == "nvmlInit failed: NVML Shared Library Not Found"
    source.close()  # never opened: nothing to shut down
    assert "shutdown" not in nvml.calls


def test_device_count_failing_is_a_collection_error_and_nvml_is_opened_again() -> None:
    nvml = fake_pynvml([H100])
    answers: list[Any] = [NVMLError("GPU is lost"), 1]

    def count() -> int:
        nvml.calls.append("count")
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    nvml.nvmlDeviceGetCount = count
    nvml.nvmlInit = lambda: nvml.calls.append("init")
    nvml.nvmlShutdown = lambda: nvml.calls.append("shutdown")
    source = NvmlSource(nvml)
    failed = source.read()
    assert (failed.error, failed.detail) == ("failed", "nvmlDeviceGetCount failed: GPU is lost")
    assert source.read().error is None
    assert nvml.calls.count("init") == 2 and nvml.calls.count("shutdown") == 1


def test_a_gpu_without_a_handle_is_a_note() -> None:
    def handle(index: int) -> int:
        if index == 0:
            raise NVMLError("GPU is lost")
        return index

    collection = NvmlSource(fake_pynvml([H100, GTX], nvmlDeviceGetHandleByIndex=handle)).read()
    assert [g.identity.index for g in collection.gpus] == [1]
    assert collection.notes == ("GPU 0: GPU is lost",)


def test_real_nvidia_ml_py_never_raises() -> None:
    """On this machine without a driver: an error; on a GPU machine: readings."""
    source = NvmlSource()
    collection = source.read()
    source.close()
    assert collection.source == "nvml"
    assert collection.error in (None, "nvml-unavailable"), collection.detail


# --------------------------------------------------------------------------- nvidia-smi
SMI_H100 = {
    "index": "0",
    "uuid": "GPU-bc5610b9-79c8-fedd-8899-07539c7f868a",
    "pci.bus_id": "00000000:19:00.0",
    "driver_version": "580.159.03",
    "utilization.gpu": "87",
    "utilization.memory": "42",
    "memory.used": "10240",
    "memory.total": "81559",
    "temperature.gpu": "64",
    "power.draw": "312.50",
    "enforced.power.limit": "700.00",
    "power.limit": "700.00",
    "clocks.sm": "1980",
    "clocks.mem": "2619",
    "clocks_event_reasons.active": "0x0000000000000004",
    "clocks_throttle_reasons.active": "0x0000000000000004",
    "ecc.errors.corrected.volatile.total": "3",
    "ecc.errors.uncorrected.volatile.total": "0",
    "retired_pages.single_bit_ecc.count": "[N/A]",
    "retired_pages.double_bit.count": "[N/A]",
    "mig.mode.current": "Disabled",
    "name": "NVIDIA H100 80GB HBM3",
}
SMI_OLD = {
    **dict.fromkeys(SMI_H100, "[Not Supported]"),
    "index": "1",
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "pci.bus_id": "00000000:3B:00.0",
    "driver_version": "580.159.03",
    "memory.used": "1024",
    "memory.total": "2048",
    "power.draw": "N/A",
    "mig.mode.current": "[N/A]",
    "name": "Quadro RTX 5000, rev. A",  # a comma in the name
}
APPS = (
    "GPU-bc5610b9-79c8-fedd-8899-07539c7f868a, 4242, 8192, /opt/envs/train/bin/python\n"
    "GPU-bc5610b9-79c8-fedd-8899-07539c7f868a, 4343, [N/A], python3, a, b\n"
)


def smi(rows: Sequence[dict[str, str]], known: set[str] | None = None, apps: str = APPS) -> Any:
    """A fake nvidia-smi answering the fields asked for, as `Field "x" is not a valid field
    to query.` (exit 2) for the first it does not know."""

    def handler(argv: list[str]) -> RunResult:
        query = argv[1]
        if query.startswith("--query-compute-apps="):
            return RunResult(tuple(argv), 0, apps)
        fields = query.removeprefix("--query-gpu=").split(",")
        for field in fields:
            if known is not None and field not in known:
                out = f'Field "{field}" is not a valid field to query.\n\n'
                return RunResult(tuple(argv), 2, out)
        lines = [", ".join(row[f] for f in fields) for row in rows]
        return RunResult(tuple(argv), 0, "\n".join(lines) + "\n")

    return handler


def smi_context(tmp_path: Path, handler: Any) -> tuple[Any, FakeRunner]:
    runner = FakeRunner()
    runner.on(lambda argv: argv[0].endswith("/nvidia-smi"), handler)
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    return ctx, runner


def test_smi_two_gpus_with_na_values_and_a_comma_in_a_name(tmp_path: Path) -> None:
    ctx, runner = smi_context(tmp_path, smi([SMI_H100, SMI_OLD]))
    collection = collect_smi(ctx)
    assert collection.error is None and collection.source == "nvidia-smi"
    assert collection.driver == "580.159.03" and collection.notes == ()
    h100, old = collection.gpus
    assert h100.identity == GpuIdentity(
        0, "GPU-bc5610b9-79c8-fedd-8899-07539c7f868a", "NVIDIA H100 80GB HBM3", "00000000:19:00.0"
    )
    assert h100.utilization_ratio == pytest.approx(0.87)
    assert (h100.memory_used_bytes, h100.memory_total_bytes) == (10240 << 20, 81559 << 20)
    assert (h100.power_draw_watts, h100.power_limit_watts) == (312.5, 700.0)
    assert (h100.sm_clock_hertz, h100.memory_clock_hertz) == (1980e6, 2619e6)
    assert (h100.throttle_reasons, h100.ecc_corrected, h100.ecc_uncorrected) == (4, 3, 0)
    assert h100.retired_pages_single_bit is None and h100.mig_enabled is False
    assert h100.processes == (
        ProcessReading(4242, 8192 << 20, process="python"),
        ProcessReading(4343, None, process="python3, a, b"),
    )
    assert old.identity.name == "Quadro RTX 5000, rev. A" and old.identity.index == 1
    assert (old.memory_used_bytes, old.memory_total_bytes) == (1 << 30, 2 << 30)
    assert old.utilization_ratio is None and old.power_draw_watts is None
    assert old.throttle_reasons is None and old.mig_enabled is None and old.processes == ()
    query = runner.calls[0][1]
    assert query.endswith(",name") and query.count(",") == len(GPU_FIELDS)


def test_smi_fields_an_old_driver_does_not_know(tmp_path: Path) -> None:
    known = set(SMI_H100) - {"clocks_event_reasons.active", "mig.mode.current"}
    ctx, runner = smi_context(tmp_path, smi([SMI_H100], known))
    source = SmiSource(ctx)
    (gpu,) = source.read().gpus
    assert gpu.throttle_reasons == 4  # asked again as clocks_throttle_reasons.active
    assert gpu.mig_enabled is None and gpu.ecc_corrected == 3
    assert "mig.mode.current" not in source.fields
    assert len(runner.calls) == 4  # three GPU queries, one of the processes
    assert source.read().error is None
    assert len(runner.calls) == 6  # the driver's fields are known now


def test_smi_not_on_path(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    collection = collect_smi(ctx)
    assert (collection.error, collection.gpus) == ("not-found", ())


def test_smi_exit_code_is_failed_with_the_first_lines(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path, runner=FakeRunner())
    ctx.runner = run
    script = tmp_path / "bin" / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the "
        'NVIDIA driver."\necho "Make sure that the latest NVIDIA driver is installed."\nexit 9\n'
    )
    script.chmod(0o755)
    collection = collect_smi(ctx)
    assert collection.error == "failed"
    assert collection.detail.startswith("nvidia-smi exit code 9: NVIDIA-SMI has failed")
    assert "latest NVIDIA driver" in collection.detail


def test_hanging_smi_is_a_timeout(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    ctx.runner = run
    script = tmp_path / "bin" / "nvidia-smi"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    start = time.monotonic()
    collection = collect_smi(ctx, timeout=0.5)
    assert time.monotonic() - start < 3
    assert collection.error == "timeout" and "timed out" in collection.detail


def test_smi_processes_failing_keeps_the_gpus(tmp_path: Path) -> None:
    def handler(argv: list[str]) -> RunResult:
        if argv[1].startswith("--query-compute-apps"):
            return RunResult(tuple(argv), 15, "", "Unable to query processes")
        return smi([SMI_H100])(argv)

    ctx, _ = smi_context(tmp_path, handler)
    collection = collect_smi(ctx)
    assert collection.error is None and len(collection.gpus) == 1
    assert collection.gpus[0].processes == ()
    assert collection.notes[0].startswith("processes not read: nvidia-smi exit code 15")


def test_smi_without_gpus_and_with_garbage(tmp_path: Path) -> None:
    def none(argv: list[str]) -> RunResult:
        return RunResult(tuple(argv), 6, "No devices were found\n")

    ctx, _ = smi_context(tmp_path, none)
    collection = collect_smi(ctx)
    assert collection.error is None and collection.gpus == ()

    def garbage(argv: list[str]) -> RunResult:
        return RunResult(tuple(argv), 0, "\x1b[2Jnot, csv\n")

    ctx, _ = smi_context(tmp_path, garbage)
    collection = collect_smi(ctx)
    assert collection.error == "failed" and "\x1b" not in collection.detail


def test_smi_stray_warning_line_keeps_the_gpus(tmp_path: Path) -> None:
    def handler(argv: list[str]) -> RunResult:
        result = smi([SMI_H100])(argv)
        if argv[1].startswith("--query-gpu"):
            warning = "WARNING: infoROM is corrupted at gpu 0000:19:00.0\n"
            return RunResult(result.argv, 0, warning + result.stdout)
        return result

    ctx, _ = smi_context(tmp_path, handler)
    collection = collect_smi(ctx)
    assert len(collection.gpus) == 1
    assert collection.notes == (
        "nvidia-smi: not a GPU row: 'WARNING: infoROM is corrupted at gpu 0000:19:00.0'",
    )


def test_values_out_of_range_are_left_out_not_fatal() -> None:
    from torchenv.probe.gpumetrics import _count, _scaled

    assert _scaled("1e400", 1.0) is None and _scaled("nan", 1.0) is None
    assert _scaled("inf", 1.0) is None and _scaled("12.5", 2.0) == 25.0
    assert _count(float("inf")) is None and _count("7") == 7
