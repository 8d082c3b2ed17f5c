"""What `torchenv monitor` measures: the readings of one collection, and the catalog of the
metrics the exporter serves. The alert rules and the Grafana dashboard refer to these names
only (a test checks every query against the catalog), so the three never drift apart.

Names follow Prometheus' naming practice (prometheus.io/docs/practices/naming): base units
(bytes, seconds, hertz, watts, celsius), ``_ratio`` for 0..1, ``_total`` for counters, one
unit per metric. Every per-GPU metric carries the labels of ``GPU_LABELS``, as dcgm-exporter
labels each of its series with the GPU, its UUID, model name and PCI bus id, so a panel or an
alert can name the GPU without a join.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MONITOR_SCHEMA = "torchenv.monitor/1"
GPU_LABELS = ("gpu", "uuid", "name", "pci_bus_id")
PROCESS_LABELS = (*GPU_LABELS, "pid", "process", "environment", "torch", "variant")

# NVML's clock-event ("throttle") reasons (nvml.h, nvmlClocksEventReason*): bit -> label
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# the reasons that mean the GPU runs slower than asked because of heat or power
THERMAL_REASONS = ("sw_thermal_slowdown", "hw_thermal_slowdown", "hw_slowdown")
POWER_REASONS = ("sw_power_cap", "hw_power_brake_slowdown")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # "gauge" or "counter" (the name of a counter ends in _total)
    help: str
    labels: tuple[str, ...] = GPU_LABELS


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("torchenv_gpu_info", "gauge", "A GPU the driver reports (always 1)."),
    MetricSpec("torchenv_gpu_utilization_ratio", "gauge", "Fraction of time a kernel ran."),
    MetricSpec(
        "torchenv_gpu_memory_utilization_ratio",
        "gauge",
        "Fraction of time device memory was read or written.",
    ),
    MetricSpec("torchenv_gpu_memory_used_bytes", "gauge", "Device memory in use."),
    MetricSpec("torchenv_gpu_memory_total_bytes", "gauge", "Device memory in all."),
    MetricSpec("torchenv_gpu_temperature_celsius", "gauge", "GPU core temperature."),
    MetricSpec("torchenv_gpu_power_draw_watts", "gauge", "Power drawn by the board."),
    MetricSpec("torchenv_gpu_power_limit_watts", "gauge", "Power limit enforced."),
    MetricSpec("torchenv_gpu_sm_clock_hertz", "gauge", "SM clock."),
    MetricSpec("torchenv_gpu_memory_clock_hertz", "gauge", "Memory clock."),
    MetricSpec(
        "torchenv_gpu_throttle_active",
        "gauge",
        "1 while the clocks are held down for this reason (NVML clock-event reasons).",
        (*GPU_LABELS, "reason"),
    ),
    MetricSpec(
        "torchenv_gpu_ecc_errors_total",
        "counter",
        "ECC errors since the driver loaded (volatile), by type corrected/uncorrected.",
        (*GPU_LABELS, "type"),
    ),
    MetricSpec(
        "torchenv_gpu_retired_pages",
        "gauge",
        "Memory pages retired, by cause single_bit/double_bit (before Ampere).",
        (*GPU_LABELS, "cause"),
    ),
    MetricSpec(
        "torchenv_gpu_remapped_rows",
        "gauge",
        "Memory rows remapped, by kind correctable/uncorrectable (Ampere and newer).",
        (*GPU_LABELS, "kind"),
    ),
    MetricSpec("torchenv_gpu_mig_enabled", "gauge", "1 when MIG mode is on."),
    MetricSpec(
        "torchenv_gpu_process_memory_used_bytes",
        "gauge",
        "Device memory of a process, with the environment it runs in where /proc tells.",
        PROCESS_LABELS,
    ),
    MetricSpec(
        "torchenv_gpu_published_peak_bf16_flops",
        "gauge",
        "The GPU's published dense bf16 peak (torchenv's knowledge base): verify's reference.",
    ),
    MetricSpec(
        "torchenv_gpu_published_peak_memory_bandwidth_bytes",
        "gauge",
        "The GPU's published memory bandwidth in bytes per second (torchenv's knowledge base).",
    ),
    MetricSpec("torchenv_gpus", "gauge", "GPUs seen by the last collection.", ()),
    MetricSpec(
        "torchenv_build_info",
        "gauge",
        "The driver, its CUDA version and torchenv (always 1).",
        ("driver", "cuda", "torchenv", "source"),
    ),
    MetricSpec(
        "torchenv_exporter_collect_success",
        "gauge",
        "1 when the last collection read the GPUs, 0 when it failed.",
        ("source",),
    ),
    MetricSpec(
        "torchenv_exporter_collect_duration_seconds",
        "gauge",
        "How long the last collection took.",
        (),
    ),
    MetricSpec(
        "torchenv_exporter_collect_errors_total",
        "counter",
        "Collections that failed, by source (nvml, nvidia-smi) and reason.",
        ("source", "reason"),
    ),
)
METRIC_NAMES = frozenset(m.name for m in METRICS)


@dataclass(frozen=True)
class GpuIdentity:
    index: int
    uuid: str
    name: str
    pci_bus_id: str

    def labels(self) -> tuple[str, str, str, str]:
        return (str(self.index), self.uuid, self.name, self.pci_bus_id)


@dataclass(frozen=True)
class ProcessReading:
    pid: int
    memory_used_bytes: int | None
    process: str = ""  # the command's name (/proc/PID/comm)
    environment: str = ""  # the prefix of its environment (VIRTUAL_ENV, CONDA_PREFIX, sys.prefix)
    torch: str = ""  # torch's version in that environment
    variant: str = ""  # "cu130", "cpu", ...


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment. None: the driver does not report that field (older GPU, MIG,
    a field nvidia-smi calls [N/A]); the exporter leaves the series out."""

    identity: GpuIdentity
    utilization_ratio: float | None = None
    memory_utilization_ratio: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_celsius: float | None = None
    power_draw_watts: float | None = None
    power_limit_watts: float | None = None
    sm_clock_hertz: float | None = None
    memory_clock_hertz: float | None = None
    throttle_reasons: int | None = None  # NVML's bit mask (THROTTLE_REASONS)
    ecc_corrected: int | None = None
    ecc_uncorrected: int | None = None
    retired_pages_single_bit: int | None = None
    retired_pages_double_bit: int | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    mig_enabled: bool | None = None
    processes: tuple[ProcessReading, ...] = ()


@dataclass(frozen=True)
class Collection:
    """What one collection read: from ``source`` ("nvml" or "nvidia-smi"), or nothing with
    ``error`` saying why."""

    source: str
    gpus: tuple[GpuReading, ...] = ()
    driver: str = ""
    cuda: str = ""
    error: str | None = None  # a short reason ("timeout", "not-found", "failed")
    detail: str = ""  # what went wrong, for the log
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())
