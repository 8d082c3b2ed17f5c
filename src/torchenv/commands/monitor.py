"""``torchenv monitor serve``: a Prometheus exporter of the GPUs, their processes and the
environments those processes run in.

Collection runs in a thread of its own every ``--interval`` seconds, and a scrape serves the
latest collection: a driver call or an nvidia-smi that hangs delays the next collection, never
a scrape, and a failed collection is a metric (``torchenv_exporter_collect_success``,
``..._errors_total``), never a crash. NVML (nvidia-ml-py) first: it reads every field in
microseconds and never makes a CUDA context; nvidia-smi's query interface when NVML cannot be
loaded. Memory stays bounded: each collection replaces the last, the error counters are keyed
on a fixed set of (source, reason), and the process cache forgets processes that ended.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from torchenv.errors import UsageError
from torchenv.i18n import N_, Msg
from torchenv.i18n import _ as translated  # serve() has a local `_`
from torchenv.models.monitor import Collection

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from torchenv.probe.context import ProbeContext
    from torchenv.probe.procenv import ProcessEnvironments

DEFAULT_PORT = 9847
DEFAULT_INTERVAL = 15.0  # Prometheus' default scrape interval
Reader = Callable[[], Collection]
Progress = Callable[[str], None]


class Monitor:
    """The latest collection and the error counters; a prometheus-client collector."""

    def __init__(self, read: Reader, torchenv: str, hung_after: float = 120.0) -> None:
        from torchenv.knowledge.peaks import peak_for  # noqa: PLC0415

        self._read = read
        # a collection still running after this long (a wedged driver: NVML calls have no
        # timeout) makes the served readings stale: they are withdrawn, success goes to 0
        self._hung_after = hung_after
        self._running_since: float | None = None
        self._hung_counted = False
        self._torchenv = torchenv
        self._lock = threading.Lock()
        self._latest = Collection("none", error="not-collected", detail="no collection yet")
        self._errors: Counter[tuple[str, str]] = Counter()

        def peaks(name: str) -> tuple[float, float] | None:
            peak = peak_for(name)
            return (peak.bf16_tflops * 1e12, peak.memory_gbps * 1e9) if peak else None

        self._peaks = peaks

    def collect_once(self) -> Collection:
        started = time.perf_counter()
        with self._lock:
            self._running_since, self._hung_counted = started, False
        try:
            collection = self._read()
        except Exception as exc:  # noqa: BLE001 - a collector must outlive any failure
            collection = Collection("torchenv", error="internal", detail=repr(exc)[:500])
        collection = dataclasses.replace(collection, seconds=time.perf_counter() - started)
        with self._lock:
            self._running_since = None
            self._latest = collection
            if collection.error is not None:
                self._errors[(collection.source, collection.error)] += 1
        return collection

    def latest(self) -> Collection:
        with self._lock:
            return self._latest

    def collect(self) -> Iterator[Metric]:
        """prometheus-client's Collector protocol: called on every scrape."""
        from torchenv.report.metrics import collection_families  # noqa: PLC0415

        with self._lock:
            latest, running = self._latest, self._running_since
            if running is not None and time.perf_counter() - running > self._hung_after:
                latest = Collection(
                    latest.source, error="hung", seconds=time.perf_counter() - running
                )
                if not self._hung_counted:  # once per hung collection: a counter only grows
                    self._errors[(latest.source, "hung")] += 1
                    self._hung_counted = True
            errors = dict(self._errors)
        yield from collection_families(latest, errors, self._torchenv, self._peaks)

    def run(self, stop: threading.Event, interval: float) -> None:
        while True:
            self.collect_once()
            if stop.wait(interval):
                return


def require_prometheus_client() -> None:
    """prometheus-client is the optional extra ``monitor``: say how to get it."""
    try:
        import prometheus_client  # noqa: F401, PLC0415
    except ImportError:
        raise UsageError(
            "monitor-missing",
            Msg("torchenv monitor serve needs prometheus-client, which is not installed."),
            Msg(
                "{command} (or prometheus-client) where torchenv is installed.",
                command="pip install 'torchenv[monitor]'",
            ),
        ) from None


