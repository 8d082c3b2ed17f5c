"""Every command's --help ends with examples, and every example is a command line that
torchenv's own parser accepts; subcommands are imported only when they run."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import click
import pytest

from torchenv import cli
from torchenv.cli.examples import EXAMPLES


def command_paths() -> dict[str, click.Command]:
    """Every command and subcommand by the words typed after `torchenv`."""
    found: dict[str, click.Command] = {}
    ctx = click.Context(cli.app, info_name="torchenv")

    def walk(group: click.Group, prefix: str, parent: click.Context) -> None:
        for name in group.list_commands(parent):
            command = group.get_command(parent, name)
            assert command is not None, name
            path = f"{prefix} {name}".strip()
            found[path] = command
            if isinstance(command, click.Group):
                walk(command, path, click.Context(command, info_name=name, parent=parent))

    walk(cli.app, "", ctx)
    return found


COMMANDS = command_paths()


def test_every_command_has_examples_and_no_example_is_orphaned() -> None:
    assert set(EXAMPLES) == set(COMMANDS)
    for path in COMMANDS:
        assert 2 <= len(EXAMPLES[path]) <= 3, path
        for what, line in EXAMPLES[path]:
            assert what and not what.endswith("."), (path, what)
            assert line.startswith(f"torchenv {path}"), (path, line)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_ends_with_the_examples(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main([*path.split(), "--help"])
    out = capsys.readouterr().out
    assert code == 0
    tail = out[out.index("Examples:") :]
    for what, line in EXAMPLES[path]:
        assert f"    # {what}\n    {line}\n" in tail


@pytest.mark.parametrize(
    ("path", "line"), [(p, line) for p, pairs in sorted(EXAMPLES.items()) for _, line in pairs]
)
def test_each_example_parses(path: str, line: str) -> None:
    words = shlex.split(line)
    if ">" in words:  # a shell redirection, not an argument
        words = words[: words.index(">")]
    assert words[0] == "torchenv"
    parent = click.Context(cli.app, info_name="torchenv")
    command: click.Command = cli.app
    args = words[1:]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(parent, args[0])
        assert sub is not None, f"{line}: no command {args[0]}"
        command, args = sub, args[1:]
        if isinstance(command, click.Group) and args:
            parent = click.Context(command, info_name=command.name, parent=parent)
    # parsing only: options and arguments are checked, nothing runs
    command.make_context(command.name, list(args), parent=parent, resilient_parsing=False)


def test_a_short_command_imports_only_its_own_subcommand() -> None:
    code = (
        "import sys\nfrom torchenv import cli\n"
        "cli.main(['plan', '--help'])\n"
        "print('\\n' + __import__('json').dumps(sorted(m for m in sys.modules "
        "if m.startswith('torchenv.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    cli_modules = {m for m in loaded if m.startswith("torchenv.cli.")}
    assert cli_modules <= {"torchenv.cli.common", "torchenv.cli.examples", "torchenv.cli.plan"}
    assert not any(m.startswith("torchenv.commands.") for m in loaded), loaded
