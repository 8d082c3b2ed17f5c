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

The pods meet the "restricted" Pod Security Standard (kubernetes.io/docs/concepts/security/
pod-security-standards), which a namespace may enforce: non-root, no privilege escalation, all
capabilities dropped, the runtime's default seccomp profile.

What comes from the spec or from paths is inert wherever it lands: shell-quoted in the batch
script (a directory named `p$(touch x)` runs nothing), `$` doubled in container arguments
(the kubelet expands `$(VAR)` there), and made a comment line by line in the headers.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Any

from torchenv.models.ship import ImageStack, SpecDeploy, SpecImage
from torchenv.ship.dockerfile import WORKSPACE
from torchenv.ship.yamltext import comment_lines, yaml_text

MANAGED = {"app.kubernetes.io/managed-by": "torchenv"}
NCCL_NOTE = (
    "NCCL: NCCL_DEBUG is left unset; its docs say debug variables are not for production runs.\n"
    "Set NCCL_DEBUG=INFO to debug a hang, and NCCL_SOCKET_IFNAME (e.g. eth0, or ^lo,docker to\n"
    "exclude) when NCCL picks the wrong network interface."
)


# A Job's name is kept shorter than a label's 63 characters because its pods are named
# "<job>-<index>-<suffix>" and its hostnames "<job>-<index>", which are labels themselves.
K8S_NAME_MAX = 40
_HASHED_PART = 8  # hex digits of sha256 that keep two long names apart once cut


def k8s_name(name: str) -> str:
    """An RFC 1123 label (lowercase alphanumerics and '-', alphanumeric at both ends) of at most
    ``K8S_NAME_MAX`` characters. A name cut to fit ends in a hash of the whole name, so that
    two long names sharing a beginning do not share their Job and volume claims."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "torchenv"
    if len(cleaned) <= K8S_NAME_MAX:
        return cleaned
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASHED_PART]
    return f"{cleaned[: K8S_NAME_MAX - _HASHED_PART - 1].rstrip('-')}-{digest}"


def _k8s_literal(argument: str) -> str:
    """``argument`` as the kubelet passes it on: it expands `$(VAR)` in a container's args
    from the container's environment (PyTorchJob's PET_* included) and reads `$$` as one `$`
    (Kubernetes API reference, Container.args), so each `$` of the spec's command is doubled
    to reach torchrun as written, as it does in the compose file and the batch script."""
    return argument.replace("$", "$$")


def _shm(size: str) -> str:
    """compose's "16g" as a Kubernetes quantity ("16Gi")."""
    units = {"k": "Ki", "m": "Mi", "g": "Gi", "b": ""}
    unit = size[-1].lower()
    return size[:-1] + units[unit] if unit in units else size


def _container(
    name: str, image: str, args: list[str], deploy: SpecDeploy, port: str | None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "args": args}
    # the container half of the "restricted" standard (the pod half is in _pod_spec)
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
    }
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
            # "restricted" requires a seccomp profile; RuntimeDefault is the runtime's own
            "seccompProfile": {"type": "RuntimeDefault"},
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
        *map(_k8s_literal, deploy.command),
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
    args = ["torchrun", *map(_k8s_literal, deploy.command)]

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
    # sbatch reads "#SBATCH" lines as options: the job name keeps to characters that neither
    # end the line nor mean anything to sbatch ("%" is a pattern of --output)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stack.name) or "torchenv"
    command = " ".join(shlex.quote(part) for part in deploy.command)
    nproc = max(deploy.gpus_per_node, 1)
    header = (
        f"Training job of {stack.name!r} on Slurm (written by torchenv deploy).\n"
        "Submit it with sbatch from the project directory: the script, data/ and checkpoints/.\n"
        + NCCL_NOTE
    )
    lines = [
        "#!/bin/bash",
        *comment_lines(header),
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
        # the path is assigned on a line of its own, single-quoted: inside "${VAR:-default}"
        # a directory named `p$(touch x)` or with a backtick or a quote would be run or break out
        lines += [
            "# the environment, on a shared file system",
            f"default_prefix={shlex.quote(prefix)}",
            'prefix="${TORCHENV_PREFIX:-$default_prefix}"',
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
