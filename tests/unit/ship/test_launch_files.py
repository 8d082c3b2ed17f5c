"""compose, Kubernetes, PyTorchJob and Slurm files, read back as data."""

from __future__ import annotations

from typing import Any

import yaml

from ship_project import stack
from torchenv.models.ship import SpecDeploy, SpecImage
from torchenv.ship.cluster import k8s_name, render_k8s_job, render_pytorchjob, render_slurm
from torchenv.ship.compose import render_dev_compose, render_train_compose

DEPLOY = SpecDeploy(nodes=3, gpus_per_node=8, command=("train.py", "--lr", "0.1"))


def docs(text: str) -> list[dict[str, Any]]:
    assert "&id" not in text  # no YAML anchors: every value where it applies
    return list(yaml.safe_load_all(text))


def test_dev_compose_publishes_on_loopback_only_and_mounts_secrets() -> None:
    (doc,) = docs(render_dev_compose(stack(), SpecImage(jupyter=True, ssh=True), DEPLOY, "i:1"))
    dev = doc["services"]["dev"]
    assert doc["name"] == "demo-dev"  # not the training project's name: no orphans
    # the project, never the generated directory; the long syntax, which no ":" can split
    assert dev["volumes"] == [
        {"type": "bind", "source": "..", "target": "/workspace", "bind": {"create_host_path": True}}
    ]
    assert dev["ports"] == ["127.0.0.1:8888:8888", "127.0.0.1:2222:2222"]
    assert dev["environment"] == {"JUPYTER_TOKEN_FILE": "/run/secrets/jupyter_token"}
    assert set(doc["secrets"]) == {"jupyter_token", "authorized_keys"}
    assert dev["shm_size"] == "16g" and dev["ulimits"] == {"memlock": -1, "stack": 67108864}
    assert dev["deploy"]["resources"]["reservations"]["devices"][0]["count"] == "all"
    (cpu,) = docs(render_dev_compose(stack("cpu"), SpecImage(), DEPLOY, "i:1"))
    assert "deploy" not in cpu["services"]["dev"] and "ports" not in cpu["services"]["dev"]


def test_train_compose_runs_torchrun_standalone() -> None:
    one = SpecDeploy(gpus_per_node=4, command=("train.py",))
    (doc,) = docs(render_train_compose(stack(), one, "i:1"))
    train = doc["services"]["train"]
    assert train["command"] == ["torchrun", "--standalone", "--nproc-per-node=4", "train.py"]
    assert train["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 4
    # the project is the working directory; data and checkpoints may live elsewhere
    made = {"create_host_path": True}  # as the short syntax did
    assert train["volumes"] == [
        {"type": "bind", "source": "../..", "target": "/workspace", "bind": made},
        {
            "type": "bind",
            "source": "${TORCHENV_DATA:-../../data}",
            "target": "/workspace/data",
            "read_only": True,
            "bind": made,
        },
        {
            "type": "bind",
            "source": "${TORCHENV_CHECKPOINTS:-../../checkpoints}",
            "target": "/workspace/checkpoints",
            "bind": made,
        },
    ]
    assert doc["name"] == "demo-train"


def test_k8s_indexed_job_with_headless_service() -> None:
    service, job = docs(render_k8s_job(stack(), SpecImage(uid=1234), DEPLOY, "r.io/demo:1"))
    assert service["kind"] == "Service" and service["spec"]["clusterIP"] == "None"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 3
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == service["metadata"]["name"] == "demo"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 1234
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
    }
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 8}}  # limits only
    assert "--rdzv-endpoint=demo-0.demo:29500" in container["args"]
    assert container["volumeMounts"][0] == {"name": "workspace", "mountPath": "/workspace"}
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"demo-workspace", "demo-data", "demo-checkpoints"}
    assert container["args"][-3:] == ["train.py", "--lr", "0.1"]
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}
    assert "NCCL_DEBUG is left unset" in render_k8s_job(stack(), SpecImage(), DEPLOY, "i:1")


def test_pytorchjob_master_and_workers() -> None:
    (job,) = docs(render_pytorchjob(stack(), SpecImage(), DEPLOY, "r.io/demo:1"))
    assert job["apiVersion"] == "kubeflow.org/v1" and job["spec"]["nprocPerNode"] == "8"
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 2
    container = replicas["Worker"]["template"]["spec"]["containers"][0]
    assert container["name"] == "pytorch" and container["args"] == ["torchrun", *DEPLOY.command]
    master = replicas["Master"]["template"]["spec"]["containers"][0]
    # the operator takes MASTER_PORT from the port of this name only
    assert master["ports"] == [{"name": "pytorchjob-port", "containerPort": 29500}]
    assert "ports" not in container
    (single,) = docs(render_pytorchjob(stack(), SpecImage(), SpecDeploy(), "r.io/demo:1"))
    assert set(single["spec"]["pytorchReplicaSpecs"]) == {"Master"}


def test_slurm_script_uses_the_head_node_for_rendezvous() -> None:
    text = render_slurm(stack(), DEPLOY, None, "/shared/demo/.venv")
    assert text.startswith("#!/bin/bash\n")
    assert "#SBATCH --nodes=3" in text and "#SBATCH --gpus-per-node=8" in text
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in text
    assert '--rdzv-endpoint="$head_ip:29500"' in text and "--nproc-per-node=8" in text
    assert "\ndefault_prefix=/shared/demo/.venv\n" in text
    assert '\nprefix="${TORCHENV_PREFIX:-$default_prefix}"\n' in text
    pyxis = render_slurm(stack(), DEPLOY, "r.io/demo:1", "/x")
    assert 'srun --container-image="$image"' in pyxis and "image=r.io/demo:1" in pyxis
    assert '--container-mounts="$SLURM_SUBMIT_DIR:/workspace"' in pyxis
    # every #SBATCH line comes before the first command: sbatch stops reading them there
    lines = text.splitlines()
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert max(i for i, line in enumerate(lines) if line.startswith("#SBATCH")) < first_command


def test_cpu_deploy_requests_no_gpus() -> None:
    cpu = SpecDeploy(gpus_per_node=0)
    _, job = docs(render_k8s_job(stack("cpu"), SpecImage(), cpu, "i:1"))
    assert "resources" not in job["spec"]["template"]["spec"]["containers"][0]
    assert "--gpus-per-node" not in render_slurm(stack("cpu"), cpu, None, "/x")


def test_k8s_names() -> None:
    assert k8s_name("My_Model.v2") == "my-model-v2"
    assert k8s_name("x" * 40) == "x" * 40
    cut = k8s_name("x" * 80)  # cut, with a hash of the whole name: "x" * 81 is another name
    assert len(cut) == 40 and cut.startswith("x" * 31 + "-") and cut != k8s_name("x" * 81)
    assert k8s_name("__") == "torchenv"
