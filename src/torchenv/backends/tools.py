"""Finding the installers and running their commands through the injected runner."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence

from torchenv.errors import ExternalError
from torchenv.i18n import Msg
from torchenv.models.process import Runner, RunResult

Progress = Callable[[str], None]
TAIL_LINES = 25


class BackendError(ExternalError):
    """An installer failed: the message names it and shows the end of its output (exit 4)."""


def find_uv() -> str:
    """The uv binary of the `uv` package torchenv depends on, else one on PATH."""
    try:
        import uv  # noqa: PLC0415

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise BackendError(
        "uv-missing",
        Msg("uv is not installed: the uv backend and `torchenv lock` need it."),
        Msg("Reinstall torchenv (it depends on the `uv` package) or put uv on PATH."),
    )


def tail(result: RunResult) -> str:
    text = (result.stderr.strip() + "\n" + result.stdout.strip()).strip()
    lines = text.splitlines()[-TAIL_LINES:]
    return "\n".join("    " + line for line in lines) or "    (no output)"


def run_step(
    runner: Runner,
    name: str,
    argv: Sequence[str],
    progress: Progress,
    verbose: bool,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> RunResult:
    if verbose:
        progress("$ " + shlex.join(argv))
    result = runner(list(argv), timeout=timeout, env=dict(env) if env is not None else None)
    if verbose and (result.stdout.strip() or result.stderr.strip()):
        progress((result.stdout + result.stderr).rstrip())
    if not result.ok:
        raise BackendError(
            f"{name}-failed",
            Msg(
                "{tool} failed during {step} ({failure}):\n{output}",
                tool=os.path.basename(argv[0]),
                step=name,
                failure=result.describe_failure(),
                output=tail(result),
            ),
            Msg("Run again with --verbose for the whole output."),
        )
    return result
