"""Cluster launch files: a Kubernetes indexed Job with its headless Service, a Kubeflow PyTorchJob,
and a Slurm batch script. Every one starts torchrun with the nodes and GPUs of [deploy].

Facts used (reference/anchors-images.md, 7):
- GPUs are requested in `limits` only (kubernetes.io, "Schedule GPUs").
- An indexed Job names its pods <job>-<index>; with a headless Service and `subdomain` they
  resolve each other as <job>-<index>.<service> (kubernetes.io, "Job with pod-to-pod
  communication"), so pod 0 hosts the c10d rendezvous.
- /dev/shm of a container is 64 MB; Kubernetes sizes it with a memory emptyDir (NVIDIA/nccl#525).
- PyTorchJob v1 (kubeflow.org/v1, training-operator release-1.9) sets PET_NNODES,
  PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR and PET_MASTER_PORT, which torchrun reads;
  its container must be named "pytorch".
- Slurm: the head node from `scontrol show hostnames`, then `srun torchrun` with c10d
  rendezvous on it (pytorch/examples, distributed/ddp-tutorial-series/slurm/sbatch_run.sh).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from torchenv.models.ship import ImageStack, SpecDeploy, SpecImage
from torchenv.ship.dockerfile import WORKSPACE
from torchenv.ship.yamltext import yaml_text

MANAGED = {"app.kubernetes.io/managed-by": "torchenv"}
NCCL_NOTE = (
    "NCCL: NCCL_DEBUG is left unset; its docs say debug variables are not for production runs.\n"
    "Set NCCL_DEBUG=INFO to debug a hang, and NCCL_SOCKET_IFNAME (e.g. eth0, or ^lo,docker to\n"
    "exclude) when NCCL picks the wrong network interface."
)


def k8s_name(name: str) -> str:
    """An RFC 1123 label: lowercase alphanumerics and '-', at most 63 characters; a Job's name
    is kept shorter because pod names add "-<index>-<suffix>"."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return (cleaned or "torchenv")[:40].rstrip("-")


def _shm(size: str) -> str:
    """compose's "16g" as a Kubernetes quantity ("16Gi")."""
    units = {"k": "Ki", "m": "Mi", "g": "Gi", "b": ""}
    unit = size[-1].lower()
    return size[:-1] + units[unit] if unit in units else size


def _container(
    name: str, image: str, args: list[str], deploy: SpecDeploy, port: str | None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "args": args}
    if port:
        container["ports"] = [{"name": port, "containerPort": deploy.port}]
    if deploy.gpus_per_node:
        container["resources"] = {"limits": {"nvidia.com/gpu": deploy.gpus_per_node}}
    container["volumeMounts"] = [
        {"name": "workspace", "mountPath": WORKSPACE},
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "data", "mountPath": f"{WORKSPACE}/data", "readOnly": True},
        {"name": "checkpoints", "mountPath": f"{WORKSPACE}/checkpoints"},
    ]
    return container


def _pod_spec(name: str, options: SpecImage, deploy: SpecDeploy) -> dict[str, Any]:
    uid, gid = options.ids()
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "fsGroup": gid,
        },
        "volumes": [
            {"name": "workspace", "persistentVolumeClaim": {"claimName": f"{name}-workspace"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _shm(deploy.shm_size)}},
            {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}},
            {"name": "checkpoints", "persistentVolumeClaim": {"claimName": f"{name}-checkpoints"}},
        ],
    }


