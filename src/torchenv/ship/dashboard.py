"""The Grafana dashboard of ``torchenv monitor dashboard`` as data (ship/monitoring.py writes it
as JSON, after checking the job name).

Each panel has a fixed id (a link to ``viewPanel=ID`` keeps pointing at the same panel when
panels are added), and the panels are laid out row by row, left to right, on Grafana's grid of
24 columns. The datasource is a ``datasource`` variable rather than an ``__inputs`` entry, so
the file works both imported in the UI and provisioned from disk. Every selector names the job;
the per-GPU metrics (the catalog's labels hold ``gpu``) also take the ``instance`` and ``gpu``
variables, the exporter's own metrics ``instance`` only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from torchenv.models.monitor import METRICS

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_LABELS = {metric.name: metric.labels for metric in METRICS}
GPU_LEGEND = "{{instance}} GPU {{gpu}}"


def selector(metric: str, job: str, extra: str = "") -> str:
    """``metric{job="JOB", instance=~"$instance"[, gpu=~"$gpu"][, EXTRA]}``."""
    matchers = [f'job="{job}"', 'instance=~"$instance"']
    if "gpu" in _LABELS.get(metric, ()):
        matchers.append('gpu=~"$gpu"')
    if extra:
        matchers.append(extra)
    return f"{metric}{{{', '.join(matchers)}}}"


def _target(expr: str, legend: str, *, table: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
    if table:
        target |= {"format": "table", "instant": True, "range": False}
    return target


def _panel(
    panel_id: int,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    unit: str,
    *,
    kind: str = "timeseries",
    limits: tuple[float, float] | None = None,
    custom: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if limits is not None:
        defaults |= {"min": limits[0], "max": limits[1]}
    if kind == "timeseries":
        defaults["custom"] = {"lineWidth": 1, "fillOpacity": 0, "spanNulls": False} | (custom or {})
    options: dict[str, Any] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    if kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    elif kind == "table":
        options = {"showHeader": True}
    panel = {
        "id": panel_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options,
        "targets": [
            {**target, "refId": chr(ord("A") + index)} for index, target in enumerate(targets)
        ],
    }
    if transformations:
        panel["transformations"] = transformations
    return panel


def _table(hidden: tuple[str, ...], renamed: dict[str, str], merge: bool) -> list[Any]:
    """Grafana's transformations of an instant table: the queries' rows joined on their
    labels (merge), the timestamp, metric name and job hidden, the value columns named."""
    organize = {
        "id": "organize",
        "options": {
            "excludeByName": dict.fromkeys(("Time", "__name__", "job", *hidden), True),
            "renameByName": renamed,
        },
    }
    return [{"id": "merge", "options": {}}, organize] if merge else [organize]


def _by_name(pattern: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An override of the series whose display name matches the regular expression."""
    return {
        "matcher": {"id": "byRegexp", "options": pattern},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


DASHED = {"lineStyle": {"fill": "dash", "dash": [10, 10]}}


def _load(job: str) -> list[tuple[dict[str, Any], int, int]]:
    process = (
        "{{instance}} GPU {{gpu}} pid {{pid}} {{process}}: {{environment}} "
        "(torch {{torch}} {{variant}})"
    )
    return [
        (_panel(11, "GPU utilization", "Fraction of time a kernel ran (NVML).", [
            _target(selector("torchenv_gpu_utilization_ratio", job), GPU_LEGEND),
        ], "percentunit", limits=(0, 1)), 12, 8),
        (_panel(12, "Memory used / total", "Device memory in use against all of it.", [
            _target(selector("torchenv_gpu_memory_used_bytes", job), f"{GPU_LEGEND} used"),
            _target(selector("torchenv_gpu_memory_total_bytes", job), f"{GPU_LEGEND} total"),
        ], "bytes", overrides=[_by_name(".* total$", {"custom.lineStyle": DASHED["lineStyle"]})]),
         12, 8),
        (_panel(13, "Memory per process", "Device memory of each process, with the "
                "environment it runs in and that environment's torch, where /proc tells.", [
            _target(selector("torchenv_gpu_process_memory_used_bytes", job), process),
        ], "bytes", custom={"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 20}),
         16, 8),
        (_panel(14, "Memory controller busy", "Fraction of time device memory was read or "
                "written.", [
            _target(selector("torchenv_gpu_memory_utilization_ratio", job), GPU_LEGEND),
        ], "percentunit", limits=(0, 1)), 8, 8),
    ]  # fmt: skip


def _heat(job: str) -> list[tuple[dict[str, Any], int, int]]:
    slowdown = (
        "NVML clock-event reasons active (1), gpu_idle left out: sw/hw_thermal_slowdown and "
        "hw_slowdown are heat (alert: TorchenvGpuThermalThrottling), sw_power_cap and "
        "hw_power_brake_slowdown power (TorchenvGpuPowerThrottling)."
    )
    return [
        (_panel(21, "Temperature", "GPU core temperature.", [
            _target(selector("torchenv_gpu_temperature_celsius", job), GPU_LEGEND),
        ], "celsius"), 8, 8),
        (_panel(22, "Power draw vs limit", "Board power against the enforced limit (dashed).", [
            _target(selector("torchenv_gpu_power_draw_watts", job), f"{GPU_LEGEND} draw"),
            _target(selector("torchenv_gpu_power_limit_watts", job), f"{GPU_LEGEND} limit"),
        ], "watt", overrides=[_by_name(".* limit$", {"custom.lineStyle": DASHED["lineStyle"]})]),
         8, 8),
        (_panel(23, "SM clock", "Streaming multiprocessor clock, and the memory clock "
                "(dashed).", [
            _target(selector("torchenv_gpu_sm_clock_hertz", job), f"{GPU_LEGEND} SM"),
            _target(selector("torchenv_gpu_memory_clock_hertz", job), f"{GPU_LEGEND} memory"),
        ], "hertz", overrides=[_by_name(".* memory$", {"custom.lineStyle": DASHED["lineStyle"]})]),
         8, 8),
        (_panel(24, "Throttle reasons active", slowdown, [
            _target(selector("torchenv_gpu_throttle_active", job, 'reason!="gpu_idle"') + " == 1",
                    f"{GPU_LEGEND} {{{{reason}}}}"),
        ], "short", limits=(0, 1), custom={"drawStyle": "bars", "fillOpacity": 60}), 24, 6),
    ]  # fmt: skip


def _health(job: str) -> list[tuple[dict[str, Any], int, int]]:
    ecc = (
        "Uncorrectable ECC errors are Xid 48 (and 94/95 on A100 and newer) in NVIDIA's Xid "
        "guide (alert: TorchenvGpuEccUncorrected). The counters are volatile: they restart "
        "when the driver loads."
    )
    retired = (
        "Rows remapped (Ampere and newer) and pages retired (before) by cause; NVIDIA's GPU "
        "Memory Error Management guide: they take effect at the next GPU reset."
    )
    return [
        (_panel(31, "ECC errors in the last hour", ecc, [
            _target(f"increase({selector('torchenv_gpu_ecc_errors_total', job)}[1h])",
                    f"{GPU_LEGEND} {{{{type}}}}"),
        ], "short"), 12, 8),
        (_panel(32, "Remapped rows and retired pages", retired, [
            _target(selector("torchenv_gpu_remapped_rows", job), f"{GPU_LEGEND} rows {{{{kind}}}}"),
            _target(selector("torchenv_gpu_retired_pages", job),
                    f"{GPU_LEGEND} pages {{{{cause}}}}"),
        ], "short"), 12, 8),
    ]  # fmt: skip


def _reference(job: str) -> list[tuple[dict[str, Any], int, int]]:
    peak = (
        "The datasheet's dense bf16 Tensor Core peak and memory bandwidth of each GPU, from "
        "torchenv's knowledge base: the figures `torchenv verify` gives measured throughput "
        "against. A GPU the knowledge base does not list has no line."
    )
    return [
        (_panel(41, "bf16 peak (verify's reference)", peak, [
            _target(selector("torchenv_gpu_published_peak_bf16_flops", job),
                    f"{GPU_LEGEND} {{{{name}}}} bf16 peak"),
            _target(selector("torchenv_gpu_published_peak_memory_bandwidth_bytes", job),
                    f"{GPU_LEGEND} {{{{name}}}} memory bandwidth peak"),
        ], "flops", custom=DASHED, overrides=[
            _by_name(".* memory bandwidth peak$", {"unit": "Bps", "custom.axisPlacement": "right"})
        ]), 12, 8),
        (_panel(42, "GPUs", "The GPUs the driver reports, and whether MIG is on.", [
            _target(selector("torchenv_gpu_info", job), "", table=True),
            _target(selector("torchenv_gpu_mig_enabled", job), "", table=True),
        ], "short", kind="table",
            transformations=_table(("Value #A",), {"Value #B": "MIG"}, merge=True)), 12, 8),
    ]  # fmt: skip


def _exporter(job: str) -> list[tuple[dict[str, Any], int, int]]:
    success = f"max without (source) ({selector('torchenv_exporter_collect_success', job)})"
    errors = f"increase({selector('torchenv_exporter_collect_errors_total', job)}[1h])"
    return [
        (_panel(51, "Scraped and collecting", "up: Prometheus reached the exporter "
                "(TorchenvExporterDown); collecting: the last collection read the GPUs "
                "(TorchenvGpuCollectionFailing).", [
            _target(selector("up", job), "{{instance}} up"),
            _target(success, "{{instance}} collecting"),
        ], "short", limits=(0, 1)), 8, 8),
        (_panel(52, "Collection duration", "How long the last collection took.", [
            _target(selector("torchenv_exporter_collect_duration_seconds", job), "{{instance}}"),
        ], "s"), 8, 8),
        (_panel(53, "Collection errors in the last hour", "Failed collections by source "
                "(nvml, nvidia-smi) and reason.", [
            _target(errors, "{{instance}} {{source}} {{reason}}"),
        ], "short"), 8, 8),
        (_panel(54, "GPUs seen", "GPUs the last collection saw (alert: TorchenvGpuLost).", [
            _target(selector("torchenv_gpus", job), "{{instance}}"),
        ], "short", kind="stat"), 8, 6),
        (_panel(55, "Driver, CUDA and torchenv", "Versions on each node.", [
            _target(selector("torchenv_build_info", job), "", table=True),
        ], "short", kind="table", transformations=_table(("Value",), {}, merge=False)), 16, 6),
    ]  # fmt: skip


def _layout(rows: list[tuple[int, str, list[tuple[dict[str, Any], int, int]]]]) -> list[Any]:
    """Row panels and their panels, placed left to right and wrapped at 24 columns."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row_id, title, members in rows:
        row = {"id": row_id, "type": "row", "title": title, "collapsed": False, "panels": []}
        panels.append({**row, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        y, x, height = y + 1, 0, 0
        for panel, width, h in members:
            if x + width > 24:
                y, x, height = y + height, 0, 0
            panels.append({**panel, "gridPos": {"h": h, "w": width, "x": x, "y": y}})
            x, height = x + width, max(height, h)
        y += height
    return panels


def _variable(name: str, label: str, query: str, sort: int) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: GPUs come and go
        "multi": True,
        "includeAll": True,
        "current": {},
        "options": [],
        "regex": "",
        "sort": sort,
        "hide": 0,
    }


def dashboard_model(job: str) -> dict[str, Any]:
    """The dashboard of the exporter scraped as ``job`` (a job name already checked)."""
    info = f'torchenv_gpu_info{{job="{job}"}}'
    gpus = f'torchenv_gpu_info{{job="{job}", instance=~"$instance"}}'
    uid = "torchenv-gpus"
    if job != "torchenv":  # one dashboard per job side by side; a uid holds 40 characters
        uid += "-" + hashlib.sha256(job.encode()).hexdigest()[:12]
    rows = [
        (10, "Load", _load(job)),
        (20, "Heat, power and clocks", _heat(job)),
        (30, "Memory health", _health(job)),
        (40, "Reference", _reference(job)),
        (50, "Exporter", _exporter(job)),
    ]
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    datasource = {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "options": [],
        "regex": "",
        "refresh": 1,
        "hide": 0,
    }
    return {
        "annotations": {"list": [builtin]},
        "description": f"GPUs as torchenv monitor serve reports them (job {job}).",
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": _layout(rows),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["torchenv", "gpu"],
        "templating": {
            "list": [
                datasource,
                _variable("instance", "Instance", f"label_values({info}, instance)", 1),
                _variable("gpu", "GPU", f"label_values({gpus}, gpu)", 3),
            ]
        },
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": "torchenv GPUs" if job == "torchenv" else f"torchenv GPUs ({job})",
        "uid": uid,
        "version": 1,
    }
