"""``torchenv deploy``: launch files for the environment's image (compose, Kubernetes Job,
Kubeflow PyTorchJob) or for the environment itself on Slurm."""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path

from torchenv.backends import outdir
from torchenv.errors import UsageError
from torchenv.models.ship import (
    DEPLOY_SCHEMA,
    DEPLOY_TARGETS,
    DeployReport,
    ShipFile,
    SpecDeploy,
)
from torchenv.spec import spec_directory


def run_deploy(
    spec_file: str | None,
    cwd: Path,
    *,
    to: str,
    out: str | None = None,
    image: str | None = None,
    nodes: int | None = None,
    gpus_per_node: int | None = None,
    command: str | None = None,
    port: int | None = None,
    shm_size: str | None = None,
    save: bool = True,
) -> DeployReport:
    from torchenv.commands.image import load_ship_inputs, with_user_ids  # noqa: PLC0415
    from torchenv.ship import cluster, compose  # noqa: PLC0415
    from torchenv.ship.base import image_reference  # noqa: PLC0415

    if to not in DEPLOY_TARGETS:
        raise UsageError(
            "deploy-target", f"Unknown target {to!r}.", "Use " + ", ".join(DEPLOY_TARGETS) + "."
        )
    from torchenv.commands.shipoptions import given, save_options, with_options  # noqa: PLC0415

    spec, _, stack = load_ship_inputs(spec_file, cwd)
    values = given(
        {
            "image": image,
            "nodes": nodes,
            "gpus-per-node": gpus_per_node,
            "command": _argv(command) if command is not None else None,
            "port": port,
            "shm-size": shm_size,
        }
    )
    spec = with_options(spec, "deploy", values)
    notes: list[str] = []
    asked = gpus_per_node is not None or _spec_sets(spec.path, "gpus-per-node")
    deploy = _cpu_sized(spec.deploy, stack.cuda is not None, asked, notes)
    options = with_user_ids(spec.image)  # the same user as the image `torchenv image` makes
    chosen = deploy.image or image_reference(options, stack)
    spec_dir = spec_directory(spec, cwd)
    target = Path(out).expanduser() if out else spec_dir / "deploy" / to
    if not target.is_absolute():
        target = cwd / target
    name = cluster.k8s_name(stack.name)
    if to == "compose":
        if deploy.nodes > 1:
            raise UsageError(
                "deploy-compose-nodes",
                f"compose runs on one machine; [deploy] asks for {deploy.nodes} nodes.",
                "Use --to k8s, pytorchjob or slurm for several nodes, or --nodes 1.",
            )
        files = [
            ShipFile(
                "compose.yaml",
                compose.render_train_compose(
                    stack, deploy, chosen, os.path.relpath(spec_dir, target)
                ),
            )
        ]
    elif to == "k8s":
        text = cluster.render_k8s_job(stack, options, deploy, chosen)
        files = [ShipFile(f"{name}.yaml", text)]
    elif to == "pytorchjob":
        text = cluster.render_pytorchjob(stack, options, deploy, chosen)
        files = [ShipFile(f"{name}-pytorchjob.yaml", text)]
    else:
        in_image = deploy.image
        prefix = str((spec_dir / ".venv").absolute())
        text = cluster.render_slurm(stack, deploy, in_image, prefix)
        files = [ShipFile(f"{name}.sbatch", text, executable=True)]
        notes.append(
            f"runs in the image {in_image} through pyxis"
            if in_image
            else f"runs the environment at {prefix} (made by `torchenv create`; a shared file "
            "system); give --image to run the container through pyxis"
        )
    if to in ("k8s", "pytorchjob") and "/" not in chosen.split(":")[0]:
        notes.append(
            f"{chosen} names no registry: push the image where the cluster can pull it and set "
            "[image] name (or --image) to that reference"
        )
    outdir.replace_dir(target, lambda root: outdir.write_files(root, files))
    notes += save_options(spec, "deploy", values, save)
    return DeployReport(
        DEPLOY_SCHEMA,
        to,
        str(target),
        chosen,
        tuple(f.path for f in files),
        deploy.nodes,
        deploy.gpus_per_node,
        tuple(notes),
    )


def _argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError("deploy-command", f"--command {command!r}: {exc}.") from None
    if not argv:
        raise UsageError("deploy-command", "--command is empty.", "Give the script to run.")
    return argv


def _spec_sets(path: str | None, key: str) -> bool:
    from torchenv.spec.remember import keys_in_file  # noqa: PLC0415

    return bool(path) and key in keys_in_file(Path(str(path)), "deploy")


def _cpu_sized(deploy: SpecDeploy, gpu_build: bool, asked: bool, notes: list[str]) -> SpecDeploy:
    """A CPU build asks for no GPUs, unless the command line or the spec file names a number
    (the default of one GPU is not one); this run's reading of the lock, never saved."""
    if gpu_build or asked:
        return deploy
    notes.append("the lock holds a CPU build: no GPUs requested")
    return dataclasses.replace(deploy, gpus_per_node=0)
