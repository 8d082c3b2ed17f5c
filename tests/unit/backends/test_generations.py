"""The generation store (backends/generations.py) on disk, without installers: numbering,
the first conversion, atomic switches, recovery of a half-done switch, pruning, and a state
file or a store that someone else wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from torchenv.backends import generations as g
from torchenv.errors import UsageError
from torchenv.models.build import env_record


def plain_env(root: Path, name: str = ".venv", torch: str = "2.12.0+cpu") -> Path:
    prefix = root / name
    (prefix / "bin").mkdir(parents=True)
    (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    record = env_record(
        backend="uv",
        spec=("/p/torchenv.toml", "b" * 64),
        lock={"path": "/p/pylock.toml", "sha256": "a" * 64, "packages": {"torch": torch}},
        plan={"variant": "cpu", "python": "3.11"},
    )
    (prefix / "torchenv-env.json").write_text(json.dumps(record))
    return prefix


def add_generation(prefix: Path, number: int, torch: str) -> None:
    made = plain_env(prefix.parent / "tmp-build", f"g{number}", torch)
    os.replace(made, g.generation_path(prefix, number))


def test_a_plain_environment_becomes_generation_one_behind_a_relative_link(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    assert g.live_number(prefix) is None and g.next_number(prefix) == 2
    assert g.make_first(prefix) == 1
    assert prefix.is_symlink() and os.readlink(prefix) == ".venv.torchenv-generations/1"
    assert (prefix / "pyvenv.cfg").is_file()  # reached through the link
    assert g.live_number(prefix) == 1 and g.numbers(prefix) == [1]


def test_switch_is_one_rename_and_remembered(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    add_generation(prefix, 2, "2.13.0+cpu")
    g.switch(prefix, 2)
    assert g.live_number(prefix) == 2
    assert json.loads((prefix / "torchenv-env.json").read_text())["lock"]["packages"]["torch"] == (
        "2.13.0+cpu"
    )
    assert g.read_state(prefix)["2"]["switched"]
    assert not list(tmp_path.glob(f".{prefix.name}{g.LINK_MARK}*"))
    with pytest.raises(UsageError) as caught:
        g.switch(prefix, 7)
    assert caught.value.reference == "generation-missing" and g.live_number(prefix) == 2


def test_a_switch_killed_between_its_two_renames_is_completed(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    # as if killed after the link was made and the prefix renamed away, before the last rename
    temp = g._link(prefix, 1)
    prefix.unlink()
    assert not prefix.exists()
    done = g.recover(prefix)
    assert done and g.live_number(prefix) == 1 and not temp.exists()
    stray = g._link(prefix, 1)  # a link made by a run killed before its rename: just removed
    assert g.recover(prefix) == [] and not stray.exists()


def test_listing_reads_each_record_and_says_which_cannot_be(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    add_generation(prefix, 2, "2.13.0+cpu")
    (g.generation_path(prefix, 2) / "torchenv-env.json").write_text("{not json")
    g.note_verify(prefix, 1, "passed")
    rows = {r.number: r for r in g.listing(prefix)}
    assert rows[1].live and rows[1].verify == "passed" and rows[1].record is not None
    assert rows[2].record is None and "not JSON" in (rows[2].problem or "")


@pytest.mark.parametrize(
    "state",
    [
        "{not json",
        "[]",
        json.dumps({"schema": "x"}),
        json.dumps(
            {
                "schema": g.STATE_SCHEMA,
                "generations": {"1": {"verify": ["x"]}, "../../x": {"verify": "passed"}},
            }
        ),
    ],
)
def test_a_state_file_someone_else_wrote_only_loses_its_notes(tmp_path: Path, state: str) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    (g.store(prefix) / g.STATE_FILE).write_text(state)
    assert g.read_state(prefix).get("1", {}).get("verify") is None
    assert [r.number for r in g.listing(prefix)] == [1]


def test_a_fifo_as_state_file_does_not_hang(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    os.mkfifo(g.store(prefix) / g.STATE_FILE)
    assert g.read_state(prefix) == {}
    # never replaces anything but a regular file, and a note is not worth failing a switch for
    assert g.write_state(prefix, {"1": {"verify": "passed"}}) is False
    g.switch(prefix, 1)
    assert g.live_number(prefix) == 1


def test_prune_keeps_the_newest_and_always_the_live_one(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    for number in (2, 3, 4):
        add_generation(prefix, number, f"2.13.{number}+cpu")
    g.switch(prefix, 2)  # rolled back: 3 and 4 are newer than the live one
    assert g.prune(prefix, 2) == [1, 3]
    assert g.numbers(prefix) == [2, 4] and g.live_number(prefix) == 2
    assert g.prune(prefix, 1) == [4] and g.numbers(prefix) == [2]
    with pytest.raises(UsageError):
        g.prune(prefix, 0)


def test_entries_that_are_not_generations_are_ignored(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    home = g.store(prefix)
    (home / "0").mkdir()
    (home / "-1").mkdir()
    (home / "007").mkdir()
    (home / "9").symlink_to("/")
    (home / ".5.torchenv-build-abc").mkdir()
    assert g.numbers(prefix) == [1] and g.next_number(prefix) == 2


def test_a_link_torchenv_did_not_make_is_not_a_generation(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    prefix.symlink_to("/usr")
    assert g.live_number(prefix) is None and not g.managed(prefix)


def test_inputs_are_kept_per_generation(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    g.save_inputs(prefix, 1, {"pylock.toml": b"lock", "../../torchenv.toml": b"spec"})
    assert g.saved_inputs(prefix, 1) == {"pylock.toml": b"lock", "torchenv.toml": b"spec"}
    assert g.saved_inputs(prefix, 5) == {}


def test_a_store_that_is_a_link_is_refused_before_anything_is_deleted(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    for year in ("2019", "2020", "2021"):
        (outside / year / "photo").mkdir(parents=True)
    (tmp_path / ".venv.torchenv-generations").symlink_to(outside)
    prefix = tmp_path / ".venv"
    prefix.symlink_to(".venv.torchenv-generations/2021")
    for call in (lambda: g.prune(prefix, 1), lambda: g.switch(prefix, 2019)):
        with pytest.raises(UsageError) as caught:
            call()
        assert caught.value.reference == "generations-unsafe"
    assert sorted(p.name for p in outside.iterdir()) == ["2019", "2020", "2021"]
    assert not (outside / g.STATE_FILE).exists()


def test_the_prefix_lock_is_the_same_before_and_after_a_switch(tmp_path: Path) -> None:
    from torchenv.backends.staging import lock_path

    prefix = plain_env(tmp_path)
    before = lock_path(prefix)
    g.make_first(prefix)
    add_generation(prefix, 2, "2.13.0+cpu")
    assert lock_path(prefix) == before
    g.switch(prefix, 2)
    assert lock_path(prefix) == before


def test_prune_spares_the_rollback_target(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    for number in (2, 3, 4, 5):
        add_generation(prefix, number, "2.13.0+cpu")
    g.switch(prefix, 5)  # upgraded from 2 (after a rollback to it): 2 is the rollback target
    assert g.prune(prefix, 3, protect=(2,)) == [1, 3]
    assert g.numbers(prefix) == [2, 4, 5]


def test_an_absolute_link_is_not_one_of_ours(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    prefix.unlink()
    prefix.symlink_to(g.generation_path(prefix, 1))  # absolute: not what switch() makes
    assert g.live_number(prefix) is None


def test_check_manageable_refuses_before_a_build(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    (g.store(prefix) / "1").mkdir(parents=True)
    with pytest.raises(UsageError) as caught:
        g.check_manageable(prefix)
    assert caught.value.reference == "generations-in-the-way"


def test_a_saved_input_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    g.save_inputs(prefix, 1, {"pylock.toml": b"lock"})
    secret = tmp_path / "secret"
    secret.write_text("key")
    (g.store(prefix) / g.INPUTS / "1" / "torchenv.toml").symlink_to(secret)
    assert g.saved_inputs(prefix, 1) == {"pylock.toml": b"lock"}
