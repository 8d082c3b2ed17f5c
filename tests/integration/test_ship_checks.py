"""What `image` and `deploy` write, checked by the real tools: hadolint on every Dockerfile
variant, the Compose Specification's JSON schema (vendored by check-jsonschema), Kubernetes'
own OpenAPI schemas (kubernetes-validate, strict), the Kubeflow training SDK's PyTorchJob model,
shellcheck, bash itself, `sshd -t`, and the "restricted" Pod Security Standard. Each check is
also shown to reject a broken file, so a green run means the tool looked."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import require
from ship_project import stack
from torchenv.models.ship import SpecDeploy, SpecImage
from torchenv.ship.base import choose_base
from torchenv.ship.cluster import render_k8s_job, render_pytorchjob, render_slurm
from torchenv.ship.compose import render_dev_compose, render_train_compose
from torchenv.ship.condaimage import choose_conda_base, render_activate
from torchenv.ship.dockerfile import ImageInputs, render_dockerfile
from torchenv.ship.runtime import render_entrypoint, render_profile, render_sshd_config

pytestmark = pytest.mark.integration
DEPLOY = SpecDeploy(nodes=2, gpus_per_node=8, command=("train.py", "--epochs", "3"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    require(found is not None, f"{name} is not installed")
    assert found is not None
    return found


def dockerfile(variant: str, python: str = "3.11", conda: bool = False, **options: Any) -> str:
    s = stack(variant, python)
    image = SpecImage(**options)
    if conda:
        base = choose_conda_base(s.variant, s.cuda, compiler=image.compiler, base=image.base)
    else:
        base = choose_base(s, compiler=image.compiler, base=image.base)
    inputs = ImageInputs(
        s,
        image,
        base,
        "0.13.9",
        "torchenv-0.1.0-py3-none-any.whl",
        variant == "cpu" and not conda,
        "0.1.0",
        "torchenv.toml",
        conda=conda,
        local_conda_packages=conda and variant == "cpu",
    )
    return render_dockerfile(inputs)


def hadolint(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--failure-threshold", "warning", "-f", "json", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


VARIANTS = (
    [
        {"variant": v, "compiler": c, "jupyter": j, "ssh": s}
        for v, c, (j, s) in product(["cpu", "cu130"], [False, True], [(False, False), (True, True)])
    ]
    + [
        {"variant": "cu126", "python": "3.14t"},
        {
            "variant": "cu128",
            "base": "registry.example.com/base@sha256:" + "0" * 64,
            "apt": ("git",),
        },
    ]
    + [  # conda images (ship/condaimage.py)
        {"variant": v, "conda": True, "compiler": c, "jupyter": j, "ssh": j}
        for v, c, j in product(["cpu", "cu130"], [False, True], [False, True])
    ]
)


@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: "-".join(map(str, o.values())))
def test_hadolint_passes_every_dockerfile(options: dict[str, Any]) -> None:
    options = dict(options)
    done = hadolint(dockerfile(options.pop("variant"), options.pop("python", "3.11"), **options))
    findings = json.loads(done.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert done.returncode == 0 and not serious, findings


def test_hadolint_catches_a_bad_dockerfile() -> None:
    done = hadolint("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    codes = {f["code"] for f in json.loads(done.stdout)}
    assert done.returncode == 1 and {"DL3007", "DL3002"} <= codes


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def test_compose_files_match_the_compose_specification() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(compose_schema())
    texts = [
        render_dev_compose(stack(v), SpecImage(jupyter=j, ssh=s), DEPLOY, "demo:1")
        for v, j, s in product(["cpu", "cu130"], [False, True], [False, True])
    ]
    texts.append(render_train_compose(stack(), SpecDeploy(gpus_per_node=4), "demo:1"))
    texts.append(render_train_compose(stack("cpu"), SpecDeploy(gpus_per_node=0), "demo:1"))
    # hostile paths: the long volume syntax holds them (one with a brace, which is not a default)
    for project in ("/srv/$HOME/a:b c", "../x}y: z\n'"):
        texts.append(render_dev_compose(stack(), SpecImage(), DEPLOY, "demo:1", project))
        texts.append(render_train_compose(stack(), SpecDeploy(), "demo:1", project))
    for text in texts:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
        assert not errors, text
    broken = yaml.safe_load(texts[-1])
    broken["services"]["train"]["shm-size"] = "1g"  # not a compose key (shm_size is)
    assert list(validator.iter_errors(broken))
    volume = yaml.safe_load(texts[-1])
    del volume["services"]["train"]["volumes"][0]["type"]  # the long syntax requires it
    assert list(validator.iter_errors(volume))


def k8s_validate(document: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_kubernetes_job_and_service_match_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    for variant, nodes in product(["cpu", "cu130"], [1, 4]):
        deploy = SpecDeploy(nodes=nodes, gpus_per_node=0 if variant == "cpu" else 8)
        documents = list(
            yaml.safe_load_all(render_k8s_job(stack(variant), SpecImage(), deploy, "r.io/demo:1"))
        )
        assert [d["kind"] for d in documents] == ["Service", "Job"]
        for document in documents:
            k8s_validate(document)
    broken = copy.deepcopy(documents[1])
    broken["spec"]["template"]["spec"]["containers"][0]["gpus"] = 8
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(broken)


# The "restricted" Pod Security Standard, which includes "baseline"
# (kubernetes.io/docs/concepts/security/pod-security-standards, the Baseline and Restricted
# tables): every field either profile restricts, with the values it allows.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
PROFILE_TYPES = {"RuntimeDefault", "Localhost"}  # seccomp and AppArmor alike


def _containers(pod: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for i, container in enumerate(pod.get(field) or []):
            yield f"{field}[{i}]", container


def restricted_violations(template: dict[str, Any]) -> list[str]:
    """What keeps a pod template (metadata and spec) from the "restricted" profile; [] when
    nothing does. A Linux pod is assumed (the OS-specific controls apply)."""
    pod = template["spec"]
    found: list[str] = []
    pod_context = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            found.append(f"spec.{field}")
    for i, volume in enumerate(pod.get("volumes") or []):
        if volume.get("hostPath") is not None:
            found.append(f"spec.volumes[{i}].hostPath")
        elif not RESTRICTED_VOLUMES & {k for k, v in volume.items() if v is not None}:
            found.append(f"spec.volumes[{i}]: not an allowed volume type")
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            found.append(f"metadata.annotations[{key}]")
    for name in (s["name"] for s in pod_context.get("sysctls") or []):
        if name not in SAFE_SYSCTLS:
            found.append(f"spec.securityContext.sysctls: {name}")
    found += _context_violations("spec.securityContext", pod_context)
    for where, container in _containers(pod):
        found += _container_violations(f"spec.{where}", container, pod_context)
    return found


def _container_violations(
    where: str, container: dict[str, Any], pod_context: dict[str, Any]
) -> list[str]:
    found = []
    context = container.get("securityContext") or {}
    at = f"{where}.securityContext"
    if context.get("privileged"):
        found.append(f"{at}.privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        found.append(f"{at}.allowPrivilegeEscalation must be false")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        found.append(f"{at}.capabilities.drop must include ALL")
    # baseline allows a few capabilities back; restricted narrows them to this one
    added = set(capabilities.get("add") or [])
    if not added <= {"NET_BIND_SERVICE"}:
        found.append(f"{at}.capabilities.add: {sorted(added)}")
    if context.get("procMount", "Default") != "Default":
        found.append(f"{at}.procMount")
    # the container's field may be left out when the pod's says true
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        found.append(f"{at}.runAsNonRoot must be true (here or in the pod)")
    seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if (context.get("seccompProfile") or {}).get("type", seccomp) not in PROFILE_TYPES:
        found.append(f"{at}.seccompProfile must be RuntimeDefault or Localhost")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            found.append(f"{where}.ports: hostPort")
    hooks = container.get("lifecycle") or {}
    handlers = [container.get(p) or {} for p in ("livenessProbe", "readinessProbe")]
    handlers += [container.get("startupProbe") or {}, *hooks.values()]
    if any((h.get(kind) or {}).get("host") for h in handlers for kind in ("httpGet", "tcpSocket")):
        found.append(f"{where}: a probe or lifecycle hook with a host")
    return found + _context_violations(at, context)


def _context_violations(at: str, context: dict[str, Any]) -> list[str]:
    """The fields a pod's and a container's securityContext share."""
    found = []
    if context.get("runAsUser") == 0:
        found.append(f"{at}.runAsUser is 0")
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        found.append(f"{at}.windowsOptions.hostProcess")
    profile = (context.get("appArmorProfile") or {}).get("type")
    if profile is not None and profile not in PROFILE_TYPES:
        found.append(f"{at}.appArmorProfile")
    if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append(f"{at}.seccompProfile is Unconfined")
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        found.append(f"{at}.seLinuxOptions")
    return found


def pod_templates() -> list[dict[str, Any]]:
    """Every pod template of the Job and the PyTorchJob torchenv writes."""
    templates = []
    for variant, nodes in product(["cpu", "cu130"], [1, 3]):
        deploy = SpecDeploy(nodes=nodes, gpus_per_node=0 if variant == "cpu" else 8)
        _, job = yaml.safe_load_all(render_k8s_job(stack(variant), SpecImage(), deploy, "r.io/d:1"))
        templates.append(job["spec"]["template"])
        (pytorchjob,) = yaml.safe_load_all(
            render_pytorchjob(stack(variant), SpecImage(), deploy, "r.io/d:1")
        )
        for replica in pytorchjob["spec"]["pytorchReplicaSpecs"].values():
            templates.append(replica["template"])
    return templates


def _container(template: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = template["spec"]["containers"][0]
    return container


BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "allowPrivilegeEscalation": lambda t: _container(t)["securityContext"].pop(
        "allowPrivilegeEscalation"
    ),
    "capabilities.drop": lambda t: _container(t)["securityContext"].pop("capabilities"),
    "seccompProfile": lambda t: t["spec"]["securityContext"].pop("seccompProfile"),
    "runAsNonRoot": lambda t: (
        t["spec"]["securityContext"].pop("runAsNonRoot"),
        _container(t)["securityContext"].pop("runAsNonRoot"),
    ),
    "runAsUser": lambda t: t["spec"]["securityContext"].update(runAsUser=0),
    "hostNetwork": lambda t: t["spec"].update(hostNetwork=True),
    "hostPath": lambda t: t["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
    "privileged": lambda t: _container(t)["securityContext"].update(privileged=True),
    "capabilities.add": lambda t: _container(t)["securityContext"]["capabilities"].update(
        add=["SYS_ADMIN"]
    ),
    "procMount": lambda t: _container(t)["securityContext"].update(procMount="Unmasked"),
    "hostPort": lambda t: (
        _container(t).setdefault("ports", []).append({"containerPort": 80, "hostPort": 80})
    ),
    "sysctls": lambda t: t["spec"]["securityContext"].update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]
    ),
    "seLinuxOptions": lambda t: _container(t)["securityContext"].update(
        seLinuxOptions={"type": "spc_t"}
    ),
    "appArmorProfile": lambda t: t["spec"]["securityContext"].update(
        appArmorProfile={"type": "Unconfined"}
    ),
}


def test_every_pod_meets_the_restricted_pod_security_standard() -> None:
    templates = pod_templates()
    assert len(templates) == 10  # Job and Master at 1 node; Job, Master, Worker at 3
    for template in templates:
        assert restricted_violations(template) == []


@pytest.mark.parametrize("field", sorted(BREAKS))
def test_the_restricted_check_rejects_a_pod_that_breaks_one_field(field: str) -> None:
    template = copy.deepcopy(pod_templates()[1])
    BREAKS[field](template)
    found = restricted_violations(template)
    assert found and all(field.partition(".")[0] in line for line in found), found


def _sdk_check(data: Any, kind: str, where: str) -> None:
    """``data`` against the Kubeflow training SDK's generated models (from the operator's
    OpenAPI spec): no key the model lacks, and the right kind of value for each."""
    from kubeflow.training import models

    if kind.startswith("list["):
        assert isinstance(data, list), where
        for i, item in enumerate(data):
            _sdk_check(item, kind[5:-1], f"{where}[{i}]")
        return
    if kind.startswith("dict("):
        assert isinstance(data, dict), where
        for key, item in data.items():
            _sdk_check(item, kind.split(", ", 1)[1][:-1], f"{where}.{key}")
        return
    primitive = {"str": str, "int": int, "bool": bool, "object": object, "float": float}
    if kind in primitive:
        assert isinstance(data, primitive[kind]) and not (
            kind == "int" and isinstance(data, bool)
        ), f"{where}: expected {kind}, got {data!r}"
        return
    if kind == "V1PodTemplateSpec":  # Kubernetes' own schema checks the pod
        k8s_validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": data}
        )
        return
    model = getattr(models, kind)
    assert isinstance(data, dict), where
    keys = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, value in data.items():
        assert key in keys, f"{where}: {key!r} is not a field of {kind}"
        _sdk_check(value, model.openapi_types[keys[key]], f"{where}.{key}")


def test_pytorchjob_matches_the_kubeflow_model() -> None:
    from kubeflow.training.api_client import ApiClient

    for nodes in (1, 3):
        text = render_pytorchjob(
            stack(), SpecImage(), SpecDeploy(nodes=nodes, gpus_per_node=8), "r.io/demo:1"
        )
        (job,) = yaml.safe_load_all(text)
        _sdk_check(job, "KubeflowOrgV1PyTorchJob", "$")
        # the SDK's own deserializer checks the required fields (pytorchReplicaSpecs, ...)
        model = ApiClient()._ApiClient__deserialize(job, "KubeflowOrgV1PyTorchJob")  # type: ignore[attr-defined]
        assert model.spec.nproc_per_node == "8"
    broken = copy.deepcopy(job)
    broken["spec"]["nprocPerNodes"] = "8"
    with pytest.raises(AssertionError, match="not a field"):
        _sdk_check(broken, "KubeflowOrgV1PyTorchJob", "$")


def shellcheck(text: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("shellcheck"), *options, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = [
        render_entrypoint(),
        "#!/bin/sh\n" + render_activate("/opt/env"),  # sourced by sh and bash: POSIX sh
        "#!/bin/sh\n" + render_profile(conda=True),
        "#!/bin/sh\n" + render_profile(),
        render_slurm(stack(), DEPLOY, None, "/shared/demo/.venv"),
        render_slurm(stack(), DEPLOY, "r.io/demo:1", "/x"),
        render_slurm(stack("cpu"), SpecDeploy(gpus_per_node=0), None, "/x"),
    ]
    for script in scripts:
        done = shellcheck(script)
        assert done.returncode == 0, done.stdout + script
    assert shellcheck("#!/bin/bash\nrm -rf $1/*\n").returncode == 1


HOSTILE_DIRECTORIES = [
    "p$(touch x)",
    "p`touch x`",
    'p"q',
    "p'q",
    "p\nq",
    "p\ntouch x",
    "p;touch x",
    "p\\",
    "p$HOME",
    "p\x1b[31mred",
    "p:q}r",
    "p\udcff",  # an undecodable byte, as os.fsdecode gives it
]


@pytest.mark.parametrize("directory", HOSTILE_DIRECTORIES)
def test_bash_reads_any_directory_name_in_the_batch_script_as_a_path(
    tmp_path: Path, directory: str
) -> None:
    bash = tool("bash")
    prefix = f"{tmp_path}/{directory}/.venv"
    script = render_slurm(stack(), DEPLOY, None, prefix)
    encoded = script.encode("utf-8", "surrogateescape")  # as write_files writes it
    (tmp_path / "job.sbatch").write_bytes(encoded)
    done = subprocess.run([bash, "-n", "job.sbatch"], cwd=tmp_path, check=False, timeout=30)
    assert done.returncode == 0
    # the assignment lines alone, run in an empty directory: `touch x` would leave a file
    start = encoded.index(b"\ndefault_prefix=") + 1
    end = encoded.index(b"\n", encoded.index(b'\nprefix="${TORCHENV_PREFIX', start) + 1) + 1
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "assign.sh").write_bytes(
        b"set -euo pipefail\n" + encoded[start:end] + b'printf %s "$prefix"\n'
    )
    environment = {k: v for k, v in os.environ.items() if k != "TORCHENV_PREFIX"}
    done = subprocess.run(
        [bash, str(tmp_path / "assign.sh")],
        cwd=work,
        env=environment,
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == os.fsencode(prefix)
    assert list(work.iterdir()) == []  # nothing ran
    environment["TORCHENV_PREFIX"] = "/elsewhere"
    moved = subprocess.run(
        [bash, str(tmp_path / "assign.sh")],
        env=environment,
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert moved.stdout == b"/elsewhere"


def test_a_batch_script_with_hostile_paths_passes_shellcheck() -> None:
    hostile = SpecDeploy(command=("train.py", "--x=$(id)", "`id`", "a'b"))
    for directory in ("p$(touch x)", "p'q\nr"):
        script = render_slurm(stack(), hostile, None, f"/shared/{directory}/.venv")
        # SC2016 ("expressions don't expand in single quotes") is the point here
        done = shellcheck(script, "--exclude=SC2016")
        assert done.returncode == 0, done.stdout


def test_sshd_accepts_the_configuration(tmp_path: Path) -> None:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    require(Path(sshd).exists(), "openssh-server is not installed")
    keygen = tool("ssh-keygen")
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ssh_host_ed25519_key")],
        check=True,
    )
    config = tmp_path / "sshd_config"
    config.write_text(render_sshd_config("torch", str(tmp_path), 2222))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd -t insists on its privilege separation dir
    done = subprocess.run(
        [sshd, "-t", "-f", str(config)], capture_output=True, text=True, check=False, timeout=30
    )
    assert done.returncode == 0, done.stderr
    config.write_text(render_sshd_config("torch", str(tmp_path), 2222, conda=True))
    done = subprocess.run(
        [sshd, "-t", "-f", str(config)], capture_output=True, text=True, check=False, timeout=30
    )
    assert done.returncode == 0, done.stderr
    config.write_text(config.read_text() + "PasswordAuthentication maybe\n")
    assert (
        subprocess.run(
            [sshd, "-t", "-f", str(config)], capture_output=True, check=False, timeout=30
        ).returncode
        != 0
    )


# --- the monitoring of `deploy` (ship/monitorstack.py) ----------------------------------------


def monitored_compose_texts() -> list[str]:
    texts = [
        render_train_compose(
            stack(), SpecDeploy(gpus_per_node=4), "demo:1", exporter_user=(1000, 1000)
        ),
        render_train_compose(
            stack(),
            SpecDeploy(gpus_per_node=8),
            "r.io/demo:1",
            exporter_user=(1234, 59),  # "1234:59" reads as a number to a YAML 1.1 reader
            monitoring=True,
        ),
    ]
    for project in ("/srv/$HOME/a:b c", "../x}y: z\n'"):
        texts.append(
            render_train_compose(
                stack(),
                SpecDeploy(),
                "demo:1",
                project,
                exporter_user=(1000, 1000),
                monitoring=True,
            )
        )
    return texts


def test_compose_files_with_the_exporter_and_monitoring_match_the_compose_specification() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(compose_schema())
    texts = monitored_compose_texts()
    for text in texts:
        document = yaml.safe_load(text)
        errors = [e.message for e in validator.iter_errors(document)]
        assert not errors, text
        assert document["services"]["exporter"]["user"] in ("1000:1000", "1234:59")
    broken = yaml.safe_load(texts[1])
    broken["services"]["exporter"]["pid_mode"] = "host"  # docker run's name, not compose's
    assert list(validator.iter_errors(broken))
    secret = yaml.safe_load(texts[1])
    secret["secrets"]["grafana_admin_password"] = {"path": "./x"}  # file, environment or external
    assert list(validator.iter_errors(secret))


def test_the_exporter_daemonset_and_service_match_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    from torchenv.ship.monitorstack import render_exporter_k8s

    for options in (SpecImage(), SpecImage(uid=1234, gid=59)):
        documents = list(yaml.safe_load_all(render_exporter_k8s("demo", options, "r.io/demo:1")))
        assert [d["kind"] for d in documents] == ["Service", "DaemonSet"]
        for document in documents:
            k8s_validate(document)
    broken = copy.deepcopy(documents[1])
    broken["spec"]["template"]["spec"]["hostPid"] = True  # the field is hostPID
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(broken)


def test_only_hostpid_keeps_the_exporter_from_the_restricted_standard() -> None:
    """hostPID is forbidden by baseline (and so by restricted): the exporter's namespace needs
    the privileged level. Everything else of its pod meets restricted."""
    from torchenv.ship.monitorstack import render_exporter_k8s

    _, daemonset = yaml.safe_load_all(render_exporter_k8s("demo", SpecImage(), "r.io/d:1"))
    template = daemonset["spec"]["template"]
    assert restricted_violations(template) == ["spec.hostPID"]
    template["spec"].pop("hostPID")
    assert restricted_violations(template) == []


# The fields of the Prometheus operator's CRDs that torchenv writes, with the types and patterns
# of their OpenAPI schemas (prometheus-operator v0.93.0, example/prometheus-operator-crd/
# monitoring.coreos.com_servicemonitors.yaml and _prometheusrules.yaml), and the names of every
# field of the objects they sit in: a misspelt field, which the API server would prune
# silently, fails here. The CRDs themselves are not installed where the tests run.
DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    "(([0-9]+)ms)?)$",
}
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR_SPEC_FIELDS = [
    "attachMetadata", "bodySizeLimit", "convertClassicHistogramsToNHCB", "endpoints",
    "fallbackScrapeProtocol", "jobLabel", "keepDroppedTargets", "labelLimit",
    "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
    "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor", "podTargetLabels",
    "sampleLimit", "scrapeClass", "scrapeClassicHistograms", "scrapeNativeHistograms",
    "scrapeProtocols", "selector", "selectorMechanism", "serviceDiscoveryRole", "targetLabels",
    "targetLimit",
]  # fmt: skip
ENDPOINT_FIELDS = [
    "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2",
    "filterRunning", "followRedirects", "honorLabels", "honorTimestamps", "interval",
    "metricRelabelings", "noProxy", "oauth2", "params", "path", "port", "proxyConnectHeader",
    "proxyFromEnvironment", "proxyUrl", "relabelings", "scheme", "scrapeTimeout", "targetPort",
    "tlsConfig", "trackTimestampsStaleness",
]  # fmt: skip
RELABEL = {
    "type": "object",
    "propertyNames": {
        "enum": ["action", "modulus", "regex", "replacement", "separator", "sourceLabels",
                 "targetLabel"]
    },
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "targetLabel": {"type": "string"},
        "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "labelmap"]},
    },
}  # fmt: skip
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "spec": {
            "type": "object",
            "required": ["endpoints", "selector"],
            "propertyNames": {"enum": SERVICE_MONITOR_SPEC_FIELDS},
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "propertyNames": {"enum": ["matchExpressions", "matchLabels"]},
                    "properties": {"matchLabels": STRINGS},
                },
                "endpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "propertyNames": {"enum": ENDPOINT_FIELDS},
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": DURATION,
                            "relabelings": {"type": "array", "items": RELABEL},
                        },
                    },
                },
            },
        },
    },
}
RULE_FIELDS = ["alert", "annotations", "expr", "for", "keep_firing_for", "labels", "record"]
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "spec": {
            "type": "object",
            "propertyNames": {"enum": ["groups"]},
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "propertyNames": {
                            "enum": ["interval", "labels", "limit", "name",
                                     "partial_response_strategy", "query_offset", "rules"]
                        },
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "propertyNames": {"enum": RULE_FIELDS},
                                    "properties": {
                                        "alert": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": DURATION,
                                        "labels": STRINGS,
                                        "annotations": STRINGS,
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}  # fmt: skip


def test_the_service_monitor_and_prometheus_rule_have_the_operators_shape(
    tmp_path: Path,
) -> None:
    """kubernetes-validate knows no CRD: the two are held to the operator's schema of the
    fields written (above), their metadata to Kubernetes' ObjectMeta, and the rules to
    promtool."""
    import jsonschema

    from torchenv.ship.monitorstack import render_operator_k8s

    monitor, rules = yaml.safe_load_all(render_operator_k8s("demo"))
    for document, schema in ((monitor, SERVICE_MONITOR), (rules, PROMETHEUS_RULE)):
        errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)]
        assert not errors
        # ObjectMeta is Kubernetes' own: checked on an object that has one
        k8s_validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]})
    misspelt = copy.deepcopy(monitor)
    misspelt["spec"]["endpoints"][0]["relabelConfigs"] = []  # the field is relabelings
    assert list(jsonschema.Draft202012Validator(SERVICE_MONITOR).iter_errors(misspelt))
    bad_for = copy.deepcopy(rules)
    bad_for["spec"]["groups"][0]["rules"][0]["for"] = "1 minute"
    assert list(jsonschema.Draft202012Validator(PROMETHEUS_RULE).iter_errors(bad_for))
    # the rules of the PrometheusRule, as the operator hands them to Prometheus
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules["spec"]))
    done = subprocess.run(
        [tool("promtool"), "check", "rules", "rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def promtool_check_config(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), "check", "config", "prometheus.yml"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_promtool_accepts_the_prometheus_config_with_its_rules_beside_it(tmp_path: Path) -> None:
    from torchenv.backends.outdir import write_files
    from torchenv.ship.monitorstack import compose_monitoring_files

    write_files(tmp_path, compose_monitoring_files())
    prometheus = tmp_path / "prometheus"  # mounted whole at /etc/prometheus
    done = promtool_check_config(prometheus)
    assert done.returncode == 0, done.stdout + done.stderr
    # it read the rules file, found by its relative path
    assert "rules.yml" in done.stdout + done.stderr
    (prometheus / "rules.yml").write_text("groups:\n- name: x\n  rules:\n  - alert: A\n")
    assert promtool_check_config(prometheus).returncode != 0  # an alert without expr
    (prometheus / "rules.yml").unlink()
    assert promtool_check_config(prometheus).returncode != 0
