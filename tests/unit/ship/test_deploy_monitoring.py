"""The monitoring `deploy` ships: the GPU exporter beside a compose training run, Prometheus and
Grafana with `--monitoring`, and on Kubernetes the exporter's DaemonSet with the Prometheus
operator's objects. Every port on 127.0.0.1, pinned image tags, a scrape config that names the
exporter service, and the rules and dashboard exactly as ship.monitoring renders them."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from ship_project import ship_project, stack
from torchenv import cli
from torchenv.commands.deploy import run_deploy
from torchenv.errors import UsageError
from torchenv.models.ship import SpecDeploy, SpecImage, parse_reference
from torchenv.probe.host import user_ids
from torchenv.ship import monitorstack as ms
from torchenv.ship.compose import render_train_compose
from torchenv.ship.monitoring import render_dashboard, render_rules

GPUS = SpecDeploy(gpus_per_node=4, command=("train.py",))
USER = (1234, 2345)


def compose(monitoring: bool = True, image: str = "r.io/demo:1") -> dict[str, Any]:
    text = render_train_compose(stack(), GPUS, image, exporter_user=USER, monitoring=monitoring)
    (document,) = yaml.safe_load_all(text)
    assert isinstance(document, dict)
    return document


def files() -> dict[str, str]:
    return {f.path: f.text for f in ms.compose_monitoring_files()}


def mounts(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["target"]: v for v in service.get("volumes", [])}


def comment_above(text: str, line: str) -> str:
    lines = text.splitlines()
    at = [i for i, item in enumerate(lines) if item.strip() == line]
    assert len(at) == 1, line
    above = []
    for item in reversed(lines[: at[0]]):
        if not item.strip().startswith("#"):
            break
        above.insert(0, item.strip().lstrip("# "))
    return " ".join(above)


# --- compose: the exporter -----------------------------------------------------------------


def test_a_gpu_training_run_gets_the_exporter_in_its_own_image() -> None:
    document = compose(monitoring=False)
    assert set(document["services"]) == {"train", "exporter"}
    train, exporter = document["services"]["train"], document["services"]["exporter"]
    assert exporter["image"] == train["image"] == "r.io/demo:1"
    assert exporter["command"] == [
        "torchenv",
        "monitor",
        "serve",
        "--listen",
        "0.0.0.0",  # noqa: S104 - inside its container; published on 127.0.0.1 below
        "--port",
        str(ms.EXPORTER_PORT),
    ]
    assert exporter["pid"] == "host"
    assert exporter["ports"] == ["127.0.0.1:9847:9847"]
    assert exporter["read_only"] is True and exporter["tmpfs"] == ["/tmp"]
    assert exporter["security_opt"] == ["no-new-privileges:true"]
    assert exporter["cap_drop"] == ["ALL"]
    assert exporter["user"] == "1234:2345"  # non-root: the image's user
    # the training service's way of asking for GPUs, for every GPU of the machine
    (device,) = exporter["deploy"]["resources"]["reservations"]["devices"]
    (trained,) = train["deploy"]["resources"]["reservations"]["devices"]
    assert device == {**trained, "count": "all"}
    # NVML and nvidia-smi only: no CUDA context on the GPUs it watches
    assert exporter["environment"]["NVIDIA_DRIVER_CAPABILITIES"] == "utility"
    # its health is the metrics endpoint, not the image's verify (which imports torch)
    assert "urlopen('http://127.0.0.1:9847/metrics'" in exporter["healthcheck"]["test"][-1]
    assert "volumes" not in document and "secrets" not in document


def test_the_compose_file_says_why_the_exporter_shares_the_host_pids() -> None:
    text = render_train_compose(stack(), GPUS, "i:1", exporter_user=USER)
    why = comment_above(text, "pid: host")
    assert "host PID" in why and "/proc/PID" in why and "environment" in why


def test_without_an_exporter_the_training_file_is_as_before() -> None:
    text = render_train_compose(stack(), GPUS, "i:1")
    (document,) = yaml.safe_load_all(text)
    assert set(document["services"]) == {"train"} and "pid: host" not in text
    with pytest.raises(ValueError, match="exporter_user"):
        render_train_compose(stack(), GPUS, "i:1", monitoring=True)


def test_an_image_reference_is_written_alike_for_train_and_exporter() -> None:
    document = compose(image="r.io/x:$tag")
    services = document["services"]
    assert services["exporter"]["image"] == services["train"]["image"] == "r.io/x:$$tag"


# --- compose: Prometheus and Grafana -------------------------------------------------------


def test_every_published_port_is_on_loopback() -> None:
    services = compose()["services"]
    assert set(services) == {"train", "exporter", "prometheus", "grafana"}
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published == ["127.0.0.1:9847:9847", "127.0.0.1:9090:9090", "127.0.0.1:3000:3000"]
    assert all(p.startswith("127.0.0.1:") for p in published)


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_the_images_are_pinned_official_ones(service: str) -> None:
    image = compose()["services"][service]["image"]
    assert image == {"prometheus": ms.PROMETHEUS_IMAGE, "grafana": ms.GRAFANA_IMAGE}[service]
    parts = parse_reference(image)
    assert (
        parts is not None
        and parts["path"]
        == {
            "prometheus": "prom/prometheus",
            "grafana": "grafana/grafana",
        }[service]
    )
    assert parts["tag"] is not None and re.fullmatch(r"v?\d+\.\d+\.\d+", parts["tag"])


def test_prometheus_scrapes_the_exporter_service_with_the_rules_beside_its_config() -> None:
    document = compose()
    prometheus = document["services"]["prometheus"]
    config = yaml.safe_load(files()["prometheus/prometheus.yml"])
    (scrape,) = config["scrape_configs"]
    assert scrape["job_name"] == ms.JOB == "torchenv"
    (targets,) = scrape["static_configs"]
    host, _, port = targets["targets"][0].partition(":")
    # the service named in the target is the exporter, on the port its command serves
    assert host in document["services"] and host == "exporter"
    assert port == document["services"]["exporter"]["command"][-1] == str(ms.EXPORTER_PORT)
    # the rules file is relative, so read from the config's directory, which is mounted whole
    assert config["rule_files"] == ["rules.yml"]
    mount = mounts(prometheus)[ms.PROMETHEUS_DIR]
    assert mount["source"] == "./prometheus" and mount["read_only"] is True
    assert f"--config.file={ms.PROMETHEUS_DIR}/prometheus.yml" in prometheus["command"]
    assert prometheus["read_only"] is True and prometheus["cap_drop"] == ["ALL"]


def test_the_rules_and_the_dashboard_are_what_ship_monitoring_renders() -> None:
    written = files()
    assert set(written) == {
        "prometheus/prometheus.yml",
        "prometheus/rules.yml",
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/torchenv.yml",
        "grafana/dashboards/torchenv.json",
    }
    assert written["prometheus/rules.yml"] == render_rules(ms.JOB)
    assert written["grafana/dashboards/torchenv.json"] == render_dashboard(ms.JOB)
    assert ms.GRAFANA_PASSWORD_FILE not in written  # torchenv never writes the password


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard() -> None:
    document = compose()
    grafana = document["services"]["grafana"]
    written = files()
    (source,) = yaml.safe_load(written["grafana/provisioning/datasources/prometheus.yml"])[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == f"http://prometheus:{ms.PROMETHEUS_PORT}"
    # the dashboard's datasource variable picks a datasource of that type
    dashboard = json.loads(written["grafana/dashboards/torchenv.json"])
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"]
    (provider,) = yaml.safe_load(written["grafana/provisioning/dashboards/torchenv.yml"])[
        "providers"
    ]
    # each provisioning file is mounted where Grafana looks, the dashboard where it says
    targets = mounts(grafana)
    assert targets[provider["options"]["path"]]["source"] == "./grafana/dashboards"
    for kind in ("datasources", "dashboards"):
        mount = targets[f"/etc/grafana/provisioning/{kind}"]
        assert mount["source"] == f"./grafana/provisioning/{kind}" and mount["read_only"]
        folder = mount["source"].removeprefix("./")
        assert any(path.startswith(f"{folder}/") for path in written)


def test_grafana_reads_its_password_from_a_secret_and_lets_nobody_in_anonymously() -> None:
    document = compose()
    grafana = document["services"]["grafana"]
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    secret = "/run/secrets/grafana_admin_password"  # noqa: S105 - a path
    assert environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == secret
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    assert grafana["secrets"] == ["grafana_admin_password"]
    assert document["secrets"] == {
        "grafana_admin_password": {"file": "./secrets/grafana_admin_password"}
    }
    assert set(document["volumes"]) == {"prometheus-data", "grafana-data"}


# --- Kubernetes ----------------------------------------------------------------------------


def exporter_documents(image: str = "r.io/demo:1") -> tuple[dict[str, Any], dict[str, Any]]:
    service, daemonset = yaml.safe_load_all(ms.render_exporter_k8s("demo", SpecImage(), image))
    return service, daemonset


def test_the_exporter_runs_on_every_gpu_node_without_taking_a_gpu() -> None:
    _, daemonset = exporter_documents()
    assert daemonset["kind"] == "DaemonSet" and daemonset["metadata"]["name"] == "demo-gpu-exporter"
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    (container,) = pod["containers"]
    assert container["image"] == "r.io/demo:1" and container["args"] == ms.exporter_args()
    assert "nvidia.com/gpu" not in json.dumps(container["resources"])
    environment = {e["name"]: e["value"] for e in container["env"]}
    assert environment["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert environment["NVIDIA_DRIVER_CAPABILITIES"] == "utility"
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 1000 and pod["securityContext"]["runAsNonRoot"]


def test_the_exporter_file_says_why_hostpid_and_which_pod_security_level() -> None:
    text = ms.render_exporter_k8s("demo", SpecImage(), "r.io/demo:1")
    why = comment_above(text, "hostPID: true")
    assert "host PID" in why and "/proc/PID" in why
    header = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "privileged" in header and "baseline and restricted" in header
    assert "NVIDIA_VISIBLE_DEVICES=all" in header


def test_the_service_carries_the_scrape_annotations_and_selects_the_exporter() -> None:
    service, daemonset = exporter_documents()
    annotations = service["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(ms.EXPORTER_PORT),
        "prometheus.io/path": "/metrics",
    }
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    (container_port,) = daemonset["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert port["targetPort"] == container_port["name"] == "metrics"
    assert port["port"] == container_port["containerPort"] == ms.EXPORTER_PORT


def test_the_service_monitor_scrapes_the_service_as_job_torchenv() -> None:
    service, _ = exporter_documents()
    monitor, rules = yaml.safe_load_all(ms.render_operator_k8s("demo"))
    assert monitor["apiVersion"] == rules["apiVersion"] == "monitoring.coreos.com/v1"
    assert (monitor["kind"], rules["kind"]) == ("ServiceMonitor", "PrometheusRule")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == service["metadata"]["annotations"]["prometheus.io/path"]
    # the job is the value of the Service's label that jobLabel names: the rules' job
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == ms.JOB
    assert rules["spec"] == yaml.safe_load(render_rules(ms.JOB))


# --- the command ---------------------------------------------------------------------------


def gpu_project(tmp_path: Path) -> Path:
    return ship_project(tmp_path / "p", "[deploy]\ngpus-per-node = 2\n", variant="cu130")


def test_deploy_compose_writes_the_exporter_and_with_monitoring_the_stack(tmp_path: Path) -> None:
    spec = gpu_project(tmp_path)
    plain = run_deploy(str(spec), tmp_path, to="compose", image="r.io/demo:1")
    assert plain.files == ("compose.yaml",)
    (document,) = yaml.safe_load_all((Path(plain.out) / "compose.yaml").read_text())
    # no service that outlives the training unless asked: `docker compose up` must return
    assert set(document["services"]) == {"train"}
    old = os.umask(0o077)  # the containers' users must still read the provisioning files
    try:
        report = run_deploy(str(spec), tmp_path, to="compose", image="r.io/demo:1", monitoring=True)
    finally:
        os.umask(old)
    out = Path(report.out)
    (document,) = yaml.safe_load_all((out / "compose.yaml").read_text())
    assert {"train", "exporter", "prometheus", "grafana"} <= set(document["services"])
    assert set(report.files) == {"compose.yaml", *files()}
    assert any("grafana_admin_password" in n and "never writes" in n for n in report.notes)
    for path, text in files().items():
        assert (out / path).read_text() == text
        for parent in Path(path).parents:
            if parent != Path():
                assert stat.S_IMODE((out / parent).stat().st_mode) == 0o755
    assert not (out / ms.GRAFANA_PASSWORD_FILE).exists()
    assert "monitoring" not in spec.read_text()  # this run's choice, not kept in [deploy]


def test_the_users_grafana_password_outlives_the_next_deploy(tmp_path: Path) -> None:
    spec = gpu_project(tmp_path)
    report = run_deploy(str(spec), tmp_path, to="compose", monitoring=True)
    secret = Path(report.out) / ms.GRAFANA_PASSWORD_FILE
    secret.parent.mkdir(mode=0o700)
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    again = run_deploy(str(spec), tmp_path, to="compose", monitoring=True)
    assert secret.read_text() == "s3cret\n" and stat.S_IMODE(secret.stat().st_mode) == 0o644
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert not any("grafana_admin_password" in n for n in again.notes)
    # without --monitoring the file is the user's still, neither refused nor removed
    run_deploy(str(spec), tmp_path, to="compose")
    assert secret.read_text() == "s3cret\n"


@pytest.mark.parametrize("target", ["k8s", "pytorchjob"])
def test_deploy_to_a_cluster_with_monitoring_writes_two_more_files(
    tmp_path: Path, target: str
) -> None:
    spec = gpu_project(tmp_path)
    report = run_deploy(str(spec), tmp_path, to=target, image="r.io/demo:1", monitoring=True)
    assert report.files[1:] == ("demo-exporter.yaml", "demo-monitoring.yaml")
    assert any("privileged" in n for n in report.notes)
    assert any("monitoring.coreos.com" in n for n in report.notes)
    out = Path(report.out)
    uid, gid = user_ids()  # the image's user, as `torchenv image` makes it
    exporter = ms.render_exporter_k8s("demo", SpecImage(uid=uid, gid=gid), "r.io/demo:1")
    assert (out / "demo-exporter.yaml").read_text() == exporter
    assert (out / "demo-monitoring.yaml").read_text() == ms.render_operator_k8s("demo")
    # the training file is the same with or without the exporter
    plain = run_deploy(str(spec), tmp_path, to=target, image="r.io/demo:1", out="plain")
    assert (Path(plain.out) / report.files[0]).read_text() == (out / report.files[0]).read_text()
    assert plain.files == report.files[:1]


def test_monitoring_refusals(tmp_path: Path) -> None:
    cpu = ship_project(tmp_path / "cpu")  # a CPU build: no GPUs, so no exporter
    report = run_deploy(str(cpu), tmp_path, to="compose")
    (document,) = yaml.safe_load_all((Path(report.out) / "compose.yaml").read_text())
    assert set(document["services"]) == {"train"}
    with pytest.raises(UsageError, match="watches GPUs"):
        run_deploy(str(cpu), tmp_path, to="k8s", monitoring=True)
    with pytest.raises(UsageError, match="Slurm"):
        run_deploy(str(gpu_project(tmp_path)), tmp_path, to="slurm", monitoring=True)


def test_the_cli_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    gpu_project(tmp_path)
    monkeypatch.chdir(tmp_path / "p")
    assert cli.main(["deploy", "--to", "k8s", "--monitoring", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == ["demo.yaml", "demo-exporter.yaml", "demo-monitoring.yaml"]
    assert cli.main(["deploy", "--to", "slurm", "--monitoring"]) != 0
