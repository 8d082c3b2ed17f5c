"""The alerting rules of ``torchenv monitor rules`` under Prometheus' own tool: ``promtool check
rules`` reads them, and ``promtool test rules`` evaluates each alert over made-up series, once
where it must fire and where it must stay silent (a healthy GPU, and the bad reading before its
``for`` has run out). The dashboard's queries are parsed by promtool too, as recording rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import require
from torchenv.ship.monitoring import queries_of_dashboard, render_dashboard, render_rules

pytestmark = pytest.mark.integration

NODE = {"instance": "gpu-node-1:9835", "job": "torchenv"}
GPU0 = {
    **NODE,
    "gpu": "0",
    "uuid": "GPU-5e7b1c2d-0000-4000-8000-000000000000",
    "name": "NVIDIA H100 80GB HBM3",
    "pci_bus_id": "00000000:19:00.0",
}
SEVERITY = {
    "TorchenvGpuLost": "critical",
    "TorchenvGpuEccUncorrected": "critical",
    "TorchenvGpuMemoryRetired": "critical",
    "TorchenvGpuThermalThrottling": "warning",
    "TorchenvGpuPowerThrottling": "info",
    "TorchenvGpuMemoryNearlyFull": "info",
    "TorchenvGpuCollectionFailing": "warning",
    "TorchenvExporterDown": "warning",
}


def promtool() -> str:
    found = shutil.which("promtool")
    require(found is not None, "promtool is not installed (Debian: apt install prometheus)")
    assert found is not None
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    matchers = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{metric}{{{matchers}}}", "values": values}


GPU1 = {**GPU0, "gpu": "1", "uuid": GPU0["uuid"][:-1] + "1", "pci_bus_id": "00000000:2A:00.0"}
Case = tuple[list[dict[str, str]], list[dict[str, str]], str, str, list[dict[str, str]]]
# alert -> (series where it fires, healthy series, when it fires, a time before that where the
# bad series has not yet lasted long enough, the labels of each alert fired, without severity)
CASES: dict[str, Case] = {
    "TorchenvGpuLost": (
        [series("torchenv_gpus", NODE, "8+0x10 7+0x20")],
        [series("torchenv_gpus", NODE, "8+0x30")],
        "13m",
        "11m",
        [NODE],
    ),
    "TorchenvGpuEccUncorrected": (
        [series("torchenv_gpu_ecc_errors_total", {**GPU0, "type": "uncorrected"}, "0+0x10 1+0x20")],
        [
            # errors of the day before, then the driver reloaded (a volatile counter resets)
            series("torchenv_gpu_ecc_errors_total", {**GPU0, "type": "uncorrected"},
                   "3+0x5 0+0x25"),
            series("torchenv_gpu_ecc_errors_total", {**GPU0, "type": "corrected"}, "0+5x30"),
        ],
        "12m",
        "5m",
        [{**GPU0, "type": "uncorrected"}],
    ),
    "TorchenvGpuMemoryRetired": (
        [
            series("torchenv_gpu_remapped_rows", {**GPU0, "kind": "uncorrectable"},
                   "0+0x10 1+0x30"),
            series("torchenv_gpu_retired_pages", {**GPU1, "cause": "double_bit"}, "0+0x10 2+0x30"),
        ],
        [
            # a row remapped long ago, and correctable ones growing: no news
            series("torchenv_gpu_remapped_rows", {**GPU0, "kind": "uncorrectable"}, "2+0x30"),
            series("torchenv_gpu_remapped_rows", {**GPU0, "kind": "correctable"}, "0+1x30"),
            series("torchenv_gpu_retired_pages", {**GPU0, "cause": "single_bit"}, "0+1x30"),
        ],
        "15m",
        "5m",
        [{**GPU0, "kind": "uncorrectable"}, {**GPU1, "cause": "double_bit"}],
    ),
    "TorchenvGpuThermalThrottling": (
        [series("torchenv_gpu_throttle_active", {**GPU0, "reason": "hw_thermal_slowdown"},
                "0+0x5 1+0x20")],
        [
            series("torchenv_gpu_throttle_active", {**GPU0, "reason": "hw_thermal_slowdown"},
                   "0 1 1 0 1 1 0 1 1 0 1 1 0 1 1 0"),
            series("torchenv_gpu_throttle_active", {**GPU0, "reason": "sw_power_cap"}, "1+0x20"),
            series("torchenv_gpu_throttle_active", {**GPU0, "reason": "gpu_idle"}, "1+0x20"),
        ],
        "12m",
        "8m",
        [{**GPU0, "reason": "hw_thermal_slowdown"}],
    ),
    "TorchenvGpuPowerThrottling": (
        [series("torchenv_gpu_throttle_active", {**GPU0, "reason": "sw_power_cap"}, "1+0x30")],
        [
            series("torchenv_gpu_throttle_active", {**GPU0, "reason": "sw_power_cap"}, "0+0x30"),
            series("torchenv_gpu_throttle_active", {**GPU0, "reason": "sw_thermal_slowdown"},
                   "1+0x30"),
        ],
        "20m",
        "10m",
        [{**GPU0, "reason": "sw_power_cap"}],
    ),
    "TorchenvGpuMemoryNearlyFull": (
        [
            series("torchenv_gpu_memory_used_bytes", GPU0, "79e9+0x20"),
            series("torchenv_gpu_memory_total_bytes", GPU0, "80e9+0x20"),
        ],
        [
            series("torchenv_gpu_memory_used_bytes", GPU0, "60e9+0x20"),
            series("torchenv_gpu_memory_total_bytes", GPU0, "80e9+0x20"),
        ],
        "12m",
        "5m",
        [GPU0],
    ),
    "TorchenvGpuCollectionFailing": (
        [series("torchenv_exporter_collect_success", {**NODE, "source": "nvml"}, "0+0x20")],
        [  # NVML fails, nvidia-smi reads the GPUs: the exporter still collects
            series("torchenv_exporter_collect_success", {**NODE, "source": "nvml"}, "0+0x20"),
            series("torchenv_exporter_collect_success", {**NODE, "source": "nvidia-smi"},
                   "1+0x20"),
        ],
        "7m",
        "3m",
        [NODE],
    ),
    "TorchenvExporterDown": (
        [series("up", NODE, "1+0x3 0+0x10")],
        [series("up", {**NODE, "job": "node"}, "0+0x13"), series("up", NODE, "1+0x13")],
        "7m",
        "5m",
        [NODE],
    ),
}  # fmt: skip


def expanded(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations as Prometheus expands them for an alert with ``labels`` (they
    template nothing but ``{{ $labels.NAME }}``: the unit test checks)."""
    return {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        for key, text in rule["annotations"].items()
    }


