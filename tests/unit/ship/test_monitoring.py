"""The alert rules and the Grafana dashboard of ``torchenv monitor``, held to the exporter's
catalog (models/monitor.py): every metric a query selects, every label it matches, groups by
or shows in a legend or an annotation is one the exporter serves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from torchenv.models.monitor import (
    METRIC_NAMES,
    METRICS,
    POWER_REASONS,
    THERMAL_REASONS,
    THROTTLE_REASONS,
)
from torchenv.ship.monitoring import (
    grouping_labels,
    metric_names,
    queries_of_dashboard,
    queries_of_rules,
    render_dashboard,
    render_rules,
    selector_labels,
)

PROMETHEUS_LABELS = {"instance", "job"}  # what a scrape adds to every series
CARRIED = {m.name: set(m.labels) | PROMETHEUS_LABELS for m in METRICS} | {"up": PROMETHEUS_LABELS}
HELP = {m.name: m.help for m in METRICS}
ALERTS = {
    "TorchenvGpuLost",
    "TorchenvGpuEccUncorrected",
    "TorchenvGpuMemoryRetired",
    "TorchenvGpuThermalThrottling",
    "TorchenvGpuPowerThrottling",
    "TorchenvGpuMemoryNearlyFull",
    "TorchenvGpuCollectionFailing",
    "TorchenvExporterDown",
}
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def rules(job: str = "torchenv") -> list[dict[str, Any]]:
    document = yaml.safe_load(render_rules(job))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard(job: str = "torchenv") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_dashboard(job))
    return document


def carried(expr: str) -> set[str]:
    """The labels the series of ``expr`` carry: those of every metric it selects."""
    return set().union(*(CARRIED[name] for name in metric_names(expr)))


def check_query(expr: str) -> None:
    names = metric_names(expr)
    assert names, expr
    assert names <= METRIC_NAMES | {"up"}, f"{expr}: {names - METRIC_NAMES} not in the catalog"
    for name, labels in selector_labels(expr).items():
        assert labels <= CARRIED[name], f"{expr}: {name} has no label {labels - CARRIED[name]}"
    assert grouping_labels(expr) <= carried(expr), expr


# --------------------------------------------------------------------------- the PromQL reader
def test_metric_names_skips_functions_keywords_labels_and_values() -> None:
    expr = (
        'sum by (gpu, name) (rate(torchenv_gpu_ecc_errors_total{type="torchenv_x", '
        "gpu=~'0|1'}[5m:1m] offset 1h)) / on (gpu) group_left (uuid) torchenv_gpu_info "
        "> bool 1e9 and up{job=`torchenv`} unless absent(torchenv_gpus) or vector(0.5)"
    )
    assert metric_names(expr) == {
        "torchenv_gpu_ecc_errors_total",
        "torchenv_gpu_info",
        "torchenv_gpus",
        "up",
    }
    assert selector_labels(expr)["torchenv_gpu_ecc_errors_total"] == {"type", "gpu"}
    assert grouping_labels(expr) == {"gpu", "name", "uuid"}
    # Grafana's variables, inside a range and a matcher
    grafana = 'increase(torchenv_gpus{instance=~"$instance"}[$__rate_interval])'
    assert metric_names(grafana) == {"torchenv_gpus"}
    # a name that is no catalog metric is reported, not skipped, so the catalog check can see it
    assert metric_names("torchenv_gpu_temp > 80 or node_load1") == {
        "torchenv_gpu_temp",
        "node_load1",
    }
    assert metric_names("max(torchenv_gpus) without (job)") == {"torchenv_gpus"}
    with pytest.raises(ValueError, match="cannot read PromQL"):
        metric_names("torchenv_gpus # a comment")


# --------------------------------------------------------------------------- rules
def test_rules_are_the_alerts_with_severity_and_advice() -> None:
    found = rules()
    assert [rule["alert"] for rule in found] == [
        "TorchenvGpuLost",
        "TorchenvGpuEccUncorrected",
        "TorchenvGpuMemoryRetired",
        "TorchenvGpuThermalThrottling",
        "TorchenvGpuPowerThrottling",
        "TorchenvGpuMemoryNearlyFull",
        "TorchenvGpuCollectionFailing",
        "TorchenvExporterDown",
    ]
    for rule in found:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert set(rule["annotations"]) == {"summary", "description"}
        assert len(rule["annotations"]["description"]) > 150, rule["alert"]
    severity = {rule["alert"]: rule["labels"]["severity"] for rule in found}
    assert severity["TorchenvGpuEccUncorrected"] == severity["TorchenvGpuLost"] == "critical"
    waits = {rule["alert"]: rule.get("for") for rule in found}
    assert waits["TorchenvGpuThermalThrottling"] == "5m"
    assert waits["TorchenvGpuPowerThrottling"] == "15m"
    assert waits["TorchenvGpuMemoryNearlyFull"] == "10m"
    assert waits["TorchenvGpuCollectionFailing"] == "5m"
    assert waits["TorchenvExporterDown"] == "2m"
    assert waits["TorchenvGpuEccUncorrected"] is None  # at once: the job's results are wrong


def test_rule_queries_refer_to_the_catalog_only() -> None:
    queries = queries_of_rules(render_rules())
    assert len(queries) == len(ALERTS)
    for expr in queries:
        check_query(expr)


def test_rule_label_values_are_the_exporters() -> None:
    """The values matched are those the exporter writes: throttle reasons from NVML's table,
    the ECC type, remap kind and retirement cause as the catalog's help names them."""
    for expr in queries_of_rules(render_rules()):
        for label, op, value in MATCHER.findall(expr):
            if label == "job":
                continue
            (name,) = (n for n, labels in selector_labels(expr).items() if label in labels)
            values = value.split("|") if op == "=~" else [value]
            for one in values:
                if label == "reason":
                    assert one in THROTTLE_REASONS.values()
                else:
                    assert one in HELP[name], f"{name}: {label}={one}"
    by_alert = {rule["alert"]: rule["expr"] for rule in rules()}
    for reason in THERMAL_REASONS:
        assert reason in by_alert["TorchenvGpuThermalThrottling"]
    for reason in POWER_REASONS:
        assert reason in by_alert["TorchenvGpuPowerThrottling"]


