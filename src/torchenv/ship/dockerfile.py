"""The Dockerfile of an environment's image, and its .dockerignore.

Two stages from the same base. ``build`` holds uv and the install; the final stage gets only
the environment (``/opt/env``), torchenv (``/opt/torchenv``, for the HEALTHCHECK and for
``doctor`` inside the container) and, when uv brought the interpreter, ``/opt/python``.
The environment is installed with ``uv pip sync`` of the lock itself, so every file is the one
the lock names, checked against its sha256.

The instructions are checked by hadolint (tests/integration/test_image_lint.py) at warning
level; the one rule ignored is justified in the file.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from torchenv.models.build import ENV_RECORD_FILE as ENV_RECORD
from torchenv.models.ship import NETRC_SECRET, ImageStack, SpecImage
from torchenv.ship.base import BaseChoice
from torchenv.ship.condaimage import ACTIVATE, CONDA_LOCK, CONDA_SIDECAR, conda_build_stage
from torchenv.ship.yamltext import comment_lines

ENV_PREFIX = "/opt/env"
TOOL_PREFIX = "/opt/torchenv"
PYTHON_DIR = "/opt/python"
WORKSPACE = "/workspace"
JUPYTER_PORT = 8888
SSH_PORT = 2222  # sshd runs as the image's user, so a port above 1024
SSH_STATE = "/var/lib/torchenv/ssh"  # host keys and pid file, owned by the image's user
# bash is in every Debian and Ubuntu image; pipefail so that a failing step of a pipe fails the RUN
SHELL = 'SHELL ["/bin/bash", "-o", "pipefail", "-eu", "-c"]'
NETRC_MOUNT = "/run/secrets/netrc"  # BuildKit's default target for a secret of that id
UV_IMAGE = "ghcr.io/astral-sh/uv:{version}"  # uv's own image: the binary at /uv (uv docs, Docker)


@dataclass(frozen=True)
class ImageInputs:
    """What the Dockerfile is rendered from (all decided by the command layer)."""

    stack: ImageStack
    options: SpecImage
    base: BaseChoice
    uv_version: str
    tool_wheel: str  # file name of torchenv's wheel in torchenv/
    local_wheels: bool  # the lock names wheels copied into wheels/
    torchenv_version: str
    spec_file: str
    conda: bool = False  # a conda lock (condaimage.py): conda.lock, not pylock.toml
    local_conda_packages: bool = False  # the lock names packages copied into conda-pkgs/


def image_labels(stack: ImageStack, torchenv_version: str) -> dict[str, str]:
    """OCI annotations (opencontainers/image-spec annotations.md) and torchenv's own: what the
    image holds, readable with `docker inspect` without running it."""
    labels = {
        "org.opencontainers.image.title": stack.name,
        "org.opencontainers.image.description": (
            f"PyTorch {stack.torch}+{stack.variant}, Python {stack.python}, built by torchenv"
        ),
        "io.torchenv.version": torchenv_version,
        "io.torchenv.lock-sha256": stack.lock_sha256,
        "io.torchenv.spec-hash": stack.spec_hash,
        "io.torchenv.torch": stack.torch,
        "io.torchenv.variant": stack.variant,
        "io.torchenv.python": stack.python,
        "io.torchenv.cuda": stack.cuda or "none",
        "io.torchenv.driver-floor": stack.driver_floor or "none",
    }
    if stack.archs:
        labels["io.torchenv.archs"] = " ".join(stack.archs)
    return labels


def render_dockerfile(inputs: ImageInputs) -> str:
    stack, options, base = inputs.stack, inputs.options, inputs.base
    python = stack.python
    lines = [
        "# syntax=docker/dockerfile:1",
        # the spec's file name and the lock's values end up here: comment_lines keeps a line
        # break in them from starting an instruction
        *comment_lines(
            f"The image of the torchenv environment {stack.name!r}: PyTorch {stack.torch}+"
            f"{stack.variant}, Python {python}.\n"
            f"Written by torchenv {inputs.torchenv_version} from {inputs.spec_file} and its lock "
            f"(sha256 {stack.lock_sha256[:12]});\n"
            "run `torchenv image` again after `torchenv lock`.\n"
            f"Base: {base.image}:\n{base.reason}."
        ),
        "#",
        "# hadolint global ignore=DL3008",
        "# DL3008 (pin apt-get versions) is ignored: Debian and Ubuntu drop a superseded version",
        "# from their archive, so a pinned version breaks the build within weeks (hadolint#884).",
        "# The base image is pinned by tag (or digest, [image] base), and the Python stack by the",
        "# lock and its hashes; the few system packages come from the base's release.",
        "",
        f"ARG BASE_IMAGE={base.image}",
        f"ARG UV_IMAGE={UV_IMAGE.format(version=inputs.uv_version)}",
        "",
        "FROM ${UV_IMAGE} AS uv",
        "",
        "FROM ${BASE_IMAGE} AS build",
        SHELL,
        "COPY --from=uv /uv /usr/local/bin/uv",
        # bytecode compiled at build time: the first import in the container is not slowed by it
        f"ENV UV_PYTHON_INSTALL_DIR={PYTHON_DIR} UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy "
        f"UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS={'never' if base.has_python else 'automatic'}",
    ]
    lines += _conda_build(inputs) if inputs.conda else _pip_build(inputs)
    lines += [
        "",
        "FROM ${BASE_IMAGE}",
        SHELL,
        f"ARG USER={options.user}",
        f"ARG UID={options.ids()[0]}",
        f"ARG GID={options.ids()[1]}",
    ]
    apt = ["tini", *(["openssh-server"] if options.ssh else []), *options.apt]
    if base.image.startswith("nvidia/cuda:") or not base.has_python:
        apt.append("ca-certificates")
    lines += [
        "RUN apt-get update \\",
        "    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\",
        f"        {' '.join(sorted(set(apt)))} \\",
        "    && rm -rf /var/lib/apt/lists/*",
        # NVIDIA's Ubuntu images ship a user "ubuntu" with UID/GID 1000: make room for ours
        'RUN if old="$(getent passwd "${UID}")"; then userdel --remove "${old%%:*}"; fi; \\',
        '    if old="$(getent group "${GID}")"; then groupdel "${old%%:*}"; fi; \\',
        '    groupadd --gid "${GID}" "${USER}" \\',
        # --no-log-init: a large UID would otherwise make a sparse lastlog of gigabytes
        '    && useradd --no-log-init --uid "${UID}" --gid "${GID}" --create-home \\',
        '        --shell /bin/bash "${USER}" \\',
        f'    && install -d -o "${{UID}}" -g "${{GID}}" {WORKSPACE}'
        + (
            f' \\\n    && install -d -m 700 -o "${{UID}}" -g "${{GID}}" {SSH_STATE} '
            '"/home/${USER}/.ssh"'
            if options.ssh
            else ""
        ),
        *([] if inputs.conda else [f"COPY --from=build {PYTHON_DIR} {PYTHON_DIR}"]),
        f"COPY --from=build {ENV_PREFIX} {ENV_PREFIX}",
        f"COPY --from=build {TOOL_PREFIX} {TOOL_PREFIX}",
        (
            f"COPY --from=build /build/{CONDA_LOCK} /build/{CONDA_SIDECAR} /etc/torchenv/"
            if inputs.conda
            else "COPY --from=build /build/pylock.toml /etc/torchenv/pylock.toml"
        ),
        f"RUN ln -s {TOOL_PREFIX}/bin/torchenv /usr/local/bin/torchenv",
        "COPY entrypoint.sh /usr/local/bin/torchenv-entrypoint",
    ]
    if inputs.conda:
        lines.append(f"COPY activate.sh {ACTIVATE}")
        # interactive shells (`docker exec -it ... bash`) read neither BASH_ENV nor profile.d
        lines.append(
            f"RUN printf '\\n# the conda environment (torchenv)\\n. {ACTIVATE}\\n' "
            ">> /etc/bash.bashrc"
        )
    if options.jupyter:
        lines.append("COPY jupyter_server_config.py /etc/torchenv/jupyter_server_config.py")
    if options.ssh:
        lines.append("COPY sshd_config /etc/torchenv/sshd_config")
    if options.ssh or inputs.conda:
        # login shells (SSH sessions): Debian's /etc/profile resets PATH, then reads these
        lines.append("COPY profile.sh /etc/profile.d/torchenv.sh")
    env = (
        # what `conda activate` sets; BASH_ENV: `bash -c` (docker exec) runs activate.d too
        {"CONDA_PREFIX": ENV_PREFIX, "CONDA_DEFAULT_ENV": ENV_PREFIX, "BASH_ENV": ACTIVATE}
        if inputs.conda
        else {"VIRTUAL_ENV": ENV_PREFIX}
    )
    env |= {"PATH": f"{ENV_PREFIX}/bin:$PATH", "PYTHONUNBUFFERED": "1", "TORCHENV_IMAGE": "1"}
    if stack.cuda:
        # read by the NVIDIA Container Toolkit: which GPUs and driver libraries to mount
        env["NVIDIA_VISIBLE_DEVICES"] = "all"
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    lines.append("ENV " + " \\\n    ".join(f"{k}={_env_value(v)}" for k, v in env.items()))
    labels = image_labels(stack, inputs.torchenv_version)
    lines.append("LABEL " + " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()))
    ports = [str(p) for p, on in ((JUPYTER_PORT, options.jupyter), (SSH_PORT, options.ssh)) if on]
    if ports:
        lines.append("EXPOSE " + " ".join(ports))
    lines += [
        'USER "${UID}:${GID}"',
        f"WORKDIR {WORKSPACE}",
        f'VOLUME ["{WORKSPACE}"]',
        # the quick verify imports torch and checks the versions against the lock: seconds, so
        # not every 30 s; a CUDA image on a host without GPUs reports those checks as skipped
        "HEALTHCHECK --interval=10m --timeout=5m --start-period=2m --retries=2 \\",
        f'    CMD ["torchenv", "verify", "--quick", "--prefix", "{ENV_PREFIX}"]',
        # tini is PID 1: it reaps zombies (dataloader workers) and forwards signals
        'ENTRYPOINT ["tini", "--", "/usr/local/bin/torchenv-entrypoint"]',
        f"CMD {json.dumps(['jupyter-lab'] if options.jupyter else ['bash'])}",
        "",
    ]
    return "\n".join(lines)


def _pip_build(inputs: ImageInputs) -> list[str]:
    python = inputs.stack.python
    lines = ["COPY pylock.toml /build/pylock.toml"]
    if inputs.local_wheels:
        lines.append("COPY wheels/ /build/wheels/")
    return [
        *lines,
        "# exactly the lock: every file it names, checked against its sha256, nothing else.",
        "# A private index's credentials come as the build secret netrc (`--secret",
        "# id=netrc,src=$HOME/.netrc`; `torchenv image --build` passes the spec's), mounted for",
        "# this step only: never in a layer, an ARG or a label.",
        f"RUN --mount=type=secret,id={NETRC_SECRET},required=false,target={NETRC_MOUNT} \\",
        f"    mkdir -p {PYTHON_DIR} \\",
        f"    && uv venv --python {python} {ENV_PREFIX} \\",
        f"    && NETRC={NETRC_MOUNT} uv pip sync --python {ENV_PREFIX}/bin/python \\",
        "        /build/pylock.toml",
        # the record `create` writes: verify and doctor in the container compare with the lock
        f"COPY {ENV_RECORD} {ENV_PREFIX}/{ENV_RECORD}",
        "COPY torchenv/ /build/torchenv/",
        f"RUN uv venv --python {python} {TOOL_PREFIX} \\",
        f"    && uv pip install --python {TOOL_PREFIX}/bin/python \\",
        "        --constraints /build/torchenv/constraints.txt \\",
        f"        /build/torchenv/{inputs.tool_wheel}",
    ]


def _conda_build(inputs: ImageInputs) -> list[str]:
    return conda_build_stage(
        python=inputs.stack.python,
        tool_wheel=inputs.tool_wheel,
        local_packages=inputs.local_conda_packages,
        env_prefix=ENV_PREFIX,
        tool_prefix=TOOL_PREFIX,
        netrc=(NETRC_SECRET, NETRC_MOUNT),
        lock_in_image=f"/etc/torchenv/{CONDA_LOCK}",
    )


def _env_value(value: str) -> str:
    return value if "$" in value else shlex.quote(value)


def render_dockerignore() -> str:
    """Only what the Dockerfile copies goes into the build context."""
    return (
        "# written by torchenv: the build context is this directory; send only what the\n"
        "# Dockerfile copies\n*\n!pylock.toml\n!torchenv-env.json\n!wheels/\n!torchenv/\n"
        "!entrypoint.sh\n!jupyter_server_config.py\n!sshd_config\n!profile.sh\n!conda.lock\n"
        "!conda.lock.torchenv.json\n!conda-pkgs/\n!activate.sh\n"
    )
