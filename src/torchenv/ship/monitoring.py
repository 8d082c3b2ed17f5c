"""The files of ``torchenv monitor rules`` and ``torchenv monitor dashboard``: Prometheus
alerting rules and a Grafana dashboard over the metrics of ``torchenv monitor serve``, and a
reader of the PromQL in them, with which the tests hold every query to the exporter's catalog
(models/monitor.py: METRICS), so the three cannot drift apart.

The causes the alerts cite are NVIDIA's: the Xid Errors guide (Xid 48 double-bit ECC error,
Xid 79 GPU fallen off the bus, Xid 94/95 contained/uncontained ECC error), the GPU Memory
Error Management guide (page retirement before Ampere, row remapping since, both taking effect
at the next GPU reset) and nvml.h's clock-event reasons (models/monitor.py: THROTTLE_REASONS).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from torchenv.models.monitor import POWER_REASONS, THERMAL_REASONS
from torchenv.ship.dashboard import dashboard_model
from torchenv.ship.yamltext import comment_lines

# a Prometheus job name as torchenv writes it into a label matcher: ASCII, no quote, no brace
_JOB = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")
_GPU = "GPU {{ $labels.gpu }} ({{ $labels.name }}, {{ $labels.uuid }}) on {{ $labels.instance }}"


class _RulesDumper(yaml.SafeDumper):
    """No anchors, and an expression of several lines as a literal block (``|-``), which
    keeps its lines as written, where a plain scalar would be folded at the width."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RulesDumper.add_representer(str, _text)


def check_job(job: str) -> str:
    """``job`` when it is a Prometheus job name torchenv can write into ``job="..."``."""
    if not isinstance(job, str) or not _JOB.fullmatch(job):
        raise ValueError(f"not a Prometheus job name: {job!r} (letters, digits, '_' and '-')")
    return job


def _reasons(reasons: tuple[str, ...]) -> str:
    return "|".join(reasons)


