"""`torchenv ci`: the project's CI workflow, from the spec."""

from __future__ import annotations

from pathlib import Path

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _


@click.command(
    epilog=examples("ci"),
    short_help=_("Write the CI workflow that keeps the environment honest."),
    help=_(
        "Write the CI workflow that keeps the environment honest: the lock is fresh, the "
        "environment builds from it (installer cache kept between runs), `torchenv verify` "
        "passes (JUnit report uploaded); optionally GPU checks on a self-hosted runner and the "
        "image on tags. Actions are pinned to commit SHAs; a workflow you wrote is never "
        "replaced."
    ),
)
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option(
    "--to", "to", type=click.Choice(["github", "gitlab"]), required=True, help=_("The CI system.")
)
@click.option(
    "--gpu-runner",
    metavar="LABEL",
    help=_("Also run the full GPU checks on a self-hosted runner with this label."),
)
@click.option(
    "--image", is_flag=True, help=_("On tags, build the image from the lock and push it.")
)
@click.option(
    "--image-ref",
    metavar="REGISTRY/NAME",
    help=_("Where --image pushes (default: the CI system's own registry); implies --image."),
)
@click.option(
    "--install",
    metavar="COMMAND",
    help=_("How the runners install torchenv (default: pip install torchenv==this version)."),
)
@click.option(
    "--out",
    metavar="DIR",
    help=_(
        "The repository's root, where .github/ or .gitlab-ci.yml goes (default: the spec's "
        "directory)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.ci/1"))
def ci(
    spec: str | None,
    to: str,
    gpu_runner: str | None,
    image: bool,
    image_ref: str | None,
    install: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    from torchenv.commands.ci import run_ci  # noqa: PLC0415

    report = run_ci(
        spec,
        Path.cwd(),
        to=to,
        out=out,
        gpu_runner=gpu_runner,
        image=image,
        image_ref=image_ref,
        install=install,
    )
    if as_json:
        common.write_json(report)
        return
    emit = common.printer()
    if report.replaced:
        emit(common.styled(_("replaced {path}"), path=(report.path, "bold")))
    else:
        emit(common.wrote(report.path))
    emit([("  " + _("jobs: {jobs}").format(jobs=", ".join(report.jobs)), None)])
    for note in report.notes:
        emit(common.note(note))
