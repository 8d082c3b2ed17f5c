"""The monitoring ``torchenv deploy`` ships beside a training run: the exporter of ``torchenv
monitor serve`` in the environment's own image, and with ``--monitoring`` what reads it.

compose: the provisioning files of a Prometheus and a Grafana service (the services themselves
are in compose.py): prometheus.yml scraping the exporter with the rules of ``torchenv monitor
rules`` beside it, and Grafana's datasource and dashboard provider for the dashboard of
``torchenv monitor dashboard``; both rendered here from ship/monitoring.py, for the job
``JOB``, so the queries and the scrape config name the same job.

Kubernetes: a DaemonSet of the exporter on the GPU nodes with a headless Service carrying the
prometheus.io annotations, and for the Prometheus operator a ServiceMonitor and a
PrometheusRule in a file of their own, since their CRDs (monitoring.coreos.com/v1) may not be
installed. The exporter shares the host's PID namespace, which the "baseline" and "restricted"
Pod Security Standards forbid (kubernetes.io/docs/concepts/security/pod-security-standards,
"Host Namespaces"): its namespace needs the "privileged" level, so it never shares the
training file, whose pods stay "restricted".

Why the host's PIDs: NVML reports a GPU's processes by their PID in the host's namespace, and
the exporter reads /proc/PID of each (probe/procenv.py) to label it with its environment and
torch build; in a PID namespace of its own those PIDs are another process or none. Paths in
/proc are those of the process's mount namespace, read from the exporter's: in the same image,
/opt/env is the same environment, so the labels (prefix, torch, variant) come out right.

The image tags are pinned (never an implicit "latest"): Prometheus 3.5 is the long-term
support release of Prometheus 3 (prometheus.io, "Long-term support"); Grafana 12 migrates the
dashboard's schemaVersion (ship/dashboard.py) when it loads it. Change them here, in one place.
"""

from __future__ import annotations

from typing import Any

import yaml

from torchenv.models.ship import ShipFile, SpecImage
from torchenv.ship.dockerfile import TOOL_PREFIX
from torchenv.ship.monitoring import render_dashboard, render_rules
from torchenv.ship.yamltext import comment_lines, yaml_text

EXPORTER_PORT = 9847  # torchenv monitor serve's default --port
JOB = "torchenv"  # the Prometheus job: the default of `torchenv monitor rules/dashboard --job`
SCRAPE_INTERVAL = "15s"  # the exporter reads the GPUs every 15 s (--interval); a scrape reads that
PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
GRAFANA_IMAGE = "grafana/grafana:12.1.1"
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
# what torchenv reads and never writes: the user makes it (compose.py's header says how)
GRAFANA_PASSWORD_FILE = "secrets/grafana_admin_password"  # noqa: S105 - a path
GRAFANA_SECRET = "grafana_admin_password"  # noqa: S105 - the secret's name
PROMETHEUS_DIR = "/etc/prometheus"  # prometheus/ is mounted there, so rules.yml is beside
GRAFANA_DASHBOARDS = "/etc/grafana/dashboards"
# the label the NVIDIA GPU Operator puts on GPU nodes, and the taint GPU node pools commonly
# carry
GPU_NODE_LABEL = "nvidia.com/gpu.present"
GPU_TAINT = "nvidia.com/gpu"
# an HTTP check that needs nothing in the image but torchenv's own Python
HEALTH = [
    f"{TOOL_PREFIX}/bin/python",
    "-c",
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{EXPORTER_PORT}/metrics', timeout=10).read()",
]
# the environment of the exporter's container: NVML and nvidia-smi are the NVIDIA runtime's
# "utility" capability; without "compute" it cannot open a CUDA context on the GPUs it watches
EXPORTER_ENV = {"NVIDIA_DRIVER_CAPABILITIES": "utility", "TORCHENV_SSH": "0"}
HOST_PID_WHY = (
    "the host's PID namespace: NVML reports the GPU processes by their host PID, and the\n"
    "exporter reads /proc/PID of each to label it with its environment and torch build."
)


