"""``torchenv deploy``: launch files for the environment's image (compose, Kubernetes Job,
Kubeflow PyTorchJob) or for the environment itself on Slurm."""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path, PurePosixPath

from torchenv.backends import outdir
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ship import (
    DEPLOY_SCHEMA,
    DEPLOY_TARGETS,
    DeployReport,
    ImageStack,
    ShipFile,
    SpecDeploy,
    SpecImage,
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
    monitoring: bool = False,
) -> DeployReport:
    """``monitoring``: Prometheus and Grafana beside the compose run, or the exporter's
    DaemonSet with the Prometheus operator's objects on Kubernetes; this run's choice, never
    saved in [deploy]."""
    from torchenv.commands.image import load_ship_inputs, with_user_ids  # noqa: PLC0415
    from torchenv.ship import cluster, monitorstack  # noqa: PLC0415
    from torchenv.ship.base import image_reference  # noqa: PLC0415

    if to not in DEPLOY_TARGETS:
        raise UsageError(
            "deploy-target",
            Msg("Unknown target {value}.", value=repr(to)),
            Msg("Use {choices}.", choices=", ".join(DEPLOY_TARGETS)),
        )
    if monitoring and to == "slurm":
        raise UsageError(
            "deploy-monitoring",
            Msg("--monitoring writes a compose stack or Kubernetes objects; Slurm takes neither."),
            Msg(
                "Run `torchenv monitor serve` on the GPU nodes, with the files of `torchenv "
                "monitor rules` and `torchenv monitor dashboard` for your Prometheus and Grafana."
            ),
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
    if monitoring and not deploy.gpus_per_node:
        raise UsageError(
            "deploy-monitoring",
            Msg("--monitoring watches GPUs, and this run requests none."),
            Msg("Give --gpus-per-node, or leave --monitoring out."),
        )
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
                Msg(
                    "compose runs on one machine; [deploy] asks for {count} nodes.",
                    count=deploy.nodes,
                ),
                Msg("Use --to k8s, pytorchjob or slurm for several nodes, or --nodes 1."),
            )
        project = os.path.relpath(spec_dir, target)
        files = _compose_files(stack, deploy, options, chosen, project, target, monitoring, notes)
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
    if to in ("k8s", "pytorchjob") and monitoring:
        files += _cluster_monitoring(name, options, chosen, notes)
    if to in ("k8s", "pytorchjob") and "/" not in chosen.split(":")[0]:
        notes.append(
            f"{chosen} names no registry: push the image where the cluster can pull it and set "
            "[image] name (or --image) to that reference"
        )
    # a password the user put beside compose.yaml outlives the next deploy
    keep = [monitorstack.GRAFANA_PASSWORD_FILE] if to == "compose" else []
    outdir.replace_dir(target, lambda root: _write(root, files), keep=keep)
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


def _compose_files(
    stack: ImageStack,
    deploy: SpecDeploy,
    options: SpecImage,
    image: str,
    project: str,
    target: Path,
    monitoring: bool,
    notes: list[str],
) -> list[ShipFile]:
    """compose.yaml; with ``monitoring`` the exporter (when the run has GPUs to watch: without
    them it would only bring a GPU reservation, which a host without the NVIDIA runtime
    refuses) and the files of Prometheus and Grafana. Never without asking: a long-running
    service would keep `docker compose up` from returning when the training ends."""
    from torchenv.ship import compose, monitorstack  # noqa: PLC0415

    exporter = options.ids() if deploy.gpus_per_node and monitoring else None
    text = compose.render_train_compose(
        stack, deploy, image, project, exporter_user=exporter, monitoring=monitoring
    )
    files = [ShipFile("compose.yaml", text)]
    if monitoring:
        files += monitorstack.compose_monitoring_files()
        if not (target / monitorstack.GRAFANA_PASSWORD_FILE).is_file():
            notes.append(
                f"Grafana's admin password is read from {monitorstack.GRAFANA_PASSWORD_FILE}, "
                "which torchenv never writes: make it before `docker compose up` (the header "
                "of compose.yaml says how)"
            )
    if monitoring and exporter is None:
        notes.append("no GPUs requested: the compose file has no GPU exporter")
    return files


def _cluster_monitoring(
    name: str, options: SpecImage, image: str, notes: list[str]
) -> list[ShipFile]:
    """The exporter's DaemonSet and Service, and the Prometheus operator's objects, each in a
    file of its own: neither belongs in the training file's namespace or needs its CRDs."""
    from torchenv.ship import monitorstack  # noqa: PLC0415

    notes += [
        f"{name}-exporter.yaml shares the host's PID namespace, which only the privileged Pod "
        "Security level allows (baseline and restricted forbid it): apply it in a namespace "
        "labelled pod-security.kubernetes.io/enforce=privileged, not beside restricted "
        "training pods",
        f"{name}-monitoring.yaml needs the Prometheus operator's CRDs (monitoring.coreos.com/v1)",
    ]
    return [
        ShipFile(f"{name}-exporter.yaml", monitorstack.render_exporter_k8s(name, options, image)),
        ShipFile(f"{name}-monitoring.yaml", monitorstack.render_operator_k8s(name)),
    ]


def _write(root: Path, files: list[ShipFile]) -> None:
    outdir.write_files(root, files)
    # the containers of Prometheus and Grafana read their files as users of their own: the
    # directories are opened to them whatever the umask made them
    for item in files:
        for parent in PurePosixPath(item.path).parents:
            if parent != PurePosixPath():
                (root / parent).chmod(0o755)


def _argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(
            "deploy-command",
            Msg("--command {value}: {error}.", value=repr(command), error=str(exc)),
        ) from None
    if not argv:
        raise UsageError(
            "deploy-command", Msg("--command is empty."), Msg("Give the script to run.")
        )

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
