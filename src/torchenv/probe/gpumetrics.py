"""The GPUs' current state for ``torchenv monitor``: one ``models.monitor.Collection`` per
scrape, from NVML (``NvmlSource``) or, where NVML cannot be loaded, from ``nvidia-smi``
(``SmiSource``, ``collect_smi``). The labels of the GPU processes (environment, torch) are
``probe.procenv``'s: the caller adds them, with one cache for every source.

Nothing here raises for what the driver does: a field the GPU or driver does not report is None
(the exporter leaves that series out), and a source that cannot be read at all is a Collection
whose ``error`` says why ("nvml-unavailable", "not-found", "timeout", "failed"). Names are
those of nvml.h (through nvidia-ml-py, module ``pynvml``) and of ``nvidia-smi
--help-query-gpu`` / ``--help-query-compute-apps``.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from torchenv.models.monitor import Collection, GpuIdentity, GpuReading, ProcessReading
from torchenv.probe.context import ProbeContext
from torchenv.probe.nvidia import cuda_version_from_int
from torchenv.probe.procenv import label_value
from torchenv.probe.runner import RunResult
from torchenv.untrusted.text import printable

MIB = 1 << 20  # nvidia-smi's "MiB" with nounits
MHZ = 1_000_000
DETAIL_LINES = 3  # lines of a failing tool's output kept in Collection.detail


def _text(value: Any) -> str:
    """A string NVML returns: bytes in nvidia-ml-py < 11.515, str after (convertStrBytes)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
    return label_value(text)


def _scaled(value: Any, factor: float) -> float | None:
    try:
        number = float(value) * factor if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is None or math.isfinite(number) else None


def _pair(value: Any) -> tuple[Any, Any]:  # of what NVML returns as a tuple (or a list)
    if isinstance(value, list | tuple) and len(value) >= 2:
        return value[0], value[1]
    return None, None


