"""`torchenv monitor`: a Prometheus exporter of the GPUs and their processes, with the alert
rules and the Grafana dashboard that go with it."""

from __future__ import annotations

import sys

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _


@click.group(
    epilog=examples("monitor"),
    short_help=_("Watch the GPUs: Prometheus exporter, alerts, Grafana dashboard."),
    help=_("Watch the GPUs: a Prometheus exporter, its alert rules and a Grafana dashboard."),
)
def monitor() -> None:
    """The group of `monitor serve`, `rules` and `dashboard` (its help is the decorator's)."""


@monitor.command(
    epilog=examples("monitor serve"),
    short_help=_("Serve GPU metrics for Prometheus."),
    help=_(
        "Serve GPU metrics for Prometheus: utilization, memory, temperature, power, clocks, "
        "throttling, ECC, per-process memory with the process's environment and torch build."
    ),
)
@click.option(
    "--listen",
    default="127.0.0.1",
    show_default=True,
    metavar="ADDR",
    help=_("Address to bind; another than loopback only when asked (a warning says so)."),
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9847,
    show_default=True,
    help=_("Port to listen on (0: one the system chooses)."),
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=15.0,
    show_default=True,
    metavar="SECONDS",
    help=_("How often the GPUs are read; a scrape serves the latest reading."),
)
@click.option("--once", is_flag=True, help=_("Read once, print the metrics and exit."))
def serve(listen: str, port: int, interval: float, once: bool) -> None:
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from torchenv.commands.image import torchenv_version  # noqa: PLC0415
    from torchenv.commands.monitor import (  # noqa: PLC0415
        Monitor,
        check_listen,
        gpu_reader,
        require_prometheus_client,
    )
    from torchenv.commands.monitor import serve as run_serve  # noqa: PLC0415

    ctx = common.context()
    if once:
        require_prometheus_client()
        from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

        check_listen(listen)
        read, close = gpu_reader(ctx)
        try:
            monitor = Monitor(read, torchenv_version())
            monitor.collect_once()
        finally:
            close()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(monitor)  # a Collector: it has collect()
        sys.stdout.write(generate_latest(registry).decode("utf-8"))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_serve(
        ctx,
        listen=listen,
        port=port,
        interval=interval,
        torchenv=torchenv_version(),
        progress=common.progress,
        stop=stop,
    )


@monitor.command(
    epilog=examples("monitor rules"),
    short_help=_("Prometheus alerting rules for the exporter's metrics."),
    help=_(
        "Prometheus alerting rules for the exporter's metrics: GPU lost, ECC errors, thermal or "
        "power throttling, memory nearly full, collection failing, exporter down."
    ),
)
@click.option(
    "--job", default="torchenv", show_default=True, help=_("Prometheus job of the exporter.")
)
@click.option("--out", metavar="FILE", type=common.FilePath(), help=_("Write to FILE."))
def rules(job: str, out: str | None) -> None:
    from torchenv.commands.monitor import rules_text  # noqa: PLC0415

    _emit(rules_text(job), out, "the alerting rules", _("wrote the alerting rules to {path}"))


@monitor.command(
    epilog=examples("monitor dashboard"),
    short_help=_("A Grafana dashboard of the exporter's metrics."),
    help=_(
        "A Grafana dashboard of the exporter's metrics: per-GPU panels, per-process memory with "
        "its environment, throttling, temperature, and the published bf16 peak verify compares "
        "with."
    ),
)
@click.option(
    "--job", default="torchenv", show_default=True, help=_("Prometheus job of the exporter.")
)
@click.option("--out", metavar="FILE", type=common.FilePath(), help=_("Write to FILE."))
def dashboard(job: str, out: str | None) -> None:
    from torchenv.commands.monitor import dashboard_text  # noqa: PLC0415

    _emit(dashboard_text(job), out, "the dashboard", _("wrote the dashboard to {path}"))


def _emit(text: str, out: str | None, what: str, done: str) -> None:
    """``text`` on stdout, or into ``out``; ``what`` names it in errors (of the untrusted
    layer, in English for now), ``done`` is the translated line that says it was written."""
    if out is None:
        sys.stdout.write(text)
        return
    from torchenv.untrusted import files  # noqa: PLC0415

    files.write_output(out, text.encode("utf-8"), what=what)
    common.progress(done.format(path=out))
