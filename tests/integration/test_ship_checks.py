"""What `image` and `deploy` write, checked by the real tools: hadolint on every Dockerfile
variant, the Compose Specification's JSON schema (vendored by check-jsonschema), Kubernetes'
own OpenAPI schemas (kubernetes-validate, strict), the Kubeflow training SDK's PyTorchJob model,
shellcheck, and `sshd -t`. Each check is also shown to reject a broken file, so a green run
means the tool looked."""

from __future__ import annotations

import copy
import importlib.resources
import json
import shutil
import subprocess
import sys
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
from torchenv.ship.dockerfile import ImageInputs, render_dockerfile
from torchenv.ship.runtime import render_entrypoint, render_sshd_config

pytestmark = pytest.mark.integration
DEPLOY = SpecDeploy(nodes=2, gpus_per_node=8, command=("train.py", "--epochs", "3"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    require(found is not None, f"{name} is not installed")
    assert found is not None
    return found


def dockerfile(variant: str, python: str = "3.11", **options: Any) -> str:
    s = stack(variant, python)
    image = SpecImage(**options)
    base = choose_base(s, compiler=image.compiler, base=image.base)
    inputs = ImageInputs(
        s,
        image,
        base,
        "0.13.9",
        "torchenv-0.1.0-py3-none-any.whl",
        variant == "cpu",
        "0.1.0",
        "torchenv.toml",
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


VARIANTS = [
    {"variant": v, "compiler": c, "jupyter": j, "ssh": s}
    for v, c, (j, s) in product(["cpu", "cu130"], [False, True], [(False, False), (True, True)])
] + [
    {"variant": "cu126", "python": "3.14t"},
    {"variant": "cu128", "base": "registry.example.com/base@sha256:" + "0" * 64, "apt": ("git",)},
]


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
    for text in texts:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
        assert not errors, text
    broken = yaml.safe_load(texts[-1])
    broken["services"]["train"]["shm-size"] = "1g"  # not a compose key (shm_size is)
    assert list(validator.iter_errors(broken))


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


def shellcheck(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("shellcheck"), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = [
        render_entrypoint(),
        render_slurm(stack(), DEPLOY, None, "/shared/demo/.venv"),
        render_slurm(stack(), DEPLOY, "r.io/demo:1", "/x"),
        render_slurm(stack("cpu"), SpecDeploy(gpus_per_node=0), None, "/x"),
    ]
    for script in scripts:
        done = shellcheck(script)
        assert done.returncode == 0, done.stdout + script
    assert shellcheck("#!/bin/bash\nrm -rf $1/*\n").returncode == 1


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
    config.write_text(config.read_text() + "PasswordAuthentication maybe\n")
    assert (
        subprocess.run(
            [sshd, "-t", "-f", str(config)], capture_output=True, check=False, timeout=30
        ).returncode
        != 0
    )
