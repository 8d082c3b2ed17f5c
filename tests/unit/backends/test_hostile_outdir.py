"""A generated directory holding what torchenv did not write (a symbolic link, an empty
directory, a FIFO) is never replaced, a carried-over secret is never read through a link, and
only a regular wheel goes into a build context."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from torchenv.backends.outdir import MARKER, copy_wheel, replace_dir, write_files
from torchenv.errors import ExitCode, UsageError
from torchenv.models.ship import ShipFile

TOKEN = "secrets/jupyter_token"  # noqa: S105 - a path


def fill_with(text: str) -> Callable[[Path], None]:
    return lambda root: write_files(root, [ShipFile("Dockerfile", text), ShipFile("w/a.txt", "")])


def generated(tmp_path: Path) -> Path:
    """A directory torchenv wrote, with the user's token in it."""
    out = tmp_path / "image"
    replace_dir(out, fill_with("FROM a:1\n"))
    (out / "secrets").mkdir(mode=0o700)
    (out / TOKEN).write_text("mine\n")
    (out / TOKEN).chmod(0o600)
    replace_dir(out, fill_with("FROM a:1\n"), keep=[TOKEN])
    return out


def refused(out: Path, keep: tuple[str, ...] = (TOKEN,)) -> UsageError:
    before = sorted(os.listdir(out.parent))
    with pytest.raises(UsageError) as err:
        replace_dir(out, fill_with("FROM b:1\n"), keep=keep)
    assert err.value.exit_code == ExitCode.USAGE
    assert (out / "Dockerfile").read_text() == "FROM a:1\n"  # nothing was replaced
    assert sorted(os.listdir(out.parent)) == before  # and nothing left beside it
    return err.value


def test_a_torchenv_directory_is_replaced_and_the_token_kept_with_its_modes(
    tmp_path: Path,
) -> None:
    out = generated(tmp_path)
    (out / "w" / "a.txt").unlink()  # a directory torchenv made, emptied: still torchenv's
    replace_dir(out, fill_with("FROM b:1\n"), keep=[TOKEN])
    assert (out / "Dockerfile").read_text() == "FROM b:1\n"
    assert (out / TOKEN).read_text() == "mine\n"
    assert stat.S_IMODE((out / TOKEN).stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "secrets").stat().st_mode) == 0o700
    assert TOKEN in (out / MARKER).read_text().splitlines()


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda out, elsewhere: (out / "link").symlink_to(elsewhere / "file"), "link"),
        (lambda out, elsewhere: (out / "dirlink").symlink_to(elsewhere), "dirlink"),
        (lambda out, elsewhere: (out / "dangling").symlink_to(elsewhere / "none"), "dangling"),
        (lambda out, elsewhere: (out / "empty").mkdir(), "empty/"),
        (lambda out, elsewhere: (out / "w" / "deeper").mkdir(), "w/deeper/"),
        (lambda out, elsewhere: os.mkfifo(out / "fifo"), "fifo"),
    ],
    ids=["link-to-file", "link-to-dir", "dangling-link", "empty-dir", "nested-empty-dir", "fifo"],
)
def test_anything_torchenv_did_not_write_is_foreign(
    tmp_path: Path, make: Callable[[Path, Path], None], shown: str
) -> None:
    out = generated(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "file").write_text("the user's")
    make(out, elsewhere)
    error = refused(out)
    assert error.reference == "out-not-torchenv"
    assert f"did not write ({shown})" in error.message
    assert (elsewhere / "file").read_text() == "the user's"  # a link was never followed
    assert os.path.lexists(out / shown.rstrip("/"))


def test_a_link_in_place_of_a_listed_file_is_foreign(tmp_path: Path) -> None:
    out = generated(tmp_path)
    (tmp_path / "mine").write_text("FROM a:1\n")
    os.replace(out / "Dockerfile", tmp_path / "old")
    (out / "Dockerfile").symlink_to(tmp_path / "mine")
    assert "did not write (Dockerfile)" in refused(out).message
    assert (out / "Dockerfile").is_symlink()