def _alert(
    name: str, expr: str, wait: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if wait:
        rule["for"] = wait
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def _gpu_rules() -> list[dict[str, Any]]:
    return [
        _alert(
            "TorchenvGpuLost",
            "torchenv_gpus < max_over_time(torchenv_gpus[1h])",
            "1m",
            "critical",
            "A GPU disappeared from {{ $labels.instance }}",
            "The exporter on {{ $labels.instance }} sees fewer GPUs than it did within the last "
            "hour. A GPU that fell off the bus is NVIDIA Xid 79 (NVIDIA's Xid Errors guide): "
            "look for it in `dmesg | grep -i xid` and `nvidia-smi`, drain the node, then reset "
            "the GPU or reboot; if it happens again, check power and PCIe seating and have the "
            "GPU replaced. The alert clears an hour after the drop whether or not the GPU came "
            "back.",
        ),
        _alert(
            "TorchenvGpuEccUncorrected",
            'increase(torchenv_gpu_ecc_errors_total{type="uncorrected"}[10m]) > 0',
            "",
            "critical",
            f"Uncorrectable ECC error on {_GPU}",
            f"{_GPU} reported an uncorrectable ECC error in the last 10 minutes: Xid 48 "
            "(double-bit ECC error), or Xid 94/95 (contained/uncontained ECC error) on A100 and "
            "newer, in NVIDIA's Xid Errors guide. The process that touched the memory got a CUDA "
            "error and its results cannot be trusted: restart the job on other GPUs, drain this "
            "one and reset it (`nvidia-smi -r`) or reboot, so that the page retirement or row "
            "remapping takes effect (NVIDIA's GPU Memory Error Management guide). If it "
            "repeats, have the GPU replaced.",
        ),
        _alert(
            "TorchenvGpuMemoryRetired",
            'delta(torchenv_gpu_remapped_rows{kind="uncorrectable"}[1h]) > 0\n'
            'or delta(torchenv_gpu_retired_pages{cause="double_bit"}[1h]) > 0',
            "",
            "critical",
            f"{_GPU} retired memory after an uncorrectable error",
            f"{_GPU} remapped a memory row (Ampere and newer) or retired a page (before Ampere) "
            "after an uncorrectable error within the last hour. The replacement takes effect at "
            "the next GPU reset (NVIDIA's GPU Memory Error Management guide): drain the GPU, "
            "reset it (`nvidia-smi -r`) or reboot, then read `nvidia-smi -q -d ROW_REMAPPER` "
            "(Remapping Failure Occurred: Yes means no spare row was left) or "
            "`nvidia-smi -q -d PAGE_RETIREMENT`; a remapping failure, or pages retired again "
            "and again, is the guide's reason to have the GPU replaced.",
        ),
        _alert(
            "TorchenvGpuThermalThrottling",
            f'torchenv_gpu_throttle_active{{reason=~"{_reasons(THERMAL_REASONS)}"}}\n== 1',
            "5m",
            "warning",
            f"{_GPU} is slowed down for heat ({{{{ $labels.reason }}}})",
            f"{_GPU} has held its clocks down for {{{{ $labels.reason }}}} for 5 minutes "
            "(nvml.h clock-event reasons; hw_slowdown is heat or the power brake): it runs "
            "slower than it can, and a distributed job waits for its slowest GPU. Check the "
            "temperature panel, the fans or coolant flow, the air intake and the room.",
        ),
        _alert(
            "TorchenvGpuPowerThrottling",
            f'torchenv_gpu_throttle_active{{reason=~"{_reasons(POWER_REASONS)}"}} == 1',
            "15m",
            "info",
            f"{_GPU} is held at its power limit ({{{{ $labels.reason }}}})",
            f"{_GPU} has held its clocks down for {{{{ $labels.reason }}}} for 15 minutes "
            "(nvml.h clock-event reasons). sw_power_cap under a full load is expected: compare "
            "the enforced limit with the default (`nvidia-smi -q -d POWER`) in case it was "
            "lowered. hw_power_brake_slowdown means the system asserted the power brake: check "
            "the node's power supplies.",
        ),
        _alert(
            "TorchenvGpuMemoryNearlyFull",
            "torchenv_gpu_memory_used_bytes / torchenv_gpu_memory_total_bytes > 0.95\n"
            "and torchenv_gpu_memory_total_bytes > 0",
            "10m",
            "info",
            f"{_GPU} has used over 95% of its memory for 10 minutes",
            f"{_GPU} has used over 95% of its memory for 10 minutes. PyTorch's caching allocator "
            "keeps freed blocks reserved, so one training job near the limit can be normal; it "
            "matters when processes share the GPU or a job fails with CUDA out of memory. See "
            "the dashboard's memory per process, and torch.cuda.memory_summary() in the job "
            "(reserved against allocated).",
        ),
    ]


def _exporter_rules(job: str) -> list[dict[str, Any]]:
    return [
        _alert(
            "TorchenvGpuCollectionFailing",
            "max without (source) (torchenv_exporter_collect_success) == 0",
            "5m",
            "warning",
            "torchenv's exporter on {{ $labels.instance }} cannot read the GPUs",
            "Every collection of the exporter on {{ $labels.instance }} failed for 5 minutes "
            "(NVML and nvidia-smi): its GPU series are missing, so no other GPU alert can fire "
            "for the node. See torchenv_exporter_collect_errors_total by reason and the "
            "exporter's log; NVML's 'Driver/library version mismatch' after a driver update "
            "needs a reboot (or a reload of the nvidia kernel modules).",
        ),
        _alert(
            "TorchenvExporterDown",
            f'up{{job="{job}"}} == 0',
            "2m",
            "warning",
            "torchenv's exporter on {{ $labels.instance }} is down",
            f"Prometheus has not scraped job {job} on {{{{ $labels.instance }}}} for 2 minutes: "
            "`torchenv monitor serve` is not running or not reachable, so no GPU alert can fire "
            "for the node. Check the service (systemctl status, or its container), the port and "
            "the network path from Prometheus.",
        ),
    ]


def render_rules(job: str = "torchenv") -> str:
    """Prometheus alerting rules (``rule_files:``) for the exporter scraped as ``job``."""
    check_job(job)
    document = {
        "groups": [
            {"name": "torchenv-gpu", "rules": _gpu_rules()},
            {"name": "torchenv-exporter", "rules": _exporter_rules(job)},
        ]
    }
    header = (
        f"Alerting rules for torchenv monitor serve, scraped as job {job} (written by torchenv\n"
        "monitor rules). Check with `promtool check rules FILE`; load with rule_files: in\n"
        "prometheus.yml, and route the severity label (critical, warning, info) in Alertmanager."
    )
    comment = "".join(f"{line}\n" for line in comment_lines(header))
    return comment + yaml.dump(document, Dumper=_RulesDumper, sort_keys=False, width=100)


def render_dashboard(job: str = "torchenv") -> str:
    """A Grafana dashboard (JSON) of the exporter scraped as ``job``: a ``datasource``
    variable, so it is imported or provisioned as it is."""
    return json.dumps(dashboard_model(check_job(job)), indent=2) + "\n"


# --------------------------------------------------------------------------- reading PromQL
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<range>\[[^\]]*\])
    |(?P<number>(?:\d+(?:ms|[smhdwy]))+(?![\w.])|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    |(?P<variable>\$\{?\w+\}?)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>,(){}@])""",
    re.VERBOSE,
)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _GROUPING | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
_MATCH_OPS = {"=", "!=", "=~", "!~"}


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(expr):
        found = _TOKEN.match(expr, at)
        if found is None or found.lastgroup is None:
            raise ValueError(f"cannot read PromQL at {at}: {expr[at : at + 20]!r}")
        if found.lastgroup != "space":
            tokens.append((found.lastgroup, found.group()))
        at = found.end()
    return tokens


def _parts(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The selectors of ``expr`` (metric name, the labels its matchers name) and the labels of
    its by/without/on/ignoring/group_left/group_right lists."""
    tokens = _tokens(expr)
    selectors: list[tuple[str, set[str]]] = []
    grouping: set[str] = set()
    at = 0
    while at < len(tokens):
        kind, text = tokens[at]
        following = tokens[at + 1][1] if at + 1 < len(tokens) else ""
        if kind == "ident" and text.lower() in _GROUPING and following == "(":
            end = at + 2
            while end < len(tokens) and tokens[end][1] != ")":
                if tokens[end][0] == "ident":
                    grouping.add(tokens[end][1])
                end += 1
            at = end + 1
            continue
        if kind == "ident" and (
            text.lower() in _KEYWORDS or text in _AGGREGATIONS or following == "("
        ):
            at += 1
            continue
        if kind == "ident" or text == "{":
            name = text if kind == "ident" else ""
            labels: set[str] = set()
            end = at + 1 if kind == "ident" else at
            if end < len(tokens) and tokens[end][1] == "{":
                while end < len(tokens) and tokens[end][1] != "}":
                    ahead = tokens[end + 1][1] if end + 1 < len(tokens) else ""
                    if tokens[end][0] == "ident" and ahead in _MATCH_OPS:
                        labels.add(tokens[end][1])
                    end += 1
                end += 1
            selectors.append((name, labels))
            at = end
            continue
        at += 1
    return selectors, grouping


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, keywords, label names
    or label values)."""
    return {name for name, _ in _parts(expr)[0] if name}


def selector_labels(expr: str) -> dict[str, set[str]]:
    """Metric name -> the labels its matchers in ``expr`` name."""
    found: dict[str, set[str]] = {}
    for name, labels in _parts(expr)[0]:
        found.setdefault(name, set()).update(labels)
    return found


def grouping_labels(expr: str) -> set[str]:
    """The labels of ``expr``'s by, without, on, ignoring, group_left and group_right lists."""
    return _parts(expr)[1]


def queries_of_rules(text: str) -> list[str]:
    """The ``expr`` of every rule of a rules file."""
    document = yaml.safe_load(text)
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


_LABEL_VALUES = re.compile(r"label_values\((?P<expr>.+),\s*(?P<label>\w+)\s*\)", re.DOTALL)


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found += _panels(panel.get("panels", []))  # a collapsed row holds its panels
    return found


def queries_of_dashboard(text: str) -> list[str]:
    """The PromQL of a dashboard: every target's ``expr``, and each query variable's
    ``label_values(EXPR, LABEL)`` as the query it stands for, ``count by (LABEL) (EXPR)``."""
    document = json.loads(text)
    queries = [
        target["expr"]
        for panel in _panels(document.get("panels", []))
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in document.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        found = _LABEL_VALUES.fullmatch(query.strip())
        queries.append(f"count by ({found['label']}) ({found['expr']})" if found else query)
    return queries
