"""Command-line interface: parses arguments, calls one command, renders its result, and maps
errors to exit codes (errors.ExitCode). No logic lives here.

Each subcommand's module is imported when that subcommand runs (or when help or completion lists
them all): a short command pays for its own imports only (start-up, benchmarks/bench_startup.py).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Sequence
from importlib import import_module

import click

from torchenv import __version__, i18n
from torchenv.cli import common
from torchenv.errors import ExitCode, TorchenvError
from torchenv.i18n import _

if i18n.language() is not None:
    # click's own words ("Usage:", "Options", its errors) in the user's language, before the
    # first click decorator below runs (some are read there); nothing of it in English
    from torchenv.cli import translate

    translate.install()

# name -> "module:attribute" of the click command
SUBCOMMANDS = {
    "adopt": "torchenv.cli.adopt:adopt",
    "ci": "torchenv.cli.ci:ci",
    "create": "torchenv.cli.build:create",
    "db": "torchenv.cli.db:db",
    "deploy": "torchenv.cli.ship:deploy",
    "diff": "torchenv.cli.diff:diff",
    "doctor": "torchenv.cli.doctor:doctor",
    "export": "torchenv.cli.export:export",
    "history": "torchenv.cli.lifecycle:history",
    "image": "torchenv.cli.ship:image",
    "init": "torchenv.cli.init:init",
    "inspect": "torchenv.cli.inspect:inspect",
    "list": "torchenv.cli.listing:list_environments",
    "lock": "torchenv.cli.build:lock",
    "matrix": "torchenv.cli.matrix:matrix",
    "monitor": "torchenv.cli.monitor:monitor",
    "plan": "torchenv.cli.plan:plan",
    "rollback": "torchenv.cli.lifecycle:rollback",
    "run": "torchenv.cli.run:run",
    "upgrade": "torchenv.cli.lifecycle:upgrade",
    "verify": "torchenv.cli.verify:verify",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported by name when needed (click's documented pattern,
    "Lazily Loading Subcommands")."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS and cmd_name not in self.commands:
            module, attribute = SUBCOMMANDS[cmd_name].split(":")
            command: click.Command = getattr(import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=_("PyTorch + CUDA environments that work, prove that they work, and can be rebuilt."),
)
# the version line stays the same in every language: scripts read it
@click.version_option(__version__, prog_name="torchenv", message="%(prog)s, version %(version)s")
@click.option("--debug", is_flag=True, help=_("Show tracebacks of errors."))
@click.pass_context
def app(ctx: click.Context, debug: bool) -> None:
    ctx.obj = {"debug": debug}


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if code != 130:  # not after an interrupt
        # stderr closed (`2>&1 | head -1`): the command's own code stands
        with contextlib.suppress(OSError):
            _warn_about_knowledge()
    return code


def _warn_about_knowledge() -> None:
    """A corrupt copy of `db update`'s data loses to the packaged data; say so, once."""
    from torchenv.commands import knowledge_warnings  # noqa: PLC0415

    for path, why in knowledge_warnings():
        common.error_line(
            _(
                "torchenv: warning: the updated knowledge file {path} was not used ({why}); "
                "the data packaged with torchenv was used instead"
            ).format(path=path, why=i18n.shown(why))
        )
        common.error_line(
            "  " + _("hint: run `torchenv db update` to write it again, or delete it")
        )


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    for stream in (sys.stdout, sys.stderr):
        # file names that are not UTF-8 reach us as surrogates; print them escaped
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        # without standalone mode, click returns the code of ctx.exit() instead of raising
        code = app.main(args=args, prog_name="torchenv", standalone_mode=False)
        if isinstance(code, int):
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # click repeats the value given: shown like every other line
        for line in shown.getvalue().splitlines():
            common.error_line(line)
        return ExitCode.USAGE
    except click.exceptions.Abort:
        return 130
    except TorchenvError as exc:
        if debug:
            raise
        common.error_line(_("torchenv: error: {message}").format(message=i18n.shown(exc.message)))
        if exc.hint:
            common.error_line("  " + _("hint: {hint}").format(hint=i18n.shown(exc.hint)))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            raise
        common.error_line(
            _("torchenv: internal error: {kind}: {error}").format(
                kind=type(exc).__name__, error=exc
            )
        )
        common.error_line("  " + _("hint: run again with --debug and report the traceback"))
        return ExitCode.INTERNAL
    return ExitCode.OK