def test_annotations_name_labels_the_alert_carries() -> None:
    for rule in rules():
        used: set[str] = set()
        for text in rule["annotations"].values():
            used |= set(re.findall(r"\{\{ \$labels\.(\w+) \}\}", text))
            # nothing else is templated: the integration test expands annotations so
            assert "{{" not in re.sub(r"\{\{ \$labels\.\w+ \}\}", "", text), rule["alert"]
        assert "instance" in used, rule["alert"]
        assert used <= carried(rule["expr"]), f"{rule['alert']}: {used - carried(rule['expr'])}"
    per_node = {"TorchenvGpuLost", "TorchenvGpuCollectionFailing", "TorchenvExporterDown"}
    for rule in rules():
        if rule["alert"] not in per_node:
            assert "{{ $labels.gpu }}" in rule["annotations"]["summary"], rule["alert"]


def test_the_job_goes_into_the_up_matcher() -> None:
    text = render_rules("gpu-exporter_2")
    assert 'up{job="gpu-exporter_2"} == 0' in queries_of_rules(text)
    assert "scraped as job gpu-exporter_2" in text.splitlines()[0]


# --------------------------------------------------------------------------- dashboard
def panels(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in document["panels"]:
        found += [panel, *panel.get("panels", [])]
    return found


def test_dashboard_queries_refer_to_the_catalog_only() -> None:
    queries = queries_of_dashboard(render_dashboard())
    for expr in queries:
        check_query(expr)
    used = set().union(*(metric_names(q) for q in queries))
    assert used == METRIC_NAMES | {"up"}  # every metric the exporter serves has a panel
    # the variables, read as the queries they stand for
    assert 'count by (instance) (torchenv_gpu_info{job="torchenv"})' in queries
    assert 'count by (gpu) (torchenv_gpu_info{job="torchenv", instance=~"$instance"})' in queries


def test_legends_show_labels_the_series_carry() -> None:
    for panel in panels(dashboard()):
        for target in panel.get("targets", []):
            shown = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))
            available = carried(target["expr"])
            if "without" in target["expr"]:
                available -= grouping_labels(target["expr"])
            assert shown <= available, f"{panel['title']}: {shown - available}"


