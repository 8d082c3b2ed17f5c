"""`torchenv image` and `torchenv deploy`: the locked environment in containers and clusters."""

from __future__ import annotations

from pathlib import Path

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _


@click.command(
    epilog=examples("image"),
    short_help=_("Write a Dockerfile whose image installs exactly the lock."),
    help=_(
        "Write a Dockerfile (with .dockerignore, entrypoint, configs, compose.yaml) whose image "
        "installs exactly the lock: non-root, tini, a verify HEALTHCHECK, labels with the lock."
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option(
    "--jupyter/--no-jupyter",
    default=None,
    help=_("Add Jupyter Lab (jupyterlab must be in the lock), or leave it out."),
)
@click.option(
    "--ssh/--no-ssh",
    default=None,
    help=_("Add a key-only sshd, run as the image's user, or not."),
)
@click.option("--base", "base_image", metavar="REF", help=_("Base image, pinned by tag or digest."))
@click.option(
    "--name",
    "image_name",
    metavar="REF",
    help=_("Image reference with registry (e.g. ghcr.io/o/x)."),
)
@click.option(
    "--no-save",
    is_flag=True,
    help=_(
        "Use --jupyter, --ssh, --base and --name for this run only; by default they are kept "
        "in the spec's [image] table."
    ),
)
@click.option("--out", metavar="DIR", help=_("Where the build context goes (default: image/)."))
@click.option("--build", is_flag=True, help=_("Build it with docker, podman or buildah."))
@click.option(
    "--builder",
    type=click.Choice(["docker", "podman", "buildah"]),
    help=_("Which builder --build uses (default: the first that works here)."),
)
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="NAME=VALUE",
    help=_("Passed to the builder (BASE_IMAGE, UV_IMAGE, UID, GID, USER)."),
)
@click.option("--verbose", "-v", is_flag=True, help=_("Show the builder's output."))
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.image/1"))
def image(
    spec: str | None,
    jupyter: bool | None,
    ssh: bool | None,
    base_image: str | None,
    image_name: str | None,
    no_save: bool,
    out: str | None,
    build: bool,
    builder: str | None,
    build_args: tuple[str, ...],
    verbose: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.image import run_image  # noqa: PLC0415

    with common.steps(quiet=as_json, live=not verbose) as progress:
        report = run_image(
            common.context(),
            spec,
            Path.cwd(),
            out=out,
            jupyter=jupyter,
            ssh=ssh,
            base_image=base_image,
            image_name=image_name,
            save=not no_save,
            build=build,
            builder=builder,
            build_args=build_args,
            verbose=verbose,
            progress=progress,
        )
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    emit(
        common.styled(
            _("wrote {path} ({count} files)"), path=(report.out, "bold"), count=len(report.files)
        )
    )
    emit([("  ", None), *common.styled(_("image {image}"), image=(report.image, "bold green"))])
    for note in report.notes:
        emit(common.note(note))
    if report.build is not None:
        built = _("built with {tool} in {seconds} s").format(
            tool=report.build.tool, seconds=f"{report.build.seconds:.0f}"
        )
        emit([(built, None)])
        emit(common.next_step(f"docker compose -f {report.out}/compose.yaml up -d"))
    else:
        emit(common.next_step(f"docker build -t {report.image} {report.out}"))


@click.command(
    epilog=examples("deploy"),
    short_help=_("Launch files: compose, Kubernetes, PyTorchJob or Slurm."),
    help=_(
        "Launch files for the environment: compose (one machine), an indexed Kubernetes Job "
        "with a headless Service, a Kubeflow PyTorchJob, or a Slurm batch script; torchrun "
        "throughout. A compose run on GPUs gets the GPU exporter (torchenv monitor serve) "
        "beside it."
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice(["compose", "k8s", "pytorchjob", "slurm"]),
    help=_("What launches it."),
)
@click.option("--out", metavar="DIR", help=_("Where the files go (default: deploy/TARGET/)."))
@click.option("--image", metavar="REF", help=_("Image to run (default: [deploy] or [image] name)."))
@click.option("--nodes", type=click.IntRange(1), help=_("Number of machines."))
@click.option("--gpus-per-node", type=click.IntRange(0), help=_("GPUs (processes) per machine."))
@click.option("--command", metavar="'SCRIPT ARGS'", help=_("What torchrun starts (quoted)."))
@click.option("--port", type=click.IntRange(1, 65535), help=_("torchrun's rendezvous port."))
@click.option("--shm-size", metavar="SIZE", help=_("/dev/shm of each container (e.g. 16g)."))
@click.option(
    "--monitoring",
    is_flag=True,
    help=_(
        "Add Prometheus and Grafana (compose) or the GPU exporter's DaemonSet and a "
        "ServiceMonitor (k8s, pytorchjob); for this run only, never kept in [deploy]."
    ),
)
@click.option(
    "--no-save",
    is_flag=True,
    help=_("Use these options for this run only; by default they are kept in [deploy]."),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.deploy/1"))
def deploy(
    spec: str | None,
    target: str,
    out: str | None,
    image: str | None,
    nodes: int | None,
    gpus_per_node: int | None,
    command: str | None,
    port: int | None,
    shm_size: str | None,
    monitoring: bool,
    no_save: bool,
    as_json: bool,
) -> None:
    from torchenv.commands.deploy import run_deploy  # noqa: PLC0415

    report = run_deploy(
        spec,
        Path.cwd(),
        to=target,
        out=out,
        image=image,
        nodes=nodes,
        gpus_per_node=gpus_per_node,
        command=command,
        port=port,
        shm_size=shm_size,
        save=not no_save,
        monitoring=monitoring,
    )
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    for name in report.files:
        emit(common.wrote(str(Path(report.out) / name)))
    emit(
        [
            ("  ", None),
            *common.styled(
                _("{nodes} node(s) x {gpus} GPU(s), image {image}"),
                nodes=report.nodes,
                gpus=report.gpus_per_node,
                image=(report.image, "bold green"),
            ),
        ]
    )
    for note in report.notes:
        emit(common.note(note))