def gpu_reader(ctx: ProbeContext) -> tuple[Reader, Callable[[], None]]:
    """NVML when it loads, else nvidia-smi; each process's environment added from /proc.
    Returns the reader and what closes it."""
    from torchenv.probe.gpumetrics import NvmlSource, SmiSource  # noqa: PLC0415
    from torchenv.probe.procenv import ProcessEnvironments  # noqa: PLC0415

    environments = ProcessEnvironments()
    nvml = NvmlSource()
    smi = SmiSource(ctx)  # kept: it remembers the fields this driver does not know
    chosen: list[bool] = []  # decided by the first read, in the collector's thread: a driver
    # that hangs at start-up must not keep the HTTP server from answering

    def read() -> Collection:
        if not chosen:
            first = nvml.read()
            chosen.append(first.error is None)
            if chosen[0]:
                return with_environments(first, environments)
        collection = nvml.read() if chosen[0] else smi.read()
        return with_environments(collection, environments)

    return read, nvml.close


def with_environments(collection: Collection, environments: ProcessEnvironments) -> Collection:
    """Each process of the collection with its name, environment, torch and variant."""
    seen: set[int] = set()
    gpus = []
    for gpu in collection.gpus:
        processes = []
        for process in gpu.processes:
            seen.add(process.pid)
            name, prefix, torch, variant = environments.lookup(process.pid)
            processes.append(
                dataclasses.replace(
                    process,
                    process=process.process or name,
                    environment=prefix,
                    torch=torch,
                    variant=variant,
                )
            )
        gpus.append(dataclasses.replace(gpu, processes=tuple(processes)))
    environments.forget_except(seen)
    return dataclasses.replace(collection, gpus=tuple(gpus))


def check_listen(listen: str) -> list[str]:
    """Warnings for the address the exporter binds (an IP address; names are refused, since a
    name that resolves to every interface would hide it)."""
    import ipaddress  # noqa: PLC0415

    try:
        address = ipaddress.ip_address(listen)
    except ValueError:
        raise UsageError(
            "monitor-listen",
            Msg("--listen {value} is not an IP address.", value=repr(listen)),
            Msg("Give 127.0.0.1 (the default), ::1, or the address of one interface."),
        ) from None
    if address.is_loopback:
        return []
    return [
        f"serving on {listen}: anyone who reaches this port reads the GPUs' state and the "
        "processes, environments and torch versions on them. Keep it behind a firewall, or "
        "run Prometheus on this host and listen on 127.0.0.1."
    ]


def serve(
    ctx: ProbeContext,
    *,
    listen: str,
    port: int,
    interval: float,
    torchenv: str,
    progress: Progress,
    stop: threading.Event | None = None,
    ready: Callable[[int], None] = lambda _: None,
    reader: tuple[Reader, Callable[[], None]] | None = None,
) -> None:
    """Serve until ``stop`` is set (or the process is interrupted). ``ready`` gets the port
    (the one the system chose for ``port`` 0); ``reader``: another source of collections."""
    require_prometheus_client()
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    for warning in check_listen(listen):
        progress(translated(N_("warning: {warning}")).format(warning=warning))
    read, close = reader or gpu_reader(ctx)
    monitor = Monitor(read, torchenv)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(monitor)  # a Collector: it has collect()
    stop = stop or threading.Event()
    collector = threading.Thread(target=monitor.run, args=(stop, interval), daemon=True)
    collector.start()
    try:
        server, _ = start_http_server(port, addr=listen, registry=registry)
    except OSError as exc:
        stop.set()
        raise UsageError(
            "monitor-port",
            Msg(
                "Cannot listen on {listen}:{port}: {error}.",
                listen=listen,
                port=port,
                error=exc.strerror or str(exc),
            ),
            Msg("Choose another --port, or stop what uses this one."),
        ) from None
    bound = int(server.server_address[1])
    progress(
        translated(N_("serving GPU metrics on {url} (every {seconds} s)")).format(
            url=f"http://{listen}:{bound}/metrics", seconds=f"{interval:g}"
        )
    )
    ready(bound)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        collector.join(timeout=interval + 5)
        if not collector.is_alive():  # never shut NVML down under a call still running
            close()


def rules_text(job: str) -> str:
    """``torchenv monitor rules``: alerting rules on the exporter's metrics."""
    from torchenv.ship.monitoring import check_job, render_rules  # noqa: PLC0415

    return render_rules(_checked_job(check_job, job))


def dashboard_text(job: str) -> str:
    """``torchenv monitor dashboard``: the Grafana dashboard of the exporter's metrics."""
    from torchenv.ship.monitoring import check_job, render_dashboard  # noqa: PLC0415

    return render_dashboard(_checked_job(check_job, job))


def _checked_job(check: Callable[[str], str], job: str) -> str:
    try:
        return check(job)
    except ValueError:
        raise UsageError(
            "monitor-job",
            Msg("--job {value} is not a Prometheus job name.", value=repr(job)),
            Msg("Give letters, digits, _ and -, starting with a letter or _ (default: torchenv)."),
        ) from None
