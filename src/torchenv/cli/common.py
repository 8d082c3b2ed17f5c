"""Helpers shared by the command modules of the CLI: output printers and option groups."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from torchenv.i18n import _
from torchenv.untrusted.text import for_terminal

F = TypeVar("F", bound=Callable[..., Any])
Segment = tuple[str, str | None]


class Seconds(click.FloatRange):
    """A number of seconds from 1 to a day. click's FloatRange lets "nan" through (every
    comparison with NaN is false), and a NaN timeout reaches the subprocess module."""

    name = "number"

    def __init__(self) -> None:
        super().__init__(min=1, max=86400)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(
                _("{value} is not a number of seconds.").format(value=repr(value)), param, ctx
            )
        return number


class FilePath(click.Path):
    """click.Path for a file, refusing a NUL byte itself: click's own check calls os.stat,
    which raises ValueError (not OSError) for one, and that reached the user as an internal
    error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(dir_okay=False, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if "\0" in str(value):
            self.fail(
                _("{value} holds a NUL byte; no file can have that name.").format(
                    value=repr(value)
                ),
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def printer() -> Callable[[list[tuple[str, str | None]]], None]:
    """Prints one line of (text, style) segments: with rich colours on a terminal, plain when
    stdout is piped or NO_COLOR is set (and then rich is not imported at all). Names, paths and
    versions read from files may hold terminal escapes or URLs with credentials: every segment
    is shown through ``for_terminal``."""
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():

        def plain(segments: list[tuple[str, str | None]]) -> None:
            sys.stdout.write(for_terminal("".join(text for text, _ in segments)) + "\n")

        return plain
    from rich.console import Console  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    console = Console(highlight=False, soft_wrap=True)

    def rich_line(segments: list[tuple[str, str | None]]) -> None:
        console.print(Text.assemble(*((for_terminal(t), s or "") for t, s in segments)))

    return rich_line


def styled(template: str, words_style: str | None = None, /, **fields: object) -> list[Segment]:
    """The segments of one line from a translated ``template``: its ``{name}`` fields filled
    from ``fields`` (a value shown plain, a ``(value, style)`` pair in that style), the words
    around them in ``words_style``. A translation may put the fields in any order it needs."""
    import string  # noqa: PLC0415

    segments: list[Segment] = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        if literal:
            segments.append((literal, words_style))
        if name is not None:
            value, style = fields[name], None
            if isinstance(value, tuple):
                value, style = value
            segments.append((format(value, spec or ""), style))
    return segments


def json_help(schema: str) -> str:
    """The help of a command's --json option."""
    return _("Print one JSON document ({schema}).").format(schema=schema)


def wrote(path: str) -> list[Segment]:
    return styled(_("wrote {path}"), path=(path, "bold"))


def note(text: str) -> list[Segment]:
    """An indented note of a report (its text comes from the command, in English for now)."""
    return [("  ", None), *styled(_("note: {note}"), "dim", note=(text, None))]


def next_step(command: str, style: str | None = None) -> list[Segment]:
    """The command to run next."""
    return styled(_("next: {command}"), "dim", command=(command, style))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: two for a wide (CJK) character (report.segments,
    imported when first needed: unicodedata stays off the start-up path)."""
    from torchenv.report.segments import width  # noqa: PLC0415

    return width(text)


def padded(text: str, width: int) -> str:
    """``text`` and spaces up to ``width`` columns, for labels in a column."""
    from torchenv.report.segments import pad  # noqa: PLC0415

    return pad(text, width)


def progress(message: str) -> None:
    error_line(f"torchenv: {message}")


def _quiet(message: str) -> None:
    del message


@contextlib.contextmanager
def steps(*, quiet: bool = False, live: bool = True) -> Iterator[Callable[[str], None]]:
    """The ``progress`` callback of a long command: nothing when ``quiet`` (--json: stdout is
    the document, and scripts read stderr for errors only); on a terminal, unless ``live`` is
    off (--verbose streams the tool's own output, a question is asked mid-way) or NO_COLOR or
    TERM=dumb say otherwise, a spinner with the step's elapsed time and a line per finished
    step; else one plain line per step."""
    if quiet:
        yield _quiet
        return
    plain = os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb"
    if not live or plain or not sys.stderr.isatty():
        yield progress
        return
    from torchenv.cli.live import LiveSteps  # noqa: PLC0415  (rich, on a terminal only)

    with LiveSteps() as display:
        yield display


def error_line(text: str) -> None:
    """A line on stderr, without credentials or control sequences."""
    click.echo(for_terminal(text), err=True)


def target_options(func: F) -> F:
    func = click.option(
        "--prefix",
        metavar="DIR",
        help=_("Environment directory (venv or conda prefix), even one whose python does not run."),
    )(func)
    return click.option("--python", metavar="PATH", help=_("Interpreter of the environment."))(func)


def context() -> Any:
    from torchenv.commands import host_context  # noqa: PLC0415

    return host_context()


def write_json(document: Any) -> None:
    from torchenv.report.render_json import render_json  # noqa: PLC0415

    sys.stdout.write(render_json(document))


def plan_target_options(func: F) -> F:
    """The options `plan` and `init` share: the constraints and the target machines."""
    options = [
        click.option(
            "--torch",
            "torch_spec",
            metavar="SPEC",
            help=_('Release or specifier: "2.13", ">=2.8".'),
        ),
        click.option(
            "--python", metavar="X.Y", help=_("Python version (default: the environment's).")
        ),
        click.option(
            "--cuda",
            metavar="auto|cpu|X.Y|cuXYZ",
            help=_(
                "CUDA choice (default auto: fit the GPUs and driver; cpu when there is no GPU)."
            ),
        ),
        click.option(
            "--gpu",
            "gpus",
            multiple=True,
            metavar="NAME|X.Y|sm_XY",
            help=_("A target GPU (repeat for several): a machine described on the command line."),
        ),
        click.option("--driver", metavar="VERSION", help=_("NVIDIA driver version of the target.")),
        click.option(
            "--platform",
            metavar="PLATFORM",
            help=_("Platform of a --gpu target: linux_x86_64 (default), linux_aarch64, win_amd64."),
        ),
        click.option(
            "--for",
            "machine_files",
            multiple=True,
            metavar="MACHINE.json",
            type=FilePath(),
            help=_("`torchenv inspect --json` of a target machine (repeat for a fleet)."),
        ),
        click.option(
            "--no-pytorch-index",
            "no_pytorch_index",
            is_flag=True,
            help=_(
                "Only PyPI or its mirror is reachable: plan each release's PyPI build "
                "(the spec's `[index] pytorch = false`)."
            ),
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
