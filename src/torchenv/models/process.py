"""The result of running another program, and the shape of the function that runs one.

The gateway itself (timeouts, process-group kill) is ``probe.runner.run``; the layers that may not
touch the host (backends, verify) receive it as a ``Runner`` and see only these types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int | None  # None when the program did not run to completion
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    error: str | None = None  # "not found", "timed out after 5s", "permission denied", ...
    # stdout or stderr was longer than the runner keeps (probe.runner.OUTPUT_LIMIT): what is
    # here is its beginning
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    def describe_failure(self) -> str:
        """One line for a ProbeNote: why this run gave no usable output."""
        if self.error is not None:
            return self.error
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        detail = text[-1] if text else "no output"
        return f"exit code {self.returncode}: {detail}"


class Runner(Protocol):
    def __call__(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> RunResult: ...