def exporter_args() -> list[str]:
    """``torchenv monitor serve`` on every interface of its container: the port is what is
    published (compose, on 127.0.0.1 only) or reached through the cluster's network."""
    every = "0.0.0.0"  # noqa: S104 - the container's own interfaces, as said above
    return ["torchenv", "monitor", "serve", "--listen", every, "--port", str(EXPORTER_PORT)]


def comment_before(text: str, line: str, comment: str) -> str:
    """``text`` with ``comment`` as comment lines before its one line that reads ``line`` once
    stripped, at that line's indentation. YAML quotes a string value holding ": ", so a
    value from the spec cannot read as ``line``."""
    lines = text.split("\n")
    found = [i for i, text_line in enumerate(lines) if text_line.strip() == line]
    if len(found) != 1:
        raise ValueError(f"{line!r} is not one line of the text")
    at = found[0]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at:at] = [indent + c for c in comment_lines(comment)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- compose files
def render_prometheus_config(target: str = f"exporter:{EXPORTER_PORT}") -> str:
    """prometheus.yml: the exporter scraped as ``JOB``, the rules file beside it (a relative
    path is read from the config file's directory: Prometheus' configuration docs)."""
    document = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    header = (
        f"Prometheus for torchenv monitor serve, scraped as job {JOB} (written by torchenv\n"
        f"deploy). Mounted at {PROMETHEUS_DIR} with rules.yml (torchenv monitor rules); no\n"
        "Alertmanager is configured: firing alerts show at /alerts. Check it with\n"
        "`promtool check config prometheus.yml`."
    )
    return yaml_text(header, [document])


def render_grafana_datasource() -> str:
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": "torchenv-prometheus",
                "access": "proxy",  # Grafana's server queries it: the browser never does
                "url": f"http://prometheus:{PROMETHEUS_PORT}",
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    return yaml_text(
        "Grafana datasource: the Prometheus service (written by torchenv).", [document]
    )


def render_grafana_dashboards() -> str:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "torchenv",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,  # the file is the dashboard: the next deploy rewrites it
                "options": {"path": GRAFANA_DASHBOARDS},
            }
        ],
    }
    header = (
        f"Grafana dashboards from {GRAFANA_DASHBOARDS} (grafana/dashboards/ here), written by\n"
        "torchenv: the GPU dashboard of torchenv monitor dashboard."
    )
    return yaml_text(header, [document])


def compose_monitoring_files() -> list[ShipFile]:
    """The provisioning files beside compose.yaml, as the prometheus and grafana services of
    compose.py mount them."""
    return [
        ShipFile("prometheus/prometheus.yml", render_prometheus_config()),
        ShipFile("prometheus/rules.yml", render_rules(JOB)),
        ShipFile("grafana/provisioning/datasources/prometheus.yml", render_grafana_datasource()),
        ShipFile("grafana/provisioning/dashboards/torchenv.yml", render_grafana_dashboards()),
        ShipFile("grafana/dashboards/torchenv.json", render_dashboard(JOB)),
    ]


# --------------------------------------------------------------------------- Kubernetes
def exporter_name(name: str) -> str:
    """The DaemonSet's, the Service's and the ServiceMonitor's name (``name``: a k8s_name, at
    most 40 characters, so this stays within a label's 63 with the pods' suffix)."""
    return f"{name}-gpu-exporter"


def _exporter_labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": exporter_name(name),
        "app.kubernetes.io/managed-by": "torchenv",
    }