def unit_tests(rules_text: str, cases: dict[str, Case]) -> dict[str, Any]:
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load(rules_text)["groups"]
        for rule in group["rules"]
    }
    tests = []
    for alert, (bad, good, firing, early, fired) in cases.items():
        expected = [{**labels, "severity": SEVERITY[alert]} for labels in fired]
        alerts = [
            {"exp_labels": labels, "exp_annotations": expanded(rules[alert], labels)}
            for labels in expected
        ]
        tests += [
            {
                "name": f"{alert} fires",
                "interval": "1m",
                "input_series": bad,
                "alert_rule_test": [
                    {"eval_time": firing, "alertname": alert, "exp_alerts": alerts},
                    {"eval_time": early, "alertname": alert, "exp_alerts": []},
                ],
            },
            {
                "name": f"{alert} stays silent",
                "interval": "1m",
                "input_series": good,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": alert, "exp_alerts": []}
                    for at in (early, firing)
                ],
            },
        ]
    return {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}


def write_tests(tmp_path: Path, rules_text: str, cases: dict[str, Case]) -> Path:
    (tmp_path / "rules.yml").write_text(rules_text)
    path = tmp_path / "tests.yml"
    path.write_text(yaml.safe_dump(unit_tests(rules_text, cases), sort_keys=False))
    return path


def test_promtool_checks_the_rules_and_refuses_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(render_rules())
    done = run("check", "rules", "rules.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout + done.stderr
    broken = render_rules().replace("== 0", "=== 0", 1)
    (tmp_path / "broken.yml").write_text(broken)
    done = run("check", "rules", "broken.yml", cwd=tmp_path)
    assert done.returncode != 0 and "parse error" in done.stdout + done.stderr


def test_every_alert_fires_on_its_case_and_stays_silent_otherwise(tmp_path: Path) -> None:
    rules_text = render_rules()
    alerts = [r["alert"] for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"]]
    assert sorted(alerts) == sorted(CASES)  # a case for each alert
    path = write_tests(tmp_path, rules_text, CASES)
    done = run("test", "rules", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    """The firing cases are checked: a healthy series presented as one that fires fails."""
    bad, good, firing, early, labels = CASES["TorchenvGpuThermalThrottling"]
    swapped = {"TorchenvGpuThermalThrottling": (good, bad, firing, early, labels)}
    path = write_tests(tmp_path, render_rules(), swapped)
    done = run("test", "rules", path.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "TorchenvGpuThermalThrottling" in done.stdout + done.stderr


def test_another_job_is_the_one_watched(tmp_path: Path) -> None:
    node = {**NODE, "job": "gpu-exporter"}
    cases: dict[str, Case] = {
        "TorchenvExporterDown": (
            [series("up", node, "1+0x3 0+0x10")],
            [series("up", NODE, "1+0x3 0+0x10")],  # the default job is someone else's now
            "7m",
            "5m",
            [node],
        )
    }
    path = write_tests(tmp_path, render_rules("gpu-exporter"), cases)
    done = run("test", "rules", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each query of the dashboard (Grafana's variables given values) as a recording rule."""
    values = {"$__rate_interval": "5m", "$instance": ".*", "$gpu": ".*"}
    records = []
    for index, query in enumerate(queries_of_dashboard(render_dashboard())):
        expr = query
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, query
        records.append({"record": f"torchenv:dashboard_query_{index}", "expr": expr})
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    done = run("check", "rules", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
