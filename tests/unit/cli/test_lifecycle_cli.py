"""upgrade, rollback and history on what they may meet: no spec, no environment, an
environment torchenv did not make, a single generation, a store someone else wrote. Run in the
hostile harness: exit 0-3 with a message, no traceback, nothing written outside the sandbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hostile import sandbox
from torchenv.backends import generations as g
from unit.backends.test_generations import add_generation, plain_env


def test_upgrade_without_a_spec_or_an_environment_says_what_to_do() -> None:
    with sandbox() as box:
        assert "spec" in box.run("upgrade", "--yes").err.lower()
        (box.project / "torchenv.toml").write_text('name = "a"\n')
        outcome = box.run("upgrade", "--yes")
        assert outcome.code == 2 and "torchenv create" in outcome.err


def test_upgrade_of_an_environment_torchenv_did_not_make_points_at_adopt() -> None:
    with sandbox() as box:
        (box.project / "torchenv.toml").write_text('name = "a"\n')
        env = box.project / ".venv"
        (env / "bin").mkdir(parents=True)
        outcome = box.run("upgrade", "--yes")
        assert outcome.code == 2 and "torchenv adopt" in outcome.err


def test_rollback_of_a_single_generation_and_history_of_nothing() -> None:
    with sandbox() as box:
        prefix = plain_env(box.project)
        outcome = box.run("rollback", "--prefix", str(prefix), "--yes")
        assert outcome.code == 2 and "nothing to roll back" in outcome.err
        history = json.loads(box.run("history", "--prefix", str(prefix), "--json").out)
        assert [r["number"] for r in history["generations"]] == [1]
        assert box.run("history", "--prefix", str(box.project / "nope")).code == 2


def test_rollback_needs_a_yes_off_a_terminal_and_a_generation_that_exists() -> None:
    with sandbox() as box:
        prefix = plain_env(box.project)
        g.make_first(prefix)
        add_generation(prefix, 2, "2.13.0+cpu")
        g.switch(prefix, 2)
        asked = box.run("rollback", "--prefix", str(prefix), allowed=[g.store(prefix)])
        assert asked.code == 2 and "--yes" in asked.err and g.live_number(prefix) == 2
        missing = box.run("rollback", "--prefix", str(prefix), "--to", "9", "--yes")
        assert missing.code == 2 and "no generation 9" in missing.err
        # the registry (in the data directory) names the lock that is live now
        done = box.run(
            "rollback",
            "--prefix",
            str(prefix),
            "--yes",
            "--json",
            allowed=[g.store(prefix), prefix, Path(box.env["TORCHENV_DATA_DIR"])],
        )
        assert done.code == 0 and json.loads(done.out)["live"] == 1
        # the record names /p/torchenv.toml, which is not there: nothing else is written
        assert "left as they are" in done.out


def test_history_shows_what_cannot_be_read_without_failing() -> None:
    with sandbox() as box:
        prefix = plain_env(box.project)
        g.make_first(prefix)
        add_generation(prefix, 2, "\x1b[31mred")
        os.unlink(g.generation_path(prefix, 2) / "torchenv-env.json")
        os.mkfifo(g.generation_path(prefix, 2) / "torchenv-env.json")
        (g.store(prefix) / g.STATE_FILE).write_text('{"schema": 1')
        outcome = box.run("history", "--prefix", str(prefix))
        assert outcome.code == 0 and "FIFO" in outcome.out
        rows = json.loads(box.run("history", "--prefix", str(prefix), "--json").out)
        assert [r["number"] for r in rows["generations"]] == [1, 2]


def test_history_keep_prunes(tmp_path: Path) -> None:
    with sandbox() as box:
        prefix = plain_env(box.project)
        g.make_first(prefix)
        for number in (2, 3):
            add_generation(prefix, number, "2.13.0+cpu")
        g.switch(prefix, 3)
        outcome = box.run(
            "history", "--prefix", str(prefix), "--keep", "1", "--json", allowed=[g.store(prefix)]
        )
        assert json.loads(outcome.out)["pruned"] == [1, 2] and g.numbers(prefix) == [3]


def test_rollback_writes_files_back_only_into_the_project_it_runs_for(tmp_path: Path) -> None:
    """A generation's record names its spec; a hostile one names another project's. Nothing
    is written there; into the project the command runs for, the saved files go back."""
    from torchenv.commands.rollback import run_rollback

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "torchenv.toml").write_text("mine\n")
    project = tmp_path / "proj"
    prefix = plain_env(project)  # its record names /p/torchenv.toml
    g.make_first(prefix)
    add_generation(prefix, 2, "2.13.0+cpu")
    g.switch(prefix, 2)
    record = json.loads((g.generation_path(prefix, 1) / "torchenv-env.json").read_text())
    record["spec"]["path"] = str(victim / "torchenv.toml")
    (g.generation_path(prefix, 1) / "torchenv-env.json").write_text(json.dumps(record))
    g.save_inputs(prefix, 1, {"torchenv.toml": b"evil\n", "pylock.toml": b"evil\n"})
    env = {"TORCHENV_DATA_DIR": str(tmp_path / "data"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        report = run_rollback(prefix, project)
    assert report.restored == () and "left as they are" in " ".join(report.notes)
    assert (victim / "torchenv.toml").read_text() == "mine\n"
    assert not (victim / "pylock.toml").exists() and g.live_number(prefix) == 1
    # the same generation, built from the project's own spec: its files go back there
    (project / "torchenv.toml").write_text("now\n")
    record["spec"]["path"] = str(project / "torchenv.toml")
    (g.generation_path(prefix, 2) / "torchenv-env.json").write_text(json.dumps(record))
    g.save_inputs(prefix, 2, {"torchenv.toml": b"then\n", "pylock.toml": b"lock\n"})
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        report = run_rollback(prefix, project, to=2)
    assert (project / "torchenv.toml").read_text() == "then\n"
    assert (project / "pylock.toml").read_text() == "lock\n" and len(report.restored) == 2


def test_create_into_a_generation_is_refused() -> None:
    with sandbox() as box:
        (box.project / "torchenv.toml").write_text('name = "a"\n')
        prefix = plain_env(box.project)
        g.make_first(prefix)
        inside = g.generation_path(prefix, 1)
        outcome = box.run("create", "--force", "--prefix", str(inside))
        assert outcome.code == 2 and "inside a generations directory" in outcome.err
        outcome = box.run("create", "--force", "--prefix", str(prefix))
        assert outcome.code == 2 and "torchenv upgrade" in outcome.err
