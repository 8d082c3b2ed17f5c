"""Every file torchenv reads or writes, replaced by what is not a regular file: a FIFO (an open
or a read would wait forever), /dev/zero (a read never ends), /dev/null, a dangling link, a
link loop, a directory, a 3 GiB sparse file, random bytes. Reads end in a message or a finding;
writes refuse to replace anything but a regular file, and leave it as it was."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from builders import add_dist, add_torch, make_venv
from hostile import SPECIAL, Sandbox, sandbox, special_file
from ship_project import ship_project


def _spec(box: Sandbox) -> None:
    (box.project / "torchenv.toml").unlink(missing_ok=True)


# (what, setup that returns the path to spoil, the command that reads it, expected exit codes)
def _read_cases() -> list[tuple[str, Callable[[Sandbox], Path], tuple[str, ...], tuple[int, ...]]]:
    def spec(box: Sandbox) -> Path:
        return box.project / "torchenv.toml"

    def lock(box: Sandbox) -> Path:
        ship_project(box.project)
        path = box.project / "pylock.toml"
        path.unlink()
        return path

    def machine(box: Sandbox) -> Path:
        return box.project / "node.json"

    def knowledge(box: Sandbox) -> Path:
        return Path(box.env["TORCHENV_DATA_DIR"]) / "torch.json"

    def marker(box: Sandbox) -> Path:
        ship_project(box.project)
        (box.project / "image").mkdir()
        return box.project / "image" / ".torchenv-generated"

    def metadata(box: Sandbox) -> Path:
        env = make_venv(box.root)
        add_torch(env.site)
        dist = add_dist(env.site, "numpy", "2.1.0")
        path = dist / "METADATA"
        path.unlink()
        return path

    def version_py(box: Sandbox) -> Path:
        env = make_venv(box.root)
        add_torch(env.site)
        path = env.site / "torch" / "version.py"
        path.unlink()
        return path

    def record(box: Sandbox) -> Path:
        env = make_venv(box.root)
        add_torch(env.site)
        return env.prefix / "torchenv-env.json"

    env_prefix = ("--prefix", "{root}/env")
    return [
        ("spec", spec, ("create",), (2,)),
        ("lock", lock, ("image",), (2,)),
        ("lock-check", lock, ("lock", "--check"), (1,)),  # unreadable: stale, with the reason
        ("machine", machine, ("plan", "--for", "{project}/node.json"), (2,)),
        ("knowledge", knowledge, ("plan", "--gpu", "H100", "--driver", "580.65.06"), (0,)),
        ("marker", marker, ("image",), (2,)),
        ("metadata", metadata, ("inspect", *env_prefix, "--json"), (0,)),
        ("version.py", version_py, ("doctor", *env_prefix, "--json"), (0, 1)),
        ("record", record, ("doctor", *env_prefix, "--json"), (0, 1)),
    ]


READS = _read_cases()


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("case", READS, ids=[c[0] for c in READS])
def test_reading_what_is_not_a_regular_file(case: tuple, kind: str) -> None:
    name, setup, args, codes = case
    with sandbox() as box:
        path = setup(box)
        path.unlink(missing_ok=True)
        special_file(path, kind)
        argv = [a.format(root=box.root, project=box.project) for a in args]
        done = box.run(*argv, allowed=[box.project / "image", box.project / "pylock.toml"])
        if kind == "binary" and name in ("metadata", "version.py", "record", "knowledge", "marker"):
            return  # a regular file of any bytes: read as such (a marker of garbage lists nothing)
        assert done.code in codes, f"{name} as {kind}: exit {done.code}\n{done.err}"


def _init(box: Sandbox, target: Path) -> tuple[str, ...]:
    return ("init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(target), "--force")


@pytest.mark.parametrize("kind", ["fifo", "dev-null", "dangling", "loop", "file-link"])
def test_writing_replaces_only_a_regular_file(kind: str) -> None:
    """`init --out X --force` once turned /dev/null into a regular file. What is in X's place,
    when it is not a regular file, stays exactly as it was."""
    with sandbox() as box:
        target = box.project / "torchenv.toml"
        if kind == "file-link":
            (box.root / "elsewhere.toml").write_text("name = 'mine'\n")
            target.symlink_to(box.root / "elsewhere.toml")
        else:
            special_file(target, kind)
        before = os.lstat(target)
        done = box.run(*_init(box, target))
        assert done.code == 2 and "regular file" in done.err, done.err
        after = os.lstat(target)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
        assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev)
        assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_out_naming_a_directory_or_a_link_to_one_writes_the_spec_inside() -> None:
    with sandbox() as box:
        (box.root / "elsewhere").mkdir()
        (box.project / "link").symlink_to(box.root / "elsewhere")
        written = box.root / "elsewhere" / "torchenv.toml"
        done = box.run(*_init(box, box.project / "link"), allowed=[written])
        assert done.code == 0 and written.is_file()


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_without_force_a_broken_link_is_something_in_the_way(kind: str) -> None:
    with sandbox() as box:
        target = box.project / "torchenv.toml"
        special_file(target, kind)
        done = box.run("init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(target))
        assert done.code == 2 and "already exists" in done.err
        assert target.is_symlink()


@pytest.mark.parametrize("kind", ["fifo", "dangling", "directory"])
def test_the_lock_is_written_over_a_regular_file_only(kind: str) -> None:
    """`lock` runs uv only after the plan; a lock path that is not a regular file is refused
    before the lock replaces it (shown here through the writer `lock` uses)."""
    from torchenv.errors import UsageError
    from torchenv.untrusted import files

    with sandbox() as box:
        target = box.project / "pylock.toml"
        special_file(target, kind)
        with pytest.raises(UsageError) as caught:
            files.write_output(target, b"lock-version = '1.0'\n", what="the lock")
        assert "regular file" in caught.value.message and caught.value.exit_code == 2
        assert not target.is_file() or target.is_symlink()
