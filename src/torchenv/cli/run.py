"""`torchenv run`: a command inside an environment, optionally with CUDA memory snapshots."""

from __future__ import annotations

import click

from torchenv.cli import common
from torchenv.cli.examples import examples
from torchenv.i18n import _


@click.command(
    context_settings={"allow_interspersed_args": False},
    short_help=_("Run a command in an environment, as if it were activated."),
    epilog=examples("run"),
    help=_(
        "Run COMMAND in the environment as if it were activated: its bin/ first on PATH, "
        "VIRTUAL_ENV or CONDA_PREFIX set (activate.d scripts do not run). stdin, stdout and "
        "stderr are the command's; SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to torchenv go on to "
        "it.\n\n"
        "Exit code: COMMAND's own, 128+N when signal N ended it; 2 when COMMAND is not found or "
        "cannot be started (a shell says 127 or 126). Options after COMMAND are its own; `--` "
        'before it is needed only when it starts with "-": torchenv run --prefix .venv -- '
        "python -c ...\n\n"
        "--memory-snapshot reaches the command's Python processes through a sitecustomize on "
        "PYTHONPATH (python -I or -E skip it); where torch has no CUDA or no GPU is visible it "
        "records nothing, says so, and runs COMMAND unchanged."
    ),
)
@common.target_options
@click.option(
    "--memory-snapshot",
    "memory_snapshot",
    metavar="DIR",
    help=_(
        "Record the CUDA caching allocator's history in the command's Python processes; write "
        "DIR/snapshot-PID.pickle at exit and DIR/oom-PID-N.pickle at each out-of-memory error, "
        "and render each as HTML pages with torch's viewer. DIR is made with mode 0700. "
        "TORCHENV_MEMORY_SNAPSHOT_MAX_ENTRIES: the events kept (default 100000)."
    ),
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="COMMAND...")
@click.pass_context
def run(
    ctx: click.Context,
    python: str | None,
    prefix: str | None,
    memory_snapshot: str | None,
    command: tuple[str, ...],
) -> None:
    from torchenv.commands.run import run_command  # noqa: PLC0415

    outcome = run_command(
        common.context(),
        python,
        prefix,
        command,
        memory_snapshot=memory_snapshot,
        progress=common.progress,
    )
    for page in outcome.pages:
        common.progress(_("memory snapshot: {page}").format(page=page))
    for problem in outcome.problems:
        common.error_line(
            _("torchenv: warning: memory snapshot not rendered: {problem}").format(problem=problem)
        )
    if outcome.recorded and not outcome.pages and not outcome.problems:
        common.progress(
            _(
                "memory snapshot: none was written (no Python process of the command used "
                "CUDA, or none ended through its exit hooks)"
            )
        )
    ctx.exit(outcome.exit_code)