def _count(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


class NvmlSource:
    """NVML, initialized once (``nvmlInit`` on the first ``read``) and kept open between
    scrapes; ``close`` shuts it down. ``pynvml``: the module to use (tests pass a fake);
    by default nvidia-ml-py is imported on the first read.

    A read after a failure of the device count initializes NVML afresh, so the exporter
    recovers once a reloaded driver answers again. Not thread-safe: one scrape at a time."""

    def __init__(self, pynvml: Any = None) -> None:
        self._nvml = pynvml
        self._open = False

    def close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()

    def _init(self) -> str | None:
        """Why NVML cannot be used, or None once it is initialized."""
        if self._open:
            return None
        if self._nvml is None:
            try:
                import pynvml  # noqa: PLC0415  (only a collection that asks for NVML needs it)
            except ImportError as exc:
                return f"nvidia-ml-py is not importable: {exc}"
            self._nvml = pynvml
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError as exc:  # NVMLError_LibraryNotFound without a driver
            return f"nvmlInit failed: {exc}"
        except OSError as exc:  # some versions surface loader failures directly
            return f"cannot load libnvidia-ml: {exc}"
        self._open = True
        return None

    def _call(self, name: str, *args: Any) -> Any:
        """``pynvml.<name>(*args)``, or None when the driver does not answer it
        (NVMLError_NotSupported, _NoPermission, _FunctionNotFound of an older driver, ...) or
        this nvidia-ml-py lacks the function."""
        function = getattr(self._nvml, name, None)
        if function is None:
            return None
        try:
            return function(*args)
        except self._nvml.NVMLError:
            return None

    def _const(self, name: str, default: int) -> Any:
        # the defaults are nvml.h's values, for a module (or a fake) that lacks the name
        return getattr(self._nvml, name, default)

    def read(self) -> Collection:
        start = time.monotonic()

        def done(**fields: Any) -> Collection:
            return Collection("nvml", seconds=time.monotonic() - start, **fields)

        problem = self._init()
        if problem is not None:
            return done(error="nvml-unavailable", detail=problem)
        nvml = self._nvml
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as exc:
            self.close()  # the next read initializes afresh (a driver reloaded underneath)
            return done(error="failed", detail=f"nvmlDeviceGetCount failed: {exc}")
        gpus: list[GpuReading] = []
        notes: list[str] = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:  # NVMLError_GpuIsLost, _NoPermission (cgroups)
                notes.append(f"GPU {index}: {exc}")
                continue
            gpus.append(self._gpu(index, handle))
        cuda = _count(self._call("nvmlSystemGetCudaDriverVersion_v2"))  # 12080: CUDA 12.8
        return done(
            gpus=tuple(gpus),
            driver=_text(self._call("nvmlSystemGetDriverVersion")),
            cuda=cuda_version_from_int(cuda) if cuda else "",
            notes=tuple(notes),
        )

    def _gpu(self, index: int, handle: Any) -> GpuReading:
        call, const = self._call, self._const

        def clock(kind: str, default: int) -> float | None:  # MHz
            return _scaled(call("nvmlDeviceGetClockInfo", handle, const(kind, default)), MHZ)

        def ecc(kind: str, default: int) -> int | None:  # since the driver loaded (volatile)
            volatile = const("NVML_VOLATILE_ECC", 0)
            errors = call("nvmlDeviceGetTotalEccErrors", handle, const(kind, default), volatile)
            return _count(errors)

        def pages(cause: str, default: int) -> int | None:  # the list of their addresses
            found = call("nvmlDeviceGetRetiredPages", handle, const(cause, default))
            return len(found) if isinstance(found, list | tuple) else None

        pci = call("nvmlDeviceGetPciInfo", handle)
        rates = call("nvmlDeviceGetUtilizationRates", handle)  # nvmlUtilization_t, percent
        memory = call("nvmlDeviceGetMemoryInfo", handle)  # nvmlMemory_t, bytes
        # nvmlDeviceGetCurrentClocksEventReasons (R535+) renamed ...ClocksThrottleReasons,
        # which older drivers and nvidia-ml-py < 12.535 alone know
        reasons = call("nvmlDeviceGetCurrentClocksEventReasons", handle)
        if reasons is None:
            reasons = call("nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        # (corrRows, uncRows, isPending, failureOccurred): Ampere and newer
        rows = _pair(call("nvmlDeviceGetRemappedRows", handle))
        mig = _pair(call("nvmlDeviceGetMigMode", handle))  # (current, pending)
        single = pages("NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS", 0)
        temperature = call("nvmlDeviceGetTemperature", handle, const("NVML_TEMPERATURE_GPU", 0))
        return GpuReading(
            GpuIdentity(
                index,
                _text(call("nvmlDeviceGetUUID", handle)),
                _text(call("nvmlDeviceGetName", handle)),
                _text(getattr(pci, "busId", None)),
            ),
            utilization_ratio=_scaled(getattr(rates, "gpu", None), 0.01),
            memory_utilization_ratio=_scaled(getattr(rates, "memory", None), 0.01),
            memory_used_bytes=_count(getattr(memory, "used", None)),
            memory_total_bytes=_count(getattr(memory, "total", None)),
            temperature_celsius=_scaled(temperature, 1),
            power_draw_watts=_scaled(call("nvmlDeviceGetPowerUsage", handle), 0.001),  # mW
            power_limit_watts=_scaled(call("nvmlDeviceGetEnforcedPowerLimit", handle), 0.001),
            sm_clock_hertz=clock("NVML_CLOCK_SM", 1),
            memory_clock_hertz=clock("NVML_CLOCK_MEM", 2),
            throttle_reasons=_count(reasons),
            ecc_corrected=ecc("NVML_MEMORY_ERROR_TYPE_CORRECTED", 0),
            ecc_uncorrected=ecc("NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1),
            retired_pages_single_bit=single,
            retired_pages_double_bit=pages("NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR", 1),
            remapped_rows_correctable=_count(rows[0]),
            remapped_rows_uncorrectable=_count(rows[1]),
            mig_enabled=None if mig[0] is None else mig[0] == const("NVML_DEVICE_MIG_ENABLE", 1),
            processes=self._processes(handle),
        )

    def _processes(self, handle: Any) -> tuple[ProcessReading, ...]:
        found = self._call("nvmlDeviceGetComputeRunningProcesses", handle) or ()
        # usedGpuMemory is None where NVML cannot tell (NVML_VALUE_NOT_AVAILABLE: WDDM, and a
        # MIG GPU seen without the privileges)
        pairs = (
            (_count(getattr(p, "pid", None)), getattr(p, "usedGpuMemory", None)) for p in found
        )
        return tuple(ProcessReading(pid, _count(used)) for pid, used in pairs if pid is not None)


# --------------------------------------------------------------------------- nvidia-smi
# nvidia-smi --help-query-gpu. The name comes last: a comma inside a product name must not
# shift the other columns (nvidia-smi does not quote CSV cells).
# enforced.power.limit is NVML's EnforcedPowerLimit, as NvmlSource reads (power.limit is the
# management limit, which the enforced one may undercut)
GPU_FIELDS = tuple(
    """index uuid pci.bus_id driver_version utilization.gpu utilization.memory memory.used
    memory.total temperature.gpu power.draw enforced.power.limit clocks.sm clocks.mem
    clocks_event_reasons.active ecc.errors.corrected.volatile.total
    ecc.errors.uncorrected.volatile.total retired_pages.single_bit_ecc.count
    retired_pages.double_bit.count mig.mode.current""".split()  # noqa: SIM905  (one per line: 19)
)
LAST_GPU_FIELD = "name"
# the name an older driver knows a field by, tried when the newer one is "not a valid field"
_OLDER_NAME = {
    "clocks_event_reasons.active": "clocks_throttle_reasons.active",  # before R535
    "enforced.power.limit": "power.limit",
}
# nvidia-smi --help-query-compute-apps; the process name last, for the same reason
APP_FIELDS = ("gpu_uuid", "pid", "used_memory", "process_name")
_NOT_VALID = re.compile(r'Field "([\w.]+)" is not a valid field to query')


def _cell(raw: str | None) -> str | None:
    """A cell's value; None for "[N/A]", "[Not Supported]", "N/A" and a field not queried."""
    raw = (raw or "").strip()
    if not raw or raw == "N/A" or (raw.startswith("[") and raw.endswith("]")):
        return None
    return raw


def _mask(raw: str | None) -> int | None:
    """clocks_event_reasons.active: "0x0000000000000004" (the bit mask of THROTTLE_REASONS)."""
    try:
        return int(raw, 16) if raw is not None else None
    except ValueError:
        return None


def _gpu_row(row: dict[str, str], position: int) -> GpuReading:
    def get(name: str) -> str | None:
        return _cell(row.get(name))

    index = _count(get("index"))
    mig = (get("mig.mode.current") or "").lower()  # "Enabled", "Disabled"
    reasons = get("clocks_event_reasons.active") or get("clocks_throttle_reasons.active")
    return GpuReading(
        GpuIdentity(
            index if index is not None else position,
            label_value(get("uuid") or ""),
            label_value(row[LAST_GPU_FIELD].strip()),
            label_value(get("pci.bus_id") or ""),
        ),
        utilization_ratio=_scaled(get("utilization.gpu"), 0.01),
        memory_utilization_ratio=_scaled(get("utilization.memory"), 0.01),
        memory_used_bytes=_count(_scaled(get("memory.used"), MIB)),
        memory_total_bytes=_count(_scaled(get("memory.total"), MIB)),
        temperature_celsius=_scaled(get("temperature.gpu"), 1),
        power_draw_watts=_scaled(get("power.draw"), 1),
        power_limit_watts=_scaled(get("enforced.power.limit") or get("power.limit"), 1),
        sm_clock_hertz=_scaled(get("clocks.sm"), MHZ),
        memory_clock_hertz=_scaled(get("clocks.mem"), MHZ),
        throttle_reasons=_mask(reasons),
        ecc_corrected=_count(get("ecc.errors.corrected.volatile.total")),
        ecc_uncorrected=_count(get("ecc.errors.uncorrected.volatile.total")),
        retired_pages_single_bit=_count(get("retired_pages.single_bit_ecc.count")),
        retired_pages_double_bit=_count(get("retired_pages.double_bit.count")),
        mig_enabled={"enabled": True, "disabled": False}.get(mig),
    )


def _rows(text: str, columns: tuple[str, ...]) -> tuple[list[dict[str, str]], list[str]]:
    """The CSV rows of ``text`` as dicts, and the lines that are not rows (a stray warning
    such as "infoROM is corrupted" must not cost the GPUs)."""
    rows, skipped = [], []
    for line in (line for line in text.splitlines() if line.strip()):
        cells = line.split(",", len(columns) - 1)  # the last column keeps its commas
        if len(cells) != len(columns):
            skipped.append(printable(line.strip()[:200]))
            continue
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows, skipped


def _failure(result: RunResult) -> tuple[str, str] | None:
    """(error, detail) of a run that gave no usable output; None when it did."""
    if result.error is not None:
        if result.error.startswith("timed out"):
            return "timeout", f"nvidia-smi {result.error}"
        if result.error == "not found":
            return "not-found", "nvidia-smi is not on PATH"
        return "failed", f"nvidia-smi: {result.error}"
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
        shown = " | ".join([line for line in lines if line][:DETAIL_LINES]) or "no output"
        return "failed", f"nvidia-smi exit code {result.returncode}: {printable(shown[:500])}"
    return None


class SmiSource:
    """``nvidia-smi --query-gpu`` and ``--query-compute-apps``, one call each per read, within
    ``timeout`` seconds in all (default: the context's tool timeout). The fields this driver
    does not know are learnt on the first read and not asked for again."""

    def __init__(self, ctx: ProbeContext, *, timeout: float | None = None) -> None:
        self._ctx = ctx
        self._timeout = ctx.tool_timeout if timeout is None else timeout
        self.fields: tuple[str, ...] = GPU_FIELDS

    def read(self) -> Collection:
        start = time.monotonic()
        deadline = start + self._timeout

        def done(**fields: Any) -> Collection:
            return Collection("nvidia-smi", seconds=time.monotonic() - start, **fields)

        exe = self._ctx.which("nvidia-smi")
        if exe is None:
            return done(error="not-found", detail="nvidia-smi is not on PATH")
        result = self._query_gpus(exe, deadline)
        if result.error is None and "No devices were found" in result.stdout + result.stderr:
            return done(notes=("nvidia-smi: No devices were found",))
        failure = _failure(result)
        if failure is not None:
            return done(error=failure[0], detail=failure[1])
        rows, skipped = _rows(result.stdout, (*self.fields, LAST_GPU_FIELD))
        notes = [f"nvidia-smi: not a GPU row: {line!r}" for line in skipped]
        if not rows and skipped:
            return done(error="failed", detail=f"nvidia-smi printed no GPU row: {skipped[0]!r}")
        gpus = [_gpu_row(row, position) for position, row in enumerate(rows)]
        driver = next((d for row in rows if (d := _cell(row.get("driver_version")))), "")
        gpus = self._add_processes(exe, deadline, gpus, notes)
        return done(gpus=tuple(gpus), driver=label_value(driver), notes=tuple(notes))

    def _run(self, argv: list[str], deadline: float) -> RunResult:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return RunResult(tuple(argv), None, error=f"timed out after {self._timeout:g}s")
        return self._ctx.runner(argv, timeout=remaining)

    def _query_gpus(self, exe: str, deadline: float) -> RunResult:
        for _ in range(len(GPU_FIELDS)):  # again without each field an old driver lacks
            columns = ",".join((*self.fields, LAST_GPU_FIELD))
            argv = [exe, f"--query-gpu={columns}", "--format=csv,noheader,nounits"]
            result = self._run(argv, deadline)
            unknown = _NOT_VALID.search(result.stdout + result.stderr)
            if result.error is None and unknown and unknown.group(1) in self.fields:
                # asked for by its older name where it has one, else dropped
                older = _OLDER_NAME.get(unknown.group(1), "")
                renamed = (older if f == unknown.group(1) else f for f in self.fields)
                self.fields = tuple(f for f in renamed if f)
                continue
            return result
        return result

    def _add_processes(
        self, exe: str, deadline: float, gpus: list[GpuReading], notes: list[str]
    ) -> list[GpuReading]:
        columns = ",".join(APP_FIELDS)
        argv = [exe, f"--query-compute-apps={columns}", "--format=csv,noheader,nounits"]
        result = self._run(argv, deadline)
        failure = _failure(result)
        if failure is not None:
            notes.append(f"processes not read: {failure[1]}")
            return gpus
        rows, skipped = _rows(result.stdout, APP_FIELDS)
        notes.extend(f"nvidia-smi: not a process row: {line!r}" for line in skipped)
        by_uuid: dict[str, list[ProcessReading]] = {}
        for row in rows:
            pid = _count(_cell(row["pid"]))
            if pid is None:
                continue
            memory = _count(_scaled(_cell(row["used_memory"]), MIB))
            name = PurePosixPath(_cell(row["process_name"]) or "").name
            reading = ProcessReading(pid, memory, process=label_value(name))
            by_uuid.setdefault(label_value(row["gpu_uuid"].strip()), []).append(reading)
        known = {g.identity.uuid for g in gpus}
        strays = sorted(uuid for uuid in by_uuid if uuid not in known)
        if strays:
            notes.append(f"processes of GPUs not listed: {', '.join(strays)}")
        return [replace(g, processes=tuple(by_uuid.get(g.identity.uuid, ()))) for g in gpus]


def collect_smi(ctx: ProbeContext, *, timeout: float | None = None) -> Collection:
    """One read of a fresh ``SmiSource`` (an exporter keeps one instead, so an old driver's
    unknown fields are asked for once)."""
    return SmiSource(ctx, timeout=timeout).read()
