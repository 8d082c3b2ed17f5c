"""The progress of a long command on a terminal: the step in flight with a spinner and its
elapsed time, each finished step left as a line with the time it took. Imported only when
stderr is a terminal (rich is not imported otherwise); cli/common.steps chooses."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from torchenv.untrusted.text import for_terminal


class LiveSteps:
    """A ``progress`` callback: each message is the step now running."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.display = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),  # paths hold [brackets]
            TimeElapsedColumn(),
            console=self.console,
            transient=True,  # the spinner line goes; the finished steps stay
        )
        self.task: TaskID | None = None
        self.step: str | None = None
        self.started = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        self._finish(now, done=True)
        self.step, self.started = for_terminal(message), now
        if self.task is None:
            self.display.start()
            self.task = self.display.add_task(self.step, total=None)
        else:
            self.display.reset(self.task, description=self.step)

    def _finish(self, now: float, *, done: bool) -> None:
        if self.step is None:
            return
        mark = ("✓ ", "green") if done else ("✗ ", "red")
        seconds = (f" ({now - self.started:.1f}s)", "dim")
        self.display.console.print(Text.assemble(mark, (self.step, ""), seconds))
        self.step = None

    def __enter__(self) -> LiveSteps:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._finish(time.monotonic(), done=kind is None)
        if self.task is not None:
            self.display.stop()
