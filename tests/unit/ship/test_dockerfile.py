"""The Dockerfile and the files of the image, read back with dockerfile-parse: what a reviewer
of the image checks (non-root, tini, healthcheck, pinned base, no secrets, the lock installed)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from ship_project import stack
from torchenv.models.ship import SpecImage
from torchenv.ship.base import CUDA_DEVEL_TAGS, choose_base, default_image_name
from torchenv.ship.dockerfile import ImageInputs, image_labels, render_dockerfile
from torchenv.ship.runtime import render_entrypoint, render_jupyter_config, render_sshd_config


def render(variant: str = "cu130", **options: Any) -> DockerfileParser:
    s = stack(variant)
    image = SpecImage(**options)
    base = choose_base(s, compiler=image.compiler, base=image.base)
    inputs = ImageInputs(
        s, image, base, "0.13.9", "torchenv-0.1.0-py3-none-any.whl", True, "0.1.0", "torchenv.toml"
    )
    # read from a file object: assigning .content would write a Dockerfile into the cwd
    return DockerfileParser(fileobj=io.BytesIO(render_dockerfile(inputs).encode()))


def instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == name]


def test_two_stages_and_the_lock_installed_with_its_hashes() -> None:
    parser = render()
    froms = instructions(parser, "FROM")
    assert froms == ["${UV_IMAGE} AS uv", "${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in parser.content
    assert "ghcr.io/astral-sh/uv:0.13.9" in parser.content
    runs = " ".join(instructions(parser, "RUN"))
    assert "uv pip sync --python /opt/env/bin/python /build/pylock.toml" in " ".join(runs.split())
    # a private index's credentials: a secret mounted for the install only, read through NETRC
    assert runs.startswith("--mount=type=secret,id=netrc,required=false,target=/run/secrets/netrc")
    assert "NETRC=/run/secrets/netrc uv pip sync" in runs
    assert "ARG NETRC" not in parser.content and "netrc" not in "".join(instructions(parser, "ENV"))
    assert "COPY wheels/ /build/wheels/" in parser.content
    # the final stage has no uv, no wheels and no build directory of its own
    final = parser.content.split("FROM ${BASE_IMAGE}\n", 1)[1]
    assert "/usr/local/bin/uv" not in final and "wheels/" not in final


def test_the_final_stage_is_non_root_with_tini_and_a_healthcheck() -> None:
    parser = render()
    assert instructions(parser, "USER")[-1] == '"${UID}:${GID}"'
    assert parser.args["UID"] == "1000"  # dockerfile-parse resolves the last stage's ARGs
    assert json.loads(instructions(parser, "ENTRYPOINT")[-1])[:2] == ["tini", "--"]
    health = instructions(parser, "HEALTHCHECK")[-1]
    assert '"torchenv", "verify", "--quick", "--prefix", "/opt/env"' in health
    assert instructions(parser, "WORKDIR")[-1] == "/workspace"
    assert instructions(parser, "VOLUME") == ['["/workspace"]']


def test_labels_carry_the_lock_and_the_plan() -> None:
    labels = render().labels
    assert labels["io.torchenv.lock-sha256"] == "a" * 64
    assert labels["io.torchenv.variant"] == "cu130"
    assert labels["io.torchenv.driver-floor"] == "580.65.06"
    assert labels["io.torchenv.archs"] == "sm_80 sm_90"
    assert labels == image_labels(stack(), "0.1.0")


def test_nvidia_variables_only_for_cuda_builds() -> None:
    assert render("cu130").envs["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert "NVIDIA_VISIBLE_DEVICES" not in render("cpu").envs


def test_jupyter_and_ssh_add_their_files_and_ports_only_when_asked() -> None:
    plain = render()
    assert not instructions(plain, "EXPOSE") and "openssh-server" not in plain.content
    both = render(jupyter=True, ssh=True)
    assert instructions(both, "EXPOSE") == ["8888 2222"]
    assert "openssh-server" in both.content and "/etc/torchenv/sshd_config" in both.content
    assert json.loads(instructions(both, "CMD")[-1]) == ["jupyter-lab"]


def test_no_secret_is_baked_in() -> None:
    text = render(jupyter=True, ssh=True).content
    for word in ("JUPYTER_TOKEN", "ssh-keygen", "ssh_host_", "PASSWORD"):
        assert word not in text


@pytest.mark.parametrize("variant", sorted(CUDA_DEVEL_TAGS))
def test_compiler_picks_the_cuda_devel_image_of_the_build(variant: str) -> None:
    base = choose_base(stack(variant), compiler=True, base=None)
    assert base.image == f"nvidia/cuda:{CUDA_DEVEL_TAGS[variant]}" and not base.has_python
    assert "-devel-ubuntu" in base.image


def test_base_choices() -> None:
    assert choose_base(stack("cpu"), compiler=True, base=None).image == "python:3.11-bookworm"
    free = choose_base(stack("cpu", python="3.14t"), compiler=False, base=None)
    assert free.image == "python:3.14-slim-bookworm" and not free.has_python
    given = choose_base(stack(), compiler=True, base="localhost/base:1")
    assert given.image == "localhost/base:1"
    with pytest.raises(ValueError, match="no nvidia/cuda devel image"):
        choose_base(stack("cu999"), compiler=True, base=None)


def test_apt_packages_and_uv_python_downloads() -> None:
    text = render(apt=("git", "libgl1")).content
    assert "ca-certificates git libgl1 tini" not in text  # python images bring certificates
    assert "git libgl1 tini" in text and "UV_PYTHON_DOWNLOADS=never" in text
    devel = render(compiler=True).content
    assert "UV_PYTHON_DOWNLOADS=automatic" in devel and "ca-certificates" in devel


def test_default_image_name_follows_the_lock() -> None:
    assert default_image_name(stack()) == "demo:2.13.0-cu130-aaaaaaaaaaaa"


def test_runtime_files_read_secrets_at_start_only() -> None:
    entry = render_entrypoint()
    assert entry.startswith("#!/bin/bash\n") and "ssh-keygen" in entry and 'exec "$@"' in entry
    config = render_jupyter_config()
    compile(config, "jupyter_server_config.py", "exec")  # valid Python
    assert "JUPYTER_TOKEN" in config and "SystemExit" in config
    sshd = render_sshd_config("ml", "/state", 2022)
    lines = set(sshd.splitlines())
    assert {
        "PasswordAuthentication no",
        "PermitRootLogin no",
        "AllowUsers ml",
        "Port 2022",
    } <= lines
    assert "HostKey /state/ssh_host_ed25519_key" in lines


def test_activation_runs_strict_shells_activate_d_scripts_leniently(tmp_path: Path) -> None:
    """An activate.d script that reads an unset variable (as GDAL's does) runs to its end under
    `bash -eu` (a RUN of an image built FROM a conda image), and the shell keeps -e and -u."""
    import subprocess

    from torchenv.ship.condaimage import render_activate

    prefix = tmp_path / "env"
    scripts = prefix / "etc" / "conda" / "activate.d"
    scripts.mkdir(parents=True)
    (scripts / "a.sh").write_text('export SAVED="$NOT_SET_ANYWHERE"\nexport A_RAN=1\n')
    (scripts / "b.sh").write_text("export B_RAN=1\n")
    activate = tmp_path / "activate.sh"
    activate.write_text(render_activate(str(prefix)))
    check = f'. {activate}; echo "$A_RAN $B_RAN $CONDA_PREFIX $-"; echo "$UNSET_AFTER"'
    done = subprocess.run(
        ["bash", "-eu", "-c", check],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
        timeout=30,
    )
    first = done.stdout.splitlines()[0].split()
    assert first[:3] == ["1", "1", str(prefix)] and "e" in first[3] and "u" in first[3]
    assert done.returncode != 0 and "UNSET_AFTER" in done.stderr  # -u is back on
