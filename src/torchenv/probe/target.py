"""Which environment a command looks at, and why that one (design.md, "command-line surface").

``--prefix`` or ``--python`` when given; else the active environment (``VIRTUAL_ENV``, then
``CONDA_PREFIX``); else the ``python3``/``python`` found on PATH. On PATH, a venv of torchenv's
own (as the README says: no torch in it) is passed over, since its python would otherwise be the
first one found. Installed beside torch, in a system or base interpreter, or activated, the
environment torchenv runs from is a target like any other.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.probe.context import ProbeContext
from torchenv.untrusted import files

_PREFIX_PYTHONS = ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe")


@dataclass(frozen=True)
class TargetChoice:
    prefix: Path | None  # known up front for --prefix and the activation variables
    python: str | None  # the interpreter to ask, when one exists
    selected_by: str


def python_in_prefix(prefix: Path) -> str | None:
    for rel in _PREFIX_PYTHONS:
        candidate = prefix / rel
        if os.path.lexists(candidate):
            return str(candidate)
    return None


def choose_target(ctx: ProbeContext, python: str | None, prefix: str | None) -> TargetChoice:
    if python and prefix:
        raise UsageError(
            "conflicting-target",
            Msg("Give either --python or --prefix, not both."),
            Msg("Use --prefix DIR for an environment directory, --python PATH for an interpreter."),
        )
    if prefix:
        path = Path(prefix).expanduser()
        if not path.exists():
            raise UsageError(
                "prefix-not-found",
                Msg("The prefix {path} does not exist.", path=path),
                Msg(
                    "Pass the environment's root directory (the one holding bin/python, "
                    "pyvenv.cfg or conda-meta/)."
                ),
            )
        if not path.is_dir():
            raise UsageError(
                "prefix-not-a-directory",
                Msg("The prefix {path} is not a directory.", path=path),
                Msg("Pass the environment's root directory, or use --python for an interpreter."),
            )
        return TargetChoice(path.absolute(), python_in_prefix(path.absolute()), "--prefix")
    if python:
        exe = Path(python).expanduser()
        if not exe.exists():
            found = ctx.which(python)
            if found is None:
                raise UsageError(
                    "python-not-found",
                    Msg("The interpreter {python} does not exist.", python=python),
                    Msg("Pass the path of a Python executable, e.g. --python .venv/bin/python."),
                )
            exe = Path(found)
        if exe.is_dir():
            raise UsageError(
                "python-is-a-directory",
                Msg("{path} is a directory, not an interpreter.", path=exe),
                Msg("Use --prefix {path} to inspect an environment directory.", path=exe),
            )
        _check_executable(exe)
        return TargetChoice(None, str(exe.absolute()), "--python")
    # an activated environment is the user's choice, torchenv's own included
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = ctx.env.get(var)
        if value and Path(value).is_dir():
            root = Path(value).absolute()
            return TargetChoice(root, python_in_prefix(root), f"${var}")
    passed_over: Path | None = None
    for name in ("python3", "python"):
        for hit in ctx.which_all(name):
            found = os.path.abspath(hit)
            # the link is not followed (a venv's python links to the interpreter it was made
            # from); bin/python3 of a venv, python.exe at the root of a Windows conda prefix
            home = Path(found).parent
            root = home.parent if home.name in ("bin", "Scripts") else home
            if _is_own(ctx, root):
                passed_over = root
                continue
            why = f"{name} on PATH"
            if passed_over is not None:
                why += f", passing over torchenv's own environment {passed_over}"
            return TargetChoice(None, found, why)
    if passed_over is not None:
        raise UsageError(
            "only-own-environment",
            Msg(
                "The only Python environment found is torchenv's own ({prefix}, without torch), "
                "which it does not take as a target unless named.",
                prefix=passed_over,
            ),
            Msg(
                "Activate the environment to look at, or pass --prefix DIR or --python PATH "
                "(--prefix {prefix} looks at torchenv's own).",
                prefix=passed_over,
            ),
        )
    raise UsageError(
        "no-python-found",
        Msg("No active environment and no python3 on PATH."),
        Msg("Activate an environment, or pass --prefix DIR or --python PATH."),
    )


def _is_own(ctx: ProbeContext, prefix: Path) -> bool:
    """Whether ``prefix`` is torchenv's own tool environment: the one it runs from (the same
    directory, however it is spelled), without torch in it."""
    if ctx.own_prefix is None:
        return False
    return _same(prefix, ctx.own_prefix) and not _has_torch(prefix)


# where a venv or conda prefix keeps torch (POSIX, then Windows)
_TORCH_PACKAGES = ("lib/python3*/site-packages/torch", "Lib/site-packages/torch")


def _has_torch(prefix: Path) -> bool:
    if any(any(prefix.glob(pattern)) for pattern in _TORCH_PACKAGES):
        return True
    # torchenv's own interpreter finds torch elsewhere (--system-site-packages, a user site, an
    # editable install): looked up without importing it
    import importlib.util  # noqa: PLC0415

    return _same(prefix, Path(sys.prefix)) and importlib.util.find_spec("torch") is not None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_executable(exe: Path) -> None:
    """--python names an executable regular file (a device such as /dev/null, a FIFO or a
    file without execute permission is a mistake in the command line, not a broken
    environment)."""
    try:
        info = exe.stat()
    except OSError as exc:
        raise UsageError(
            "python-unreadable",
            Msg("Cannot use the interpreter {path}: {error}.", path=exe, error=files.describe(exc)),
        ) from None
    if not stat.S_ISREG(info.st_mode) or not os.access(exe, os.X_OK):
        what = files.kind_of(info.st_mode)
        raise UsageError(
            "python-not-executable",
            Msg(
                "{path} is not an executable file (it is {kind}, without execute permission).",
                path=exe,
                kind=what,
            )
            if stat.S_ISREG(info.st_mode)
            else Msg("{path} is not an executable file (it is {kind}).", path=exe, kind=what),
            Msg("Pass the path of a Python executable, e.g. --python .venv/bin/python."),
        )
