"""The progress of long commands: nothing with --json, a plain line per step when stderr is not
a terminal (or NO_COLOR, TERM=dumb), and on a terminal a spinner whose finished steps stay as
lines with their time; a failed step is marked as such."""

from __future__ import annotations

import io
import re
import sys

import pytest

from torchenv.cli import common


class Terminal(io.TextIOWrapper):
    """A terminal's stderr: what click and rich write to, read back as text."""

    def __init__(self) -> None:
        # the errors handler click wants for stderr, or it wraps the stream in one of its own
        super().__init__(io.BytesIO(), encoding="utf-8", errors="backslashreplace")

    def isatty(self) -> bool:
        return True

    def getvalue(self) -> str:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode("utf-8")


def shown(screen: Terminal) -> str:
    """What a reader sees: the text without rich's colour and cursor sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())


def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal; set in the test itself (pytest puts its capture back on sys.stderr
    between a fixture's setup and the test)."""
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    return screen


def test_json_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch)
    with common.steps(quiet=True) as progress:
        progress("resolving torch")
    assert screen.getvalue() == ""


def test_not_a_terminal_gives_one_plain_line_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    with common.steps() as progress:
        progress("resolving torch 2.13.0+cpu")
        progress("installing 10 packages \x1b[31mwith uv")
    assert capsys.readouterr().err == (
        "torchenv: resolving torch 2.13.0+cpu\ntorchenv: installing 10 packages \\x1b[31mwith uv\n"
    )


@pytest.mark.parametrize(("name", "value"), [("NO_COLOR", "1"), ("TERM", "dumb")])
def test_no_color_or_a_dumb_terminal_gives_plain_lines(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    screen = terminal(monkeypatch)
    monkeypatch.setenv(name, value)
    with common.steps() as progress:
        progress("locking")
    assert screen.getvalue() == "torchenv: locking\n"


def test_live_off_gives_plain_lines_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch)
    with common.steps(live=False) as progress:  # --verbose: the tool's output streams through
        progress("installing")
    assert screen.getvalue() == "torchenv: installing\n"


def test_on_a_terminal_finished_steps_stay_with_their_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = terminal(monkeypatch)
    with common.steps() as progress:
        progress("resolving torch")
        progress("installing \x1b]0;title\x07 packages")
    lines = [line for line in shown(screen).splitlines() if "✓" in line]
    assert len(lines) == 2
    assert "✓ resolving torch (" in lines[0] and lines[0].rstrip().endswith("s)")
    assert "installing \\x1b]0;title\\x07 packages" in lines[1]  # escapes are shown, not sent
    assert "\x07" not in screen.getvalue()


def test_on_a_terminal_the_step_that_failed_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch)
    with pytest.raises(RuntimeError), common.steps() as progress:
        progress("resolving torch")
        progress("installing")
        raise RuntimeError("uv failed")
    text = shown(screen)
    assert "✓ resolving torch" in text and "✗ installing" in text


def test_brackets_in_a_step_are_text_not_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths hold brackets; rich would read `[/exp]` as a closing tag and raise."""
    screen = terminal(monkeypatch)
    with common.steps() as progress:
        progress("writing /home/u/[exp]/torchenv.lock")
        progress("reading [/exp] and [bold]x")
    text = shown(screen)
    assert "✓ writing /home/u/[exp]/torchenv.lock" in text and "[/exp] and [bold]x" in text