def render_k8s_job(stack: ImageStack, options: SpecImage, deploy: SpecDeploy, image: str) -> str:
    name = k8s_name(stack.name)
    labels = {"app.kubernetes.io/name": name, **MANAGED}
    endpoint = f"{name}-0.{name}:{deploy.port}"
    args = [
        "torchrun",
        f"--nnodes={deploy.nodes}",
        f"--nproc-per-node={max(deploy.gpus_per_node, 1)}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={endpoint}",
        f"--rdzv-id={name}",
        *deploy.command,
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "clusterIP": "None",  # headless: DNS names for the pods, no load balancing
            "publishNotReadyAddresses": True,  # the rendezvous happens before pods are ready
            "selector": {"batch.kubernetes.io/job-name": name},
            "ports": [{"name": "rendezvous", "port": deploy.port}],
        },
    }
    pod = _pod_spec(name, options, deploy)
    pod = {
        "subdomain": name,
        "restartPolicy": "Never",
        **pod,
        "containers": [_container("trainer", image, args, deploy, port="rendezvous")],
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": deploy.nodes,
            "parallelism": deploy.nodes,
            "backoffLimit": 0,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    header = (
        f"Training job of {stack.name!r}: {deploy.nodes} node(s) x {deploy.gpus_per_node} GPU(s)"
        " (written by torchenv deploy).\n"
        f"kubectl apply -f {name}.yaml. The claims must exist: {name}-workspace (your code, the\n"
        f"working directory), {name}-data and {name}-checkpoints.\n" + NCCL_NOTE
    )
    return yaml_text(header, [service, job])


def render_pytorchjob(stack: ImageStack, options: SpecImage, deploy: SpecDeploy, image: str) -> str:
    name = k8s_name(stack.name)
    labels = {"app.kubernetes.io/name": name, **MANAGED}
    # torchrun reads the nodes, ranks and master address from the PET_* variables the operator
    # sets, so the command carries the script only
    args = ["torchrun", *deploy.command]

    def replica(count: int, master: bool) -> dict[str, Any]:
        pod = {
            **_pod_spec(name, options, deploy),
            # the operator reads the master's port from a port of this name, else uses 23456
            # (training-operator release-1.9, PytorchJobDefaultPortName)
            "containers": [
                _container("pytorch", image, args, deploy, "pytorchjob-port" if master else None)
            ],
        }
        return {
            "replicas": count,
            "restartPolicy": "OnFailure",
            "template": {"metadata": {"labels": labels}, "spec": pod},
        }

    specs = {"Master": replica(1, master=True)}
    if deploy.nodes > 1:
        specs["Worker"] = replica(deploy.nodes - 1, master=False)
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nprocPerNode": str(max(deploy.gpus_per_node, 1)),
            "runPolicy": {"backoffLimit": 0, "cleanPodPolicy": "None"},
            "pytorchReplicaSpecs": specs,
        },
    }
    header = (
        f"Kubeflow PyTorchJob of {stack.name!r}: {deploy.nodes} node(s) x "
        f"{deploy.gpus_per_node} GPU(s) (written by torchenv deploy).\n"
        "Needs the Kubeflow training operator v1 (kubeflow.org/v1). The claims must exist:\n"
        f"{name}-workspace (your code), {name}-data and {name}-checkpoints.\n" + NCCL_NOTE
    )
    return yaml_text(header, [job])


def render_slurm(stack: ImageStack, deploy: SpecDeploy, image: str | None, prefix: str) -> str:
    """sbatch script: one task per node, torchrun starts the GPU processes. With ``image`` the
    task runs in the container through NVIDIA's pyxis plugin (srun --container-image), else in
    the environment at ``prefix`` on a shared file system."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stack.name) or "torchenv"
    command = " ".join(shlex.quote(part) for part in deploy.command)
    nproc = max(deploy.gpus_per_node, 1)
    lines = [
        "#!/bin/bash",
        f"# Training job of {stack.name!r} on Slurm (written by torchenv deploy).",
        "# Submit it with sbatch from the project directory: the script, data/ and checkpoints/.",
        *(f"# {line}" for line in NCCL_NOTE.splitlines()),
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={deploy.nodes}",
        "#SBATCH --ntasks-per-node=1",
    ]
    if deploy.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={deploy.gpus_per_node}")
    lines += [
        "#SBATCH --output=%x-%j.out",
        "set -euo pipefail",
        "",
        'mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
        'head_node="${nodes[0]}"',
        'head_ip="$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address'
        " | awk '{print $1}')\"",
        "",
    ]
    if image:
        lines += [
            f"image={shlex.quote(image)}",
            'srun --container-image="$image" --container-workdir=' + WORKSPACE + " \\",
            f'    --container-mounts="$SLURM_SUBMIT_DIR:{WORKSPACE}" \\',
            "    torchrun \\",
        ]
    else:
        lines += [
            f'prefix="${{TORCHENV_PREFIX:-{prefix}}}"  # the environment, on a shared file system',
            'srun "$prefix/bin/torchrun" \\',
        ]
    lines += [
        f"    --nnodes={deploy.nodes} --nproc-per-node={nproc} \\",
        '    --rdzv-id="$SLURM_JOB_ID" --rdzv-backend=c10d \\',
        f'    --rdzv-endpoint="$head_ip:{deploy.port}" \\',
        f"    {command}",
        "",
    ]
    return "\n".join(lines)
