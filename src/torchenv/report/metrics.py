"""A collection (models/monitor.py) as Prometheus metric families, through prometheus-client's
own types, so the exposition text is the client library's, not hand-made.

Only what was read is served: a field the driver does not report is left out, not served as 0
(a 0 would read as "no ECC errors" on a GPU that cannot count them). The families follow the
catalog (models.monitor.METRICS): name, type, help and label names come from there, and a test
checks that nothing is served outside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from torchenv.models.monitor import METRICS, THROTTLE_REASONS, Collection, GpuReading, MetricSpec
from torchenv.untrusted.text import printable

if TYPE_CHECKING:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.metrics_core import Metric

LABEL_LIMIT = 200  # characters of a label value: process names and paths come from other users

_SPECS = {m.name: m for m in METRICS}
_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]")
Peaks = Callable[[str], "tuple[float, float] | None"]  # GPU name -> (bf16 FLOP/s, bytes/s)


def label_value(text: str) -> str:
    """A label value from a GPU, a driver or another user's process: printable on one line
    (the client escapes quotes and line breaks; a dashboard's legend would not), bounded."""
    one_line = _BREAKS.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    return printable(one_line)[:LABEL_LIMIT]


def _family(name: str) -> GaugeMetricFamily | CounterMetricFamily:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415

    spec: MetricSpec = _SPECS[name]
    if spec.kind == "counter":
        # the client appends _total to a counter's samples
        return CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
    return GaugeMetricFamily(name, spec.help, labels=spec.labels)


def collection_families(
    collection: Collection,
    errors: Mapping[tuple[str, str], int],
    torchenv: str,
    peaks: Peaks = lambda _: None,
) -> Iterator[Metric]:
    """The families of one collection, and the exporter's own counters (``errors``: (source,
    reason) -> collections that failed)."""
    families = {m.name: _family(m.name) for m in METRICS}

    def add(name: str, labels: list[str], value: float | None) -> None:
        if value is not None:
            families[name].add_metric([label_value(v) for v in labels], float(value))

    for gpu in collection.gpus:
        _gpu(gpu, add, peaks)
    add("torchenv_gpus", [], len(collection.gpus) if collection.error is None else None)
    if collection.error is None:
        add(
            "torchenv_build_info",
            [collection.driver, collection.cuda, torchenv, collection.source],
            1,
        )
    add("torchenv_exporter_collect_success", [collection.source], collection.error is None)
    add("torchenv_exporter_collect_duration_seconds", [], collection.seconds)
    for (source, reason), count in sorted(errors.items()):
        add("torchenv_exporter_collect_errors_total", [source, reason], count)
    yield from families.values()


def _gpu(
    gpu: GpuReading, add: Callable[[str, list[str], float | None], None], peaks: Peaks
) -> None:
    ids = list(gpu.identity.labels())
    add("torchenv_gpu_info", ids, 1)
    plain = {
        "torchenv_gpu_utilization_ratio": gpu.utilization_ratio,
        "torchenv_gpu_memory_utilization_ratio": gpu.memory_utilization_ratio,
        "torchenv_gpu_memory_used_bytes": gpu.memory_used_bytes,
        "torchenv_gpu_memory_total_bytes": gpu.memory_total_bytes,
        "torchenv_gpu_temperature_celsius": gpu.temperature_celsius,
        "torchenv_gpu_power_draw_watts": gpu.power_draw_watts,
        "torchenv_gpu_power_limit_watts": gpu.power_limit_watts,
        "torchenv_gpu_sm_clock_hertz": gpu.sm_clock_hertz,
        "torchenv_gpu_memory_clock_hertz": gpu.memory_clock_hertz,
        "torchenv_gpu_mig_enabled": None if gpu.mig_enabled is None else int(gpu.mig_enabled),
    }
    for name, value in plain.items():
        add(name, ids, value)
    if gpu.throttle_reasons is not None:
        for bit, reason in THROTTLE_REASONS.items():
            add(
                "torchenv_gpu_throttle_active",
                [*ids, reason],
                int(bool(gpu.throttle_reasons & bit)),
            )
    add("torchenv_gpu_ecc_errors_total", [*ids, "corrected"], gpu.ecc_corrected)
    add("torchenv_gpu_ecc_errors_total", [*ids, "uncorrected"], gpu.ecc_uncorrected)
    add("torchenv_gpu_retired_pages", [*ids, "single_bit"], gpu.retired_pages_single_bit)
    add("torchenv_gpu_retired_pages", [*ids, "double_bit"], gpu.retired_pages_double_bit)
    add("torchenv_gpu_remapped_rows", [*ids, "correctable"], gpu.remapped_rows_correctable)
    add("torchenv_gpu_remapped_rows", [*ids, "uncorrectable"], gpu.remapped_rows_uncorrectable)
    for process in gpu.processes:
        labels = [str(process.pid), process.process, process.environment]
        labels += [process.torch, process.variant]
        add("torchenv_gpu_process_memory_used_bytes", [*ids, *labels], process.memory_used_bytes)
    peak = peaks(gpu.identity.name)
    if peak is not None:
        add("torchenv_gpu_published_peak_bf16_flops", ids, peak[0])
        add("torchenv_gpu_published_peak_memory_bandwidth_bytes", ids, peak[1])
