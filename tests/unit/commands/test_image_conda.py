"""`torchenv image` from a conda lock, and the installer its build stage runs
(backends/conda_image.py), on a small local channel made here with py-rattler-build: what the
build context holds, and the locks and package copies it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import FakeRunner, index_channel, probe_context, require
from torchenv import cli
from torchenv.backends import conda_image
from torchenv.backends.conda import render_meta
from torchenv.commands.image import run_image
from torchenv.errors import UsageError
from torchenv.models.process import RunResult

TORCH = "2.13.0"


def _uv(argv: list[str]) -> RunResult:
    return RunResult(tuple(argv), 0, "uv 0.13.9 (abc 2026-11-01)\n")


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import rattler_build
    except ImportError:
        require(False, "py-rattler-build is not installed (extra `test`)")
    root = tmp_path_factory.mktemp("channel")
    out = root / "channel"
    for name, version, build, files, depends in [
        ("python", "3.11.9", "h0_0", {"bin/python3.11": "#!/bin/sh\nexit 3\n"}, []),
        (
            "pytorch",
            TORCH,
            "cpu_generic_py311_0",
            {
                f"lib/python3.11/site-packages/torch-{TORCH}.dist-info/METADATA": (
                    f"Metadata-Version: 2.1\nName: torch\nVersion: {TORCH}\n"
                )
            },
            ["python >=3.11,<3.12"],
        ),
    ]:
        tree = root / "staging" / name
        for rel, text in files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_text(text)
        rattler_build.assemble_package(
            name, version, "linux-64", build, out / "linux-64", files_dir=tree, depends=depends
        )
    (out / "noarch").mkdir()
    index_channel(out)
    return out


@pytest.fixture
def project(channel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "torchenv.toml").write_text(
        f'name = "demo"\npython = "3.11"\ntorch = "=={TORCH}"\ncuda = "cpu"\nlibraries = []\n'
        'installer = "conda"\n\n[targets]\nplatform = "linux_x86_64"\n\n'
        f'[index]\nchannels = ["{channel}"]\n\n[image]\nssh = true\n'
    )
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(tmp_path / "rattler"))
    monkeypatch.chdir(root)
    assert cli.main(["lock", "--json"]) == 0
    return root


def image(project: Path, tmp_path: Path) -> Path:
    runner = FakeRunner()
    runner.on(lambda argv: argv[-1] == "--version", _uv)
    ctx, _ = probe_context(tmp_path, runner)
    report = run_image(ctx, str(project / "torchenv.toml"), project)
    return Path(report.out)


def test_the_context_holds_the_lock_as_it_is_and_its_local_packages(
    project: Path, tmp_path: Path
) -> None:
    out = image(project, tmp_path)
    assert (out / "conda.lock").read_bytes() == (project / "conda.lock").read_bytes()
    sidecar = "conda.lock.torchenv.json"
    assert (out / sidecar).read_bytes() == (project / sidecar).read_bytes()
    packages = sorted(p.name for p in (out / "conda-pkgs" / "linux-64").iterdir())
    assert packages == [
        "python-3.11.9-h0_0.conda",
        f"pytorch-{TORCH}-cpu_generic_py311_0.conda",
    ]
    dockerfile = (out / "Dockerfile").read_text()
    assert "-m torchenv.backends.conda_image" in dockerfile and "pylock" not in dockerfile
    assert (
        "CONDA_PREFIX=/opt/env" in dockerfile and "BASH_ENV=/etc/torchenv/activate.sh" in dockerfile
    )
    assert (
        "FROM ${BASE_IMAGE} AS build" in dockerfile
        and "ARG BASE_IMAGE=debian:bookworm-slim" in dockerfile
    )
    assert "COPY --from=build /opt/python" not in dockerfile  # the conda env has its Python
    constraints = (out / "torchenv/constraints.txt").read_text()
    assert "py-rattler==" in constraints
    assert "prometheus-client==" in constraints  # the exporter `deploy` starts runs in the image
    assert "CONDA_PREFIX=/opt/env" in (out / "sshd_config").read_text()
    assert "/etc/torchenv/activate.sh" in (out / "profile.sh").read_text()
    allowed = (out / ".dockerignore").read_text()
    for name in ("!conda.lock", "!conda-pkgs/", "!activate.sh"):
        assert name in allowed
    assert not (out / "torchenv-env.json").exists()  # written in the image, after the install


def reseal(project: Path, old: str, new: str) -> None:
    """Edit conda.lock and seal its sidecar again, as a hostile lock would come."""
    lock = project / "conda.lock"
    data = lock.read_bytes().replace(old.encode(), new.encode())
    assert data != lock.read_bytes()
    lock.write_bytes(data)
    sidecar = project / "conda.lock.torchenv.json"
    tool = json.loads(sidecar.read_text())["tool"]
    sidecar.write_text(render_meta(tool, data))


def test_a_lock_naming_a_file_that_is_not_a_package_is_refused(
    project: Path, channel: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY\n")
    reseal(project, f"{channel}/linux-64/python-3.11.9-h0_0.conda", str(secret))
    # rattler itself refuses a package path that is no archive name; either way nothing is
    # copied and no context is written
    with pytest.raises(UsageError, match=r"Cannot read the conda lock|not a conda package"):
        image(project, tmp_path)
    assert not (project / "image").exists()


def test_a_local_package_changed_since_the_lock_is_refused(
    project: Path, channel: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere" / "linux-64"
    moved.mkdir(parents=True)
    package = moved / "python-3.11.9-h0_0.conda"
    package.write_bytes(b"something else")
    reseal(project, f"{channel}/linux-64/python-3.11.9-h0_0.conda", str(package))
    with pytest.raises(UsageError, match="does not have the sha256"):
        image(project, tmp_path)
    package.unlink()
    with pytest.raises(UsageError, match="not on this machine"):
        image(project, tmp_path)


def test_the_installer_installs_the_copies_and_writes_the_record(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = image(project, tmp_path)
    prefix = tmp_path / "env"
    argv = [str(out / "conda.lock"), str(prefix), "--packages", str(out / "conda-pkgs")]
    assert conda_image.main([*argv, "--recorded-as", "/etc/torchenv/conda.lock"]) == 0
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["backend"] == "conda" and record["lock"]["path"] == "/etc/torchenv/conda.lock"
    assert record["lock"]["packages"] == {"torch": TORCH}
    assert (prefix / "conda-meta").is_dir()
    # a second run into the same prefix is refused; so are a tampered copy and an edited lock
    assert conda_image.main(argv) == 2
    assert "is not empty" in capsys.readouterr().err
    copy = out / "conda-pkgs" / "linux-64" / "python-3.11.9-h0_0.conda"
    copy.write_bytes(copy.read_bytes() + b"\0")
    assert conda_image.main([argv[0], str(tmp_path / "env2"), *argv[2:]]) == 2
    assert "does not have the sha256" in capsys.readouterr().err
    afile = tmp_path / "a-file"
    afile.write_text("")
    assert conda_image.main([argv[0], str(afile), *argv[2:]]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (out / "conda.lock").write_bytes((out / "conda.lock").read_bytes() + b"\n# edited\n")
    assert conda_image.main([argv[0], str(tmp_path / "env3"), *argv[2:]]) == 2
    err = capsys.readouterr().err
    assert "changed after `torchenv lock`" in err and "Traceback" not in err
