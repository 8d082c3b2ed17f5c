"""`torchenv export` against real tools: the exported requirements.txt installs with pip
--require-hashes --no-deps into a fresh venv (a small lock uv made from the local PyPI mirror,
and the torch 2.13.0+cpu lock `torchenv lock` makes), and a hash changed in it stops pip; the
environment.yml reads back with PyYAML and its conda specs with py-rattler's strict parser; the
pixi.toml reads back with tomllib; a conda lock made by `torchenv lock` from a local channel
exports the very builds it locked, also through --prefix of the environment made from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from builders import require
from integration.conftest import TORCH_VERSION, find_links, run_torchenv, uv_bin, write_cpu_spec
from integration.test_create_conda import _project, channel  # noqa: F401 - a fixture
from torchenv.backends.lockfile import parse_lock, with_tool_table

pytestmark = pytest.mark.integration

LOCAL_PYPI = Path(os.environ.get("TORCHENV_TEST_PYPI", "/opt/pypi/simple"))


def _torchenv_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(root / "data")
    env["TORCHENV_CACHE_DIR"] = str(root / "cache")
    env["UV_HTTP_RETRIES"] = "1"
    return env


def _pip_install(root: Path, requirements: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``pip install --require-hashes --no-deps -r requirements`` into a fresh venv, with pip's
    own configuration (this machine's find-links and extra indexes) switched off: the exported
    file alone says where packages come from."""
    venv = root / f"fresh-{len(list(root.glob('fresh-*')))}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    argv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    argv += ["--require-hashes", "--no-deps", "--no-compile", "-r", str(requirements)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    return venv, done