def test_a_fifo_as_the_marker_is_not_read(tmp_path: Path) -> None:
    out = generated(tmp_path)
    (out / MARKER).unlink()
    os.mkfifo(out / MARKER)  # opening it to read would wait for a writer forever
    assert MARKER in refused(out).message


@pytest.mark.parametrize("target_kind", ["file", "dangling"])
def test_a_linked_token_is_refused_and_its_target_never_copied(
    tmp_path: Path, target_kind: str
) -> None:
    out = generated(tmp_path)
    secret = tmp_path / "id_ed25519"
    if target_kind == "file":
        secret.write_text("PRIVATE KEY\n")
    (out / TOKEN).unlink()
    (out / TOKEN).symlink_to(secret)
    error = refused(out)
    assert error.reference == "out-keep-not-file"
    assert str(out / TOKEN) in error.message and "symbolic link" in error.message
    assert "Replace" in (error.hint or "")
    found = [p for p in out.rglob("*") if p.is_file() and not p.is_symlink()]
    assert all("PRIVATE KEY" not in p.read_text() for p in found)


def test_a_fifo_as_the_token_is_refused(tmp_path: Path) -> None:
    out = generated(tmp_path)
    (out / TOKEN).unlink()
    os.mkfifo(out / TOKEN)
    error = refused(out)
    assert error.reference == "out-keep-not-file" and "FIFO" in error.message


def test_a_linked_secrets_directory_is_refused(tmp_path: Path) -> None:
    out = generated(tmp_path)
    elsewhere = tmp_path / "keys"
    elsewhere.mkdir()
    (elsewhere / "jupyter_token").write_text("PRIVATE\n")
    os.replace(out / "secrets", tmp_path / "old-secrets")
    (out / "secrets").symlink_to(elsewhere)
    assert "did not write (secrets)" in refused(out).message


def test_a_token_swapped_for_a_link_after_the_check_is_not_followed(tmp_path: Path) -> None:
    out = generated(tmp_path)
    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY\n")

    def swap_then_fill(root: Path) -> None:
        (out / TOKEN).unlink()
        (out / TOKEN).symlink_to(secret)
        fill_with("FROM b:1\n")(root)

    with pytest.raises(UsageError, match="symbolic link") as err:
        replace_dir(out, swap_then_fill, keep=[TOKEN])
    assert err.value.reference == "out-keep-not-file"
    assert (out / "Dockerfile").read_text() == "FROM a:1\n"
    assert sorted(os.listdir(tmp_path)) == ["id_ed25519", "image"]


def test_only_a_regular_wheel_is_copied(tmp_path: Path) -> None:
    wheel = tmp_path / "torch-2.13.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"wheel")
    linked = tmp_path / "link" / wheel.name
    linked.parent.mkdir()
    linked.symlink_to(wheel)
    copy_wheel(linked, tmp_path / "ctx")  # a link to a wheel: the wheel itself is taken
    copied = tmp_path / "ctx" / wheel.name
    assert not copied.is_symlink() and copied.read_bytes() == b"wheel"
    fifo = tmp_path / "fifo" / wheel.name
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    for bad, why in [
        (fifo, "FIFO"),
        (tmp_path / "link", "directory"),
        (tmp_path / "missing.whl", "cannot be read"),
    ]:
        with pytest.raises(UsageError, match=why) as err:
            copy_wheel(bad, tmp_path / "ctx2")
        assert err.value.reference == "image-wheel-not-file" and str(bad) in err.value.message
    assert not (tmp_path / "ctx2" / wheel.name).exists()


def test_generated_paths_stay_in_their_directory(tmp_path: Path) -> None:
    for path in ("../escape", "/etc/escape", "a/../../escape"):
        with pytest.raises(ValueError, match="outside"):
            write_files(tmp_path, [ShipFile(path, "x")])