def _exporter_pod(options: SpecImage, image: str) -> dict[str, Any]:
    uid, gid = options.ids()
    container = {
        "name": "exporter",
        "image": image,
        "args": exporter_args(),
        # no nvidia.com/gpu request, which would take a GPU from the training pods: the NVIDIA
        # container runtime gives NVML for every GPU of the node when this variable says "all"
        "env": [
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
            *({"name": k, "value": v} for k, v in EXPORTER_ENV.items()),
        ],
        "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        # about 35 MB resident without GPUs, measured; NVML adds its own
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "livenessProbe": {
            "httpGet": {"path": "/metrics", "port": "metrics"},
            "initialDelaySeconds": 30,
            "periodSeconds": 30,
            "timeoutSeconds": 10,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "hostPID": True,
        "nodeSelector": {GPU_NODE_LABEL: "true"},
        "tolerations": [{"key": GPU_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {
            # the image's user: the training processes' own, whose /proc/PID/environ it may read
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }


def render_exporter_k8s(name: str, options: SpecImage, image: str) -> str:
    """``<name>-exporter.yaml``: the DaemonSet and its headless Service."""
    labels = _exporter_labels(name)
    # the ServiceMonitor takes the job name from this label (jobLabel), so that the rules and
    # the dashboard of job "torchenv" match
    service_labels = {**labels, "app.kubernetes.io/part-of": JOB}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": exporter_name(name),
            "labels": service_labels,
            # read by Prometheus configurations that discover Services by annotation (the
            # prometheus-community chart's kubernetes-service-endpoints job)
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(EXPORTER_PORT),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "clusterIP": "None",  # headless: each node's exporter is an endpoint of its own
            "selector": labels,
            "ports": [{"name": "metrics", "port": EXPORTER_PORT, "targetPort": "metrics"}],
        },
    }
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": exporter_name(name), "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _exporter_pod(options, image)},
        },
    }
    header = (
        f"GPU exporter (torchenv monitor serve) on every GPU node, in the image of {name!r}\n"
        "(written by torchenv deploy --monitoring).\n"
        f"kubectl apply -n NAMESPACE -f {name}-exporter.yaml, in a namespace whose Pod Security\n"
        "level is privileged: hostPID is forbidden by baseline and restricted alike. Keep it out\n"
        "of the training namespace when that one enforces restricted (the training pods meet it).\n"
        f"Nodes: those labelled {GPU_NODE_LABEL}=true (the NVIDIA GPU Operator's label); edit the\n"
        "nodeSelector for another label. No GPU is requested: NVML comes from the NVIDIA\n"
        "container runtime with NVIDIA_VISIBLE_DEVICES=all, which needs the nvidia runtime as\n"
        "the node's default (else add runtimeClassName: nvidia) and a toolkit that accepts the\n"
        "variable from unprivileged containers (accept-nvidia-visible-devices-envvar-when-\n"
        "unprivileged; Bottlerocket turns it off); otherwise the exporter sees no GPU."
    )
    text = yaml_text(header, [service, daemonset])
    return comment_before(text, "hostPID: true", HOST_PID_WHY)


def render_operator_k8s(name: str) -> str:
    """``<name>-monitoring.yaml``: a ServiceMonitor of the exporter's Service and the alert
    rules as a PrometheusRule, for the Prometheus operator."""
    labels = {
        "app.kubernetes.io/name": exporter_name(name),
        "app.kubernetes.io/managed-by": "torchenv",
    }
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": exporter_name(name), "labels": labels},
        "spec": {
            "jobLabel": "app.kubernetes.io/part-of",  # the Service's label: job "torchenv"
            "selector": {"matchLabels": _exporter_labels(name)},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    # the node's name as the instance, which the dashboard lists
                    "relabelings": [
                        {
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "instance",
                        }
                    ],
                }
            ],
        },
    }
    rules = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": f"{name}-gpu-alerts", "labels": labels},
        "spec": yaml.safe_load(render_rules(JOB)),
    }
    header = (
        f"The Prometheus operator's objects for the GPU exporter of {name!r} (written by torchenv\n"
        "deploy --monitoring): needs the CRDs of monitoring.coreos.com/v1. Apply it in the\n"
        f"namespace of {name}-exporter.yaml. A Prometheus selects them by label: add the one it\n"
        "asks for (kube-prometheus-stack: release: RELEASE) to both. Without the operator, a\n"
        "Prometheus that discovers Services by the prometheus.io annotations scrapes the exporter\n"
        "under a job name of its own: render the rules and dashboard for it with\n"
        "`torchenv monitor rules --job JOB` and `torchenv monitor dashboard --job JOB`."
    )
    return yaml_text(header, [monitor, rules])
