"""`torchenv list`: the environments torchenv made, and the health of each."""

from __future__ import annotations

import click

from torchenv.cli import common
from torchenv.cli.examples import examples, inline_examples
from torchenv.i18n import _


@click.command(
    "list",
    epilog=examples("list"),
    short_help=_("The environments torchenv made, and the health of each."),
    help=_(
        "Every environment torchenv made: prefix, live generation, torch, variant, Python, "
        "installer, spec, and its health: ok, or gone, python-broken, record-unusable, "
        "lock-stale (the lock or spec changed since it was built), drifted (its packages differ "
        "from the lock). Read from the files only; no environment's Python is started. Health "
        "is information: the exit status is 0 whenever the list could be made."
    )
    + inline_examples(
        "torchenv list",
        "torchenv list --json | jq -r '.environments[] | select(.health != [\"ok\"]) | .prefix'",
    ),
)
@click.option("--json", "as_json", is_flag=True, help=common.json_help("torchenv.list/1"))
def list_environments(as_json: bool) -> None:
    from torchenv.commands.listing import run_list  # noqa: PLC0415

    report = run_list()
    if as_json:
        common.write_json(report)
        return
    from torchenv.report.render_list import render_list  # noqa: PLC0415

    render_list(common.printer(), report)
