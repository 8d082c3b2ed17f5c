"""The lock file, the installer commands and the staging of environments, without installing."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from torchenv.backends import staging
from torchenv.backends.installers import Sources, pip_install, uv_compile, uv_sync
from torchenv.backends.lockfile import parse_lock, pip_requirements, with_tool_table
from torchenv.errors import UsageError
from torchenv.models.spec import SpecIndex

WHL = "https://files.pythonhosted.org/f/filelock-4.2.12-py3-none-any.whl"
LOCAL = "file:///opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
REMOTE = (
    "https://download.pytorch.org/whl/cpu/torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl"
)

H1, H2, H3 = "21de" * 16, "6746" * 16, "aaaa" * 16
PYLOCK = f"""\
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "filelock"
version = "4.2.12"
wheels = [{{ url = "{WHL}", hashes = {{ sha256 = "{H1}" }} }}]

[[packages]]
name = "torch"
version = "2.13.0+cpu"
marker = "sys_platform == 'linux'"
wheels = [
  {{ url = "{LOCAL}", hashes = {{ sha256 = "{H2}" }} }},
  {{ url = "{REMOTE}", hashes = {{ sha256 = "{H3}" }} }},
]
"""


def test_tool_table_is_appended_and_read_back() -> None:
    text = with_tool_table(PYLOCK, TOOL)
    assert text.startswith(PYLOCK.rstrip("\n"))  # uv's text is kept byte for byte
    lock = parse_lock(text.encode(), "pylock.toml")
    assert lock.spec_hash == "ab" * 32 and lock.tool["variant"] == "cpu"
    assert lock.sealed is True
    assert lock.versions() == {"filelock": "4.2.12", "torch": "2.13.0+cpu"}
    assert len(lock.sha256) == 64
    with pytest.raises(ValueError, match="already"):
        with_tool_table(text, {"spec-hash": "x"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not a TOML file"),
        (b"lock-version = [", "not a TOML file"),
        (b'lock-version = "2.0"', "not a PEP 751 lock file"),
        (b'lock-version = "1.0"\n[[packages]]\nversion = "1"', r"packages\[0\]\.name = None"),
    ],
)
def test_malformed_locks_name_the_file(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        parse_lock(data, "/x/pylock.toml")
    assert "/x/pylock.toml" in err.value.message and "torchenv lock" in (err.value.hint or "")


TOOL = {
    "spec-hash": "ab" * 32,
    "torch": "2.13.0",
    "variant": "cpu",
    "python": "3.11",
    "platforms": ["linux_x86_64"],
    "archs": [],
}


def test_the_packages_expected_here_follow_the_markers() -> None:
    lock = parse_lock(PYLOCK.encode(), "pylock.toml")
    expected = lock.versions_for("3.11.7")
    linux = sys.platform.startswith("linux")
    assert ("torch" in expected) is linux and expected["filelock"] == "4.2.12"


def test_pip_requirements_carry_every_wheel_hash_and_the_marker() -> None:
    text = pip_requirements(parse_lock(PYLOCK.encode(), "pylock.toml"))
    assert f"filelock==4.2.12 \\\n    --hash=sha256:{H1}" in text
    assert f'torch==2.13.0+cpu ; sys_platform == "linux" \\\n    --hash=sha256:{H2}' in text
    assert f"--hash=sha256:{H3}" in text


def test_pip_requirements_refuse_a_package_without_hashes() -> None:
    lock = parse_lock(b'lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\n', "p")
    with pytest.raises(UsageError, match="no wheel hash"):
        pip_requirements(lock)


def test_commands_use_the_variant_index_before_pypi() -> None:
    sources = Sources.for_variant(SpecIndex(find_links=("/opt/wheels",)), "cu130", macos=False)
    assert sources.pytorch == "https://download.pytorch.org/whl/cu130"
    argv = uv_compile("uv", "req.in", "out/pylock.toml", "3.11", ["linux_x86_64"], sources)
    assert argv[:8] == [
        "uv",
        "pip",
        "compile",
        "req.in",
        "-o",
        "out/pylock.toml",
        "--python-version",
        "3.11",
    ]
    assert "--python-platform" in argv and "x86_64-manylinux_2_28" in argv
    assert argv[argv.index("--extra-index-url") + 1] == sources.pytorch
    assert argv[argv.index("--find-links") + 1] == "/opt/wheels"
    fleet = uv_compile("uv", "r", "o", "3.11", ["linux_x86_64", "linux_aarch64"], sources)
    assert "--universal" in fleet and "--python-platform" not in fleet
    assert uv_sync("uv", "pylock.toml", "/e/bin/python", sources)[:4] == [
        "uv",
        "pip",
        "sync",
        "pylock.toml",
    ]
    pip = pip_install("/e/bin/python", "req.txt", sources)
    assert {"--require-hashes", "--no-deps"} <= set(pip)
    assert Sources.for_variant(SpecIndex(), "cpu", macos=True).pytorch is None
    index = SpecIndex(find_links=("wheels", "/abs", "https://h/links"))
    links = Sources.for_variant(index, "cpu", False, base=Path("/proj")).find_links
    assert links == ("/proj/wheels", "/abs", "https://h/links")


def test_exclusive_refuses_a_second_create_of_the_same_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with staging.exclusive(prefix):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        busy = pytest.raises(staging.Busy, match=r"Another torchenv command .* is changing")
        with busy, staging.exclusive(prefix):
            pass
    finally:
        release.set()
        thread.join()
    with staging.exclusive(prefix):  # free again
        pass


def test_build_dir_is_removed_on_failure_and_leftovers_are_cleaned(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    with pytest.raises(RuntimeError), staging.build_dir(prefix) as build:
        (build / "half").write_text("x")
        raise RuntimeError("installer died")
    assert list(tmp_path.iterdir()) == []
    stale = tmp_path / f".env{staging.BUILD_MARK}abc"
    stale.mkdir()
    assert staging.remove_leftovers(prefix) == [stale] and not stale.exists()


def test_promote_replaces_only_when_asked(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").symlink_to("/usr/bin/python3")
    (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with staging.build_dir(prefix) as build:
        (build / "new").write_text("new")
        with pytest.raises(UsageError, match="already exists"):
            staging.promote(build, prefix, replace=False)
        assert (prefix / "pyvenv.cfg").exists()
        staging.promote(build, prefix, replace=True)
    assert sorted(p.name for p in prefix.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env"]  # no build or old dir left


@pytest.mark.parametrize("kind", ["data", "file", "project", "symlink", "home"])
def test_force_replaces_environments_only(tmp_path: Path, kind: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "torchenv.toml").write_text("name = 'x'\n")
    target = {
        "data": tmp_path / "data",
        "file": tmp_path / "notes.txt",
        "project": project,
        "symlink": tmp_path / "link",
        "home": Path.home(),
    }[kind]
    if kind == "data":
        target.mkdir()
        (target / "data.txt").write_text("precious")
    elif kind == "file":
        target.write_text("precious")
    elif kind == "symlink":
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "pyvenv.cfg").write_text("")
        target.symlink_to(tmp_path / "real")
    elif kind == "project":
        (project / "pyvenv.cfg").write_text("")  # even an environment holding the spec
    with pytest.raises(UsageError) as err:
        staging.check_target(target, replace=True, protected=[project / "torchenv.toml"])
    assert err.value.exit_code == 2
    assert (project / "torchenv.toml").exists()
    if kind in ("data", "file"):
        assert "precious" in (target / "data.txt" if kind == "data" else target).read_text()


def test_bad_parents_are_usage_errors(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(UsageError, match="is not a directory"):
        staging.check_target(afile / "env", replace=False)


def test_an_environment_set_aside_by_a_killed_run_is_put_back(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    aside = tmp_path / f".env{staging.OLD_MARK}x1"
    aside.mkdir()
    (aside / "pyvenv.cfg").write_text("")
    build = tmp_path / f".env{staging.BUILD_MARK}y2"
    build.mkdir()
    other = tmp_path / f".env1{staging.BUILD_MARK}z3"  # another prefix's build: not ours
    other.mkdir()
    assert staging.remove_leftovers(prefix) == [build]
    assert (prefix / "pyvenv.cfg").exists() and other.exists() and not aside.exists()
    weird = tmp_path / "env[1]"
    assert staging.remove_leftovers(weird) == []  # glob metacharacters are escaped
    assert other.exists()


def test_sigterm_unwinds_like_ctrl_c(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    with (
        pytest.raises(KeyboardInterrupt),
        staging.terminate_as_interrupt(),
        staging.build_dir(prefix) as build,
    ):
        (build / "half").write_text("x")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert list(tmp_path.iterdir()) == []


def test_relocate_rewrites_text_scripts_only(tmp_path: Path) -> None:
    build = tmp_path / ".env.torchenv-build-x"
    (build / "bin").mkdir(parents=True)
    (build / "bin" / "pip").write_text(f"#!{build}/bin/python\nimport pip\n")
    (build / "bin" / "activate").write_text(f'VIRTUAL_ENV="{build}"\n')
    (build / "bin" / "blob").write_bytes(b"\0ELF" + str(build).encode())
    os.symlink("python3", build / "bin" / "python")
    changed = staging.relocate(build, str(build), str(tmp_path / "env"))
    assert changed == 2
    assert (build / "bin" / "pip").read_text().startswith(f"#!{tmp_path / 'env'}/bin/python")
    assert str(build).encode() in (build / "bin" / "blob").read_bytes()


def test_ordinary_paths_and_urls_of_a_spec_stay_valid_in_its_lock() -> None:
    """find-links folders are kept as paths: a space, a quote or a $ in one is data (the lock
    and the record are TOML and JSON, never a command line), as a $ in a mirror's URL."""
    table = {
        **TOOL,
        "indexes": {
            "pypi": "https://mirror.example/$repo/simple",
            "find-links": ["/home/me/My Project/wheels", "/home/me/o'brien/$team/wheels"],
        },
    }
    lock = parse_lock(with_tool_table(PYLOCK, table).encode(), "pylock.toml")
    assert lock.tool["indexes"]["find-links"][0] == "/home/me/My Project/wheels"
    for bad in ("/home/me/a\nb", "https://user:pw@mirror.example/simple", "https://m/a b"):
        key = "find-links" if bad.startswith("/") else "pypi"
        value = [bad] if key == "find-links" else bad
        with pytest.raises(UsageError, match="indexes"):
            parse_lock(with_tool_table(PYLOCK, {**table, "indexes": {key: value}}).encode(), "p")