def _installed(venv: Path) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json, re\n"
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in m.distributions()}))"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pylock.toml of six and idna, resolved by uv from the local PyPI mirror, with a
    [tool.torchenv] record naming that mirror as its index."""
    require(uv_bin() is not None, "uv is not installed")
    require((LOCAL_PYPI / "six").is_dir(), f"no local PyPI mirror with six at {LOCAL_PYPI}")
    root = tmp_path_factory.mktemp("small")
    (root / "requirements.in").write_text("six\nidna\n")
    index = LOCAL_PYPI.as_uri()
    argv = [str(uv_bin()), "pip", "compile", str(root / "requirements.in"), "-o"]
    argv += [str(root / "pylock.uv.toml"), "--python-version", "3.11", "--index-url", index]
    subprocess.run([*argv, "--no-header", "--quiet"], check=True, timeout=300)
    tool = {
        "spec": "torchenv.toml",
        "spec-hash": "0" * 64,
        "torch": TORCH_VERSION,
        "variant": "cpu",
        "python": "3.11",
        "platforms": ["linux_x86_64"],
        "indexes": {"pypi": index, "find-links": []},
    }
    text = with_tool_table((root / "pylock.uv.toml").read_text(), tool)
    (root / "pylock.toml").write_text(text)
    return root


def test_exported_requirements_install_with_their_hashes(small_project: Path) -> None:
    root = small_project
    env = _torchenv_env(root)
    out = root / "requirements.txt"
    done = run_torchenv(
        "export",
        "pylock.toml",
        "--format",
        "requirements.txt",
        "--out",
        str(out),
        cwd=root,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert f"--index-url {LOCAL_PYPI.as_uri()}\n" in text and "--hash=sha256:" in text
    locked = parse_lock((root / "pylock.toml").read_bytes(), "pylock.toml").versions()
    venv, installed = _pip_install(root, out)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    have = _installed(venv)
    assert {name: have.get(name) for name in locked} == locked
    # pip checks the hashes: one changed digit and nothing installs
    digest = text.split("--hash=sha256:")[1][:64]
    changed = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    out.write_text(text.replace(digest, changed))
    venv, installed = _pip_install(root, out)
    assert installed.returncode != 0 and "DO NOT MATCH THE HASHES" in installed.stderr
    assert not any(name in _installed(venv) for name in locked)


@pytest.fixture(scope="module")
def torch_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """torchenv.toml and the pylock.toml `torchenv lock` makes for torch 2.13.0+cpu."""
    require(find_links() is not None, f"no torch {TORCH_VERSION}+cpu wheel (TORCHENV_TEST_WHEELS)")
    require(uv_bin() is not None, "uv is not installed")
    root = tmp_path_factory.mktemp("torch")
    env = _torchenv_env(root)
    write_cpu_spec(root, env, "cpu-export")
    done = run_torchenv("lock", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    return root, env


def test_the_requirements_of_a_torchenv_lock_install_torch(
    torch_project: tuple[Path, dict[str, str]],
) -> None:
    root, env = torch_project
    done = run_torchenv(
        "export", "--format", "requirements.txt", "--out", "req.txt", cwd=root, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "torchenv: note: pip has no index strategy" in done.stderr
    text = (root / "req.txt").read_text()
    assert f"--find-links {find_links()}\n" in text and "--extra-index-url file://" in text
    locked = parse_lock((root / "pylock.toml").read_bytes(), "pylock.toml").versions()
    assert locked["torch"] == f"{TORCH_VERSION}+cpu"
    venv, installed = _pip_install(root, root / "req.txt")
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    have = _installed(venv)
    assert {name: have.get(name) for name in locked} == locked


def test_environment_yml_and_pixi_toml_of_a_torchenv_lock_read_back(
    torch_project: tuple[Path, dict[str, str]],
) -> None:
    root, env = torch_project
    locked = parse_lock((root / "pylock.toml").read_bytes(), "pylock.toml")
    done = run_torchenv("export", "--format", "environment.yml", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert "environment.yml cannot carry the lock's hashes" in done.stderr
    doc = yaml.safe_load(done.stdout)
    assert doc["name"] == "cpu-export" and doc["dependencies"][:2] == ["python=3.11", "pip"]
    pip = doc["dependencies"][2]["pip"]
    assert pip[0] == "--index-url https://pypi.org/simple"
    pins = [line for line in pip if not line.startswith("--")]
    assert pins == [f"{p.name}=={p.version}" for p in locked.packages]

    done = run_torchenv("export", "--format", "pixi.toml", "--json", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"]["kind"] == "spec" and report["source"]["sha256"] == locked.sha256
    pixi = tomllib.loads(report["text"])
    assert pixi["workspace"]["platforms"] == ["linux-64"]
    assert pixi["pypi-dependencies"] == {p.name: f"=={p.version}" for p in locked.packages}
    assert pixi["pypi-options"]["find-links"] == [{"path": find_links()}]
    assert any("cannot carry the lock's hashes" in n for n in report["notes"])


def _locked_conda(lock: Path) -> dict[str, tuple[str, str]]:
    import rattler

    environment = rattler.LockFile.from_path(lock).environment("default")
    assert environment is not None
    records = environment.conda_repodata_records()["linux-64"]
    return {r.name.normalized: (str(r.version), str(r.build)) for r in records}


def test_a_conda_lock_exports_the_builds_it_locked(
    channel: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    import rattler

    env = _torchenv_env(tmp_path)
    env["RATTLER_CACHE_DIR"] = str(tmp_path / "rattler-cache")
    project = _project(tmp_path, channel, "conda-export", "auto", '["torchvision"]')
    done = run_torchenv("lock", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    locked = _locked_conda(project / "conda.lock")
    assert locked["pytorch"][1].startswith("cuda130")

    done = run_torchenv(
        "export", "--format", "environment.yml", "--platform", "linux-64", cwd=project, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "CONDA_OVERRIDE_CUDA=13.0" in done.stderr
    doc = yaml.safe_load(done.stdout)
    assert doc["channels"] == [channel.as_uri() + "/", "nodefaults"]
    specs = [rattler.MatchSpec(line, strict=True) for line in doc["dependencies"]]
    exported = {s.name.normalized: (str(s.version).removeprefix("=="), str(s.build)) for s in specs}
    assert exported == locked

    done = run_torchenv("export", "--format", "pixi.toml", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    pixi = tomllib.loads(done.stdout)
    assert pixi["system-requirements"] == {"cuda": "13.0"}
    assert {
        n: (d["version"].removeprefix("=="), d["build"]) for n, d in pixi["dependencies"].items()
    } == locked

    # the environment made from the lock exports it while the lock is the one it was made from
    prefix = tmp_path / "env"
    done = run_torchenv("create", "--no-verify", "--prefix", str(prefix), cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    done = run_torchenv(
        "export",
        "--format",
        "environment.yml",
        "--prefix",
        str(prefix),
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"]["kind"] == "prefix" and yaml.safe_load(report["text"])["name"] == "env"
    lock = project / "conda.lock"
    lock.write_text(lock.read_text() + "\n")
    done = run_torchenv(
        "export", "--format", "environment.yml", "--prefix", str(prefix), cwd=tmp_path, env=env
    )
    assert done.returncode == 2 and "changed since" in done.stderr
    done = run_torchenv("export", "--format", "environment.yml", cwd=project, env=env)
    assert done.returncode == 2 and "changed since `torchenv lock`" in done.stderr
