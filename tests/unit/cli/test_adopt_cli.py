"""`torchenv adopt` on the command line, in the hostile-input sandbox: what it writes, what it
refuses (exit 2 with a message), and that nothing read from the environment reaches the spec
or the terminal raw. The lock (uv, the network) is replaced by a fake."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from builders import FakeEnv, add_dist, add_torch, make_venv
from hostile import Sandbox, sandbox, special_file
from torchenv.errors import ExternalError

LOCKED = {"torch": "2.13.0+cpu", "six": "1.16.0", "filelock": "3.13.1"}


def fake_lock(packages: dict[str, str] = LOCKED) -> Any:
    def run_lock(ctx: object, spec_file: str, cwd: Path, **_: object) -> SimpleNamespace:
        out = Path(spec_file).parent / "pylock.toml"
        out.write_text('lock-version = "1.0"\n')
        return SimpleNamespace(lock=str(out), packages=packages)

    return run_lock


def failing_lock(ctx: object, spec_file: str, cwd: Path, **_: object) -> None:
    raise ExternalError("uv-failed", "uv failed during resolve: no index reachable")


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with sandbox() as made, mock.patch("torchenv.commands.lock.run_lock", fake_lock()):
        yield made


def cpu_venv(root: Path) -> FakeEnv:
    env = make_venv(root, "venv")
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, requires=["filelock"])
    add_dist(env.site, "filelock", "3.13.1")
    add_dist(env.site, "six", "1.16.0")
    add_dist(env.site, "pip", "24.0")
    return env


def test_adopt_writes_the_spec_and_the_lock(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    outcome = box.run("adopt", "--prefix", str(env.prefix), allowed=[box.project])
    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert lines[0] == f"adopted {env.prefix} (uv)"
    assert lines[1] == "  torch 2.13.0+cpu (variant cpu, cuda = cpu), Python 3.11"
    assert f"wrote {box.project / 'torchenv.toml'} (3 pinned)" in lines
    assert f"wrote {box.project / 'pylock.toml'}" in lines
    text = (box.project / "torchenv.toml").read_text()
    assert "# Written by: torchenv adopt --prefix " in text
    assert 'packages = [\n    "filelock==3.13.1",\n    "six==1.16.0",\n]' in text
    assert 'torch = "==2.13.0"\ncuda = "cpu"\nlibraries = []' in text


def test_json_and_the_index_options(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    wheels = box.root / "wheels"
    wheels.mkdir()
    out = box.project / "new"
    outcome = box.run(
        "adopt",
        "--prefix",
        str(env.prefix),
        "--out",
        "new",
        "--find-links",
        "../wheels",
        "--pytorch-index",
        "file:///srv/no-pytorch-index",
        "--json",
        allowed=[out],
    )
    assert outcome.code == 0, outcome.err
    doc = json.loads(outcome.out)
    assert next(iter(doc)) == "schema" and doc["schema"] == "torchenv.adopt/1"
    assert doc["spec"] == str(out / "torchenv.toml") and doc["lock"] == str(out / "pylock.toml")
    assert (doc["torch"], doc["variant"], doc["cuda"], doc["python"]) == (
        "2.13.0+cpu",
        "cpu",
        "cpu",
        "3.11",
    )
    assert doc["installer"] == "uv" and doc["pinned"] == 3 and doc["unpinned"] == []
    text = (out / "torchenv.toml").read_text()
    assert (
        f'[index]\npytorch = "file:///srv/no-pytorch-index"\nfind-links = [\n    "{wheels}",'
        in text
    )


def test_a_version_the_lock_does_not_keep_is_a_note(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    with mock.patch("torchenv.commands.lock.run_lock", fake_lock({**LOCKED, "six": "1.17.0"})):
        outcome = box.run("adopt", "--prefix", str(env.prefix), "--json", allowed=[box.project])
    assert "six: 1.16.0 is installed, the lock has 1.17.0" in json.loads(outcome.out)["notes"]


def test_a_failed_lock_keeps_the_spec(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    with mock.patch("torchenv.commands.lock.run_lock", failing_lock):
        outcome = box.run("adopt", "--prefix", str(env.prefix), "--json", allowed=[box.project])
    assert outcome.code == 2
    doc = json.loads(outcome.out)
    assert doc["lock"] is None
    assert "locking failed: uv failed during resolve: no index reachable" in doc["notes"]
    assert "torchenv: error: locking failed: uv failed" in outcome.err
    assert "edit it, then run `torchenv lock`" in outcome.err
    assert (box.project / "torchenv.toml").is_file()
    assert not (box.project / "pylock.toml").exists()
    (box.project / "pylock.toml").write_text("# an older lock\n")
    with mock.patch("torchenv.commands.lock.run_lock", failing_lock):
        again = box.run("adopt", "--prefix", str(env.prefix), "--force", allowed=[box.project])
    assert again.code == 2 and "locking failed" not in again.out  # said once, on stderr
    assert f"note: the pylock.toml in {box.project} is an older one" in again.out


# --------------------------------------------------------------------------- hostile inputs
@pytest.mark.parametrize("kind", ["missing", "file", "fifo", "dev-null"])
def test_a_prefix_that_is_not_a_directory(box: Sandbox, kind: str) -> None:
    prefix = box.root / "env"
    if kind == "file":
        prefix.write_text("not an environment\n")
    elif kind != "missing":
        special_file(prefix, kind)
    outcome = box.run("adopt", "--prefix", str(prefix))
    assert outcome.code == 2 and "torchenv: error: The prefix" in outcome.err
    assert not (box.project / "torchenv.toml").exists()


def test_a_directory_that_is_no_environment(box: Sandbox) -> None:
    (box.root / "empty").mkdir()
    outcome = box.run("adopt", "--prefix", str(box.root / "empty"))
    assert outcome.code == 2 and "not a Python environment" in outcome.err


def test_an_environment_without_torch(box: Sandbox) -> None:
    env = make_venv(box.root, "venv")
    add_dist(env.site, "six", "1.16.0")
    outcome = box.run("adopt", "--prefix", str(env.prefix))
    assert outcome.code == 2 and "There is no torch in" in outcome.err


@pytest.mark.parametrize(
    ("metadata", "shown"),
    [
        (
            "Name: evil\x1b[2J\x1b]0;pwned\x07\nVersion: 1.0\n",
            "evil\\x1b[2j\\x1b]0;pwned\\x07",
        ),  # canonical: lower case
        ("Name: six\nVersion: 1.0\x1b[31m\n", "version '1.0\\x1b[31m'"),
        ("Name: evil\u202e\nVersion: 1.0\n", "evil\\u202e"),
    ],
)
def test_metadata_with_escapes_never_reaches_the_spec(
    box: Sandbox, metadata: str, shown: str
) -> None:
    env = cpu_venv(box.root)
    add_dist(env.site, "hostile", "1.0", metadata=metadata)
    outcome = box.run("adopt", "--prefix", str(env.prefix), allowed=[box.project])
    assert outcome.code == 0, outcome.err
    assert "not pinned (1):" in outcome.out and shown in outcome.out
    text = (box.project / "torchenv.toml").read_text()
    assert "\x1b" not in text and "\u202e" not in text and "evil" not in text


def test_a_name_with_a_newline_from_the_directory(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    # no Name header: the probe takes the name from the directory, newline and all
    meta = env.site / "evil\n--index-url http:--x-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nVersion: 1.0\n")
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--json", allowed=[box.project])
    assert outcome.code == 0, outcome.err
    doc = json.loads(outcome.out)
    assert len(doc["unpinned"]) == 1 and "evil\\n-index-url http:-x" in doc["unpinned"][0]
    assert "index-url" not in (box.project / "torchenv.toml").read_text()


@pytest.mark.parametrize("kind", ["fifo", "dev-null", "dangling"])
def test_out_onto_something_that_is_not_a_directory(box: Sandbox, kind: str) -> None:
    env = cpu_venv(box.root)
    target = box.project / "out"
    special_file(target, kind)
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--out", "out")
    assert outcome.code == 2 and "is not a directory" in outcome.err
    assert os.path.lexists(target) and not target.is_dir()


@pytest.mark.parametrize("name", ["torchenv.toml", "pylock.toml"])
def test_existing_files_need_force(box: Sandbox, name: str) -> None:
    env = cpu_venv(box.root)
    (box.project / name).write_text("# mine\n")
    outcome = box.run("adopt", "--prefix", str(env.prefix))
    assert outcome.code == 2 and f"{box.project / name} already exists" in outcome.err
    assert "--force" in outcome.err
    assert (box.project / name).read_text() == "# mine\n"
    assert not (box.project / "torchenv.toml").exists() or name == "torchenv.toml"
    forced = box.run("adopt", "--prefix", str(env.prefix), "--force", allowed=[box.project])
    assert forced.code == 0, forced.err
    assert (box.project / "torchenv.toml").read_text().startswith("# torchenv spec")


@pytest.mark.parametrize("kind", ["fifo", "dev-null", "directory"])
def test_force_does_not_replace_what_is_not_a_file(box: Sandbox, kind: str) -> None:
    env = cpu_venv(box.root)
    special_file(box.project / "pylock.toml", kind)
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--force")
    assert outcome.code == 2 and "left as it is" in outcome.err
    assert not (box.project / "torchenv.toml").exists()  # refused before anything was written


def test_out_inside_the_environment(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--out", str(env.prefix / "etc"))
    assert outcome.code == 2 and "is inside the environment" in outcome.err
    assert not (env.prefix / "etc").exists()


def test_find_links_that_is_not_a_directory(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--find-links", "nowhere\x1b[2J")
    assert outcome.code == 2 and "--find-links nowhere\\x1b[2J: no such directory" in outcome.err


def test_a_pytorch_index_that_is_no_url(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--pytorch-index", "not a url\n")
    assert outcome.code == 2 and "index.pytorch" in outcome.err
    assert not (box.project / "torchenv.toml").exists()


def test_help_ends_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from torchenv import cli

    assert cli.main(["adopt", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  Examples:")
    assert lines[at + 1].strip().startswith("torchenv adopt --prefix ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--prefix", ""), "--prefix is empty"),
        (("--prefix", "env\x00x"), "does not exist"),
        (("--out", ""), "is not a directory name"),
        (("--out", "a\x00b"), "is not a directory name"),
        (("--out", "file/sub"), "Cannot make the directory"),
        (("--find-links", "w\x00"), "is not a path or URL"),
    ],
)
def test_paths_that_are_no_paths(box: Sandbox, args: tuple[str, ...], message: str) -> None:
    env = cpu_venv(box.root)
    (box.project / "file").write_text("a file, not a directory\n")
    full = args if args[0] == "--prefix" else ("--prefix", str(env.prefix), *args)
    outcome = box.run("adopt", *full)
    assert outcome.code == 2 and message in outcome.err, outcome.err
    assert sorted(p.name for p in box.project.iterdir()) == ["file"]


def test_direct_urls_are_listed_without_credentials(box: Sandbox) -> None:
    env = cpu_venv(box.root)
    fork = add_dist(env.site, "fork", "1.0")
    (fork / "direct_url.json").write_text(
        json.dumps(
            {"url": "https://tok:SECRET-TOKEN@git.example/fork.git", "vcs_info": {"vcs": "git"}}
        )
    )
    mine = add_dist(env.site, "mine", "0.1")
    (mine / "direct_url.json").write_text(
        json.dumps({"url": "file:///home/me/mine", "dir_info": {"editable": True}})
    )
    odd = add_dist(env.site, "odd", "2.0")
    special_file(odd / "direct_url.json", "fifo")  # must not hang; not a direct URL either
    outcome = box.run("adopt", "--prefix", str(env.prefix), "--json", allowed=[box.project])
    assert outcome.code == 0, outcome.err
    doc = json.loads(outcome.out)
    assert doc["unpinned"] == [
        "fork: installed from git https://git.example/fork.git, which no package index serves",
        "mine: an editable install of file:///home/me/mine (a working copy, not a release)",
    ]
    assert '"odd==2.0"' in (box.project / "torchenv.toml").read_text()