def test_every_selector_names_the_job_and_gpu_selectors_the_gpu_variable() -> None:
    for panel in panels(dashboard("gpu-exporter")):
        for target in panel.get("targets", []):
            for name, labels in selector_labels(target["expr"]).items():
                assert {"job", "instance"} <= labels, target["expr"]
                assert ("gpu" in labels) == ("gpu" in CARRIED[name]), target["expr"]
            assert 'job="gpu-exporter"' in target["expr"]
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_dashboard_panels_have_unique_ids_and_do_not_overlap() -> None:
    document = dashboard()
    assert document["schemaVersion"] >= 39 and document["uid"] == "torchenv-gpus"
    names = [v["name"] for v in document["templating"]["list"]]
    assert names == ["datasource", "instance", "gpu"]
    found = panels(document)
    ids = [panel["id"] for panel in found]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], int] = {}
    row_y = -1
    for panel in found:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            assert grid["y"] > row_y and grid["w"] == 24
            row_y = grid["y"]
        else:
            assert grid["y"] > row_y, panel["title"]  # under its row
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]
    refs = [[t["refId"] for t in p.get("targets", [])] for p in found]
    assert all(len(r) == len(set(r)) for r in refs)


def test_panel_ids_stay_where_they_are() -> None:
    """A link to viewPanel=ID keeps showing the same panel."""
    ids = {panel["title"]: panel["id"] for panel in panels(dashboard())}
    assert ids["GPU utilization"] == 11
    assert ids["bf16 peak (verify's reference)"] == 41
    assert ids["Collection errors in the last hour"] == 53
    peak = next(p for p in panels(dashboard()) if p["id"] == 41)
    exprs = [t["expr"] for t in peak["targets"]]
    assert any("torchenv_gpu_published_peak_bf16_flops" in e for e in exprs)
    assert any("torchenv_gpu_published_peak_memory_bandwidth_bytes" in e for e in exprs)
    process = next(p for p in panels(dashboard()) if p["id"] == 13)
    legend = process["targets"][0]["legendFormat"]
    assert "{{environment}}" in legend and "{{torch}}" in legend


def test_another_job_gets_its_own_uid_and_title() -> None:
    other = dashboard("gpu-exporter")
    assert other["uid"].startswith("torchenv-gpus-") and len(other["uid"]) <= 40
    assert other["uid"] != dashboard("gpu-exporter2")["uid"]
    assert "gpu-exporter" in other["title"]


# --------------------------------------------------------------------------- job names
@pytest.mark.parametrize(
    "job", ["a\nb", 'x"}', "", "torchenv\n", "1job", "a b", "jöb", "a}or{b", "a\u2028b"]
)
def test_hostile_job_names_are_refused(job: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus job name"):
        render_rules(job)
    with pytest.raises(ValueError, match="not a Prometheus job name"):
        render_dashboard(job)


# --------------------------------------------------------------------------- determinism
def test_output_is_deterministic_across_processes() -> None:
    assert render_rules() == render_rules() and render_dashboard() == render_dashboard()
    code = (
        "import sys; from torchenv.ship.monitoring import render_rules, render_dashboard; "
        "sys.stdout.write(render_rules('j') + render_dashboard('j'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {render_rules("j") + render_dashboard("j")}
