"""Errors and exit codes, mapped in one place (design.md, "Exit codes").

Every error a user can cause carries a stable kebab-case ``reference``, a message that names the
thing that was wrong, and a hint that says how to fix it. The CLI prints these without a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1  # the check ran and found problems at or above --fail-on
    USAGE = 2  # bad input or usage
    NO_STACK = 3  # no compatible stack exists
    EXTERNAL = 4  # an external tool or backend failed
    INTERNAL = 70  # a bug in torchenv (EX_SOFTWARE); --debug shows the traceback


class TorchenvError(Exception):
    """Base class: an expected failure with a message for the user."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, reference: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(TorchenvError):
    """Bad input: a missing prefix, a malformed spec, an unknown option value."""

    exit_code = ExitCode.USAGE


class ExternalError(TorchenvError):
    """Another program failed: the message names it and ends with what it printed (exit 4)."""

    exit_code = ExitCode.EXTERNAL
