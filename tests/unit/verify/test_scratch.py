"""verify's scratch directories: under <tempdir>/torchenv-<uid>/scratch, named after their
process, and removed by the next run once that process is gone (untrusted.scratch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from torchenv.untrusted.files import UnsafeDirectory
from torchenv.untrusted.scratch import remove_leftovers, scratch_dir, scratch_root

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pids are checked on POSIX only")


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_root_is_private_on_each_level(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    assert root == tmp_path / f"torchenv-{os.getuid()}" / "scratch"
    for level in (root, root.parent):
        assert level.stat().st_mode & 0o777 == 0o700


def test_a_root_of_this_user_that_others_can_write_is_made_private(tmp_path: Path) -> None:
    shared = tmp_path / f"torchenv-{os.getuid()}"
    shared.mkdir(mode=0o700)
    shared.chmod(0o777)  # as an older torchenv left it under a umask of 002
    scratch_root(tmp_path)
    assert shared.stat().st_mode & 0o777 == 0o700


def test_a_root_that_is_a_link_or_another_users_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / f"torchenv-{os.getuid()}"
    (tmp_path / "elsewhere").mkdir()
    shared.symlink_to(tmp_path / "elsewhere")  # as another user could have planted it in /tmp
    with pytest.raises(UnsafeDirectory):
        scratch_root(tmp_path)
    if os.getuid() == 0:  # only root can give a directory away
        shared.unlink()
        shared.mkdir(mode=0o700)
        os.chown(shared, 12345, 12345)
        with pytest.raises(UnsafeDirectory, match="uid 12345"):
            scratch_root(tmp_path)


def test_leftover_of_a_dead_process_is_removed_and_a_live_one_kept(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    dead = root / f"verify-{dead_pid()}-abc123"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "compiled.so").write_bytes(b"x")
    live = root / f"verify-{os.getpid()}-def456"
    live.mkdir()
    other = root / "notes.txt"  # not a scratch directory: left alone
    other.write_text("mine")
    assert remove_leftovers(root) == [dead]
    assert not dead.exists() and live.is_dir() and other.exists()


def test_scratch_dir_cleans_up_and_removes_leftovers_first(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    leftover = root / f"verify-{dead_pid()}-xyz"
    leftover.mkdir()
    with scratch_dir("verify", tmp_path) as path:
        assert not leftover.exists()
        assert path.parent == root and path.name.startswith(f"verify-{os.getpid()}-")
        assert path.stat().st_mode & 0o777 == 0o700
        (path / "file").write_text("scratch")
    assert not path.exists()


def test_unsafe_root_falls_back_to_a_plain_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / f"torchenv-{os.getuid()}"
    (tmp_path / "elsewhere").mkdir()
    shared.symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with scratch_dir("verify", tmp_path) as path:
        assert path.parent == tmp_path and path.name.startswith("torchenv-verify-")
    assert not path.exists()
