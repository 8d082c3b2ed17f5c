"""The parts of an image that differ for a conda lock: its base, its build stage, and how the
environment is activated for every process.

An all-conda environment (the source documents' rule: never pip over conda) brings its own
Python and, for a CUDA build, the CUDA runtime libraries as conda packages (conda-forge's
``cuda-cudart``, ``libcublas``, ... pinned by ``cuda-version``; compat-matrix.md section 7). A
CUDA base image would hold those libraries twice, so the default base is plain Debian 12; the
driver comes from the host through the NVIDIA Container Toolkit, as for the pip path.

The build stage installs the lock with torchenv's own embedded installer (py-rattler; the
``conda_image`` module), on a Python that uv finds in the base or fetches; that stage is
discarded, so no installer, no package cache and no build Python reach the final image. Of the
ways the issue names (micromamba, pixi, py-rattler) this one needs no binary that is not already
in the build (uv is), and gives the same environment that ``torchenv create`` gives.

Activation: ``conda activate`` sets ``CONDA_PREFIX`` and ``PATH`` and sources the scripts that
packages put in ``etc/conda/activate.d`` (compilers, CUDA, GDAL set variables there). The image
sets the variables with ENV (every process, ``docker exec`` included) and sources the scripts
through /etc/torchenv/activate.sh: from the entrypoint (the command, Jupyter and its kernels),
from /etc/profile.d (login shells, SSH sessions) and through ``BASH_ENV`` (``bash -c`` from
``docker exec``).
"""

from __future__ import annotations

from torchenv.ship.base import CUDA_DEVEL_TAGS, BaseChoice

CONDA_LOCK = "conda.lock"
CONDA_SIDECAR = "conda.lock.torchenv.json"
ACTIVATE = "/etc/torchenv/activate.sh"
# Debian 12 (glibc 2.36): above the __glibc floor conda-forge builds for (2.17/2.28) and the one
# torchenv's conda locks assume (backends/conda.py, DEFAULT_GLIBC); the Docker Official Image
DEBIAN_IMAGE = "debian:bookworm-slim"
DEBIAN_DEVEL_IMAGE = "buildpack-deps:bookworm"  # gcc, make and headers: python:*-bookworm's base
INSTALLER = "/build/installer"


def choose_conda_base(
    variant: str, cuda: str | None, *, compiler: bool, base: str | None
) -> BaseChoice:
    if base is not None:
        return BaseChoice(base, has_python=False, reason="[image] base in the spec")
    if compiler and cuda is not None:
        tag = CUDA_DEVEL_TAGS.get(variant)
        if tag is None:
            known = ", ".join(sorted(CUDA_DEVEL_TAGS))
            raise ValueError(f"no nvidia/cuda devel image is known for {variant} (known: {known})")
        return BaseChoice(
            f"nvidia/cuda:{tag}",
            has_python=False,
            reason=f"compiler = true: CUDA {cuda} toolkit (nvcc, headers) for extensions and "
            "torch.compile",
        )
    if compiler:
        return BaseChoice(
            DEBIAN_DEVEL_IMAGE,
            has_python=False,
            reason="compiler = true on a CPU build: Debian 12 with gcc and headers",
        )
    why = (
        "the conda environment brings Python and the CUDA libraries, the host its driver"
        if cuda
        else "the conda environment brings Python"
    )
    return BaseChoice(DEBIAN_IMAGE, has_python=False, reason=why)


def conda_build_stage(
    *,
    python: str,
    tool_wheel: str,
    local_packages: bool,
    env_prefix: str,
    tool_prefix: str,
    netrc: tuple[str, str],
    lock_in_image: str,
) -> list[str]:
    """The build stage's instructions after ``FROM ... AS build``, SHELL and uv's COPY.
    ``netrc``: the secret's id and where it is mounted."""
    secret, mount = netrc
    installer_python = python.removesuffix("t")  # py-rattler's wheels are for the GIL build
    lines = [
        # uv's own roots verify TLS; the installer (rattler) and the final stage need the base's
        "RUN apt-get update \\",
        "    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\",
        "        ca-certificates \\",
        "    && rm -rf /var/lib/apt/lists/*",
        "COPY torchenv/ /build/torchenv/",
        "# the installer: torchenv and py-rattler on a Python of uv's; this stage only",
        f"RUN uv venv --python {installer_python} {INSTALLER} \\",
        f"    && uv pip install --python {INSTALLER}/bin/python \\",
        "        --constraints /build/torchenv/constraints.txt \\",
        f"        /build/torchenv/{tool_wheel} py-rattler",
        f"COPY {CONDA_LOCK} {CONDA_SIDECAR} /build/",
    ]
    if local_packages:
        lines.append("COPY conda-pkgs/ /build/conda-pkgs/")
    lines += [
        "# exactly the lock: every package it names, checked against its sha256, linked by",
        "# py-rattler; the lock's record must still be sealed. A private channel's credentials",
        f"# come as the build secret {secret}, mounted for this step only (rattler reads NETRC).",
        f"RUN --mount=type=secret,id={secret},required=false,target={mount} \\",
        f"    NETRC={mount} RATTLER_CACHE_DIR=/tmp/rattler \\",
        f"    {INSTALLER}/bin/python -m torchenv.backends.conda_image \\",
        f"        /build/{CONDA_LOCK} {env_prefix} --packages /build/conda-pkgs \\",
        f"        --recorded-as {lock_in_image} \\",
        "    && rm -rf /tmp/rattler",
        "# torchenv in the image (HEALTHCHECK, doctor) runs on the environment's own Python",
        f"RUN uv venv --python {env_prefix}/bin/python {tool_prefix} \\",
        f"    && uv pip install --python {tool_prefix}/bin/python \\",
        "        --constraints /build/torchenv/constraints.txt \\",
        f"        /build/torchenv/{tool_wheel}",
    ]
    return lines


def render_activate(prefix: str) -> str:
    """/etc/torchenv/activate.sh: what ``conda activate`` does for the image's environment. The
    variables every time (a login shell's /etc/profile resets PATH); the activate.d scripts once
    per process tree, since they need not be idempotent."""
    return f"""# written by torchenv: activates the conda environment {prefix} as `conda activate`
# would: sourced by the entrypoint, login shells (/etc/profile.d) and bash -c (BASH_ENV)
CONDA_PREFIX={prefix}
CONDA_DEFAULT_ENV={prefix}
export CONDA_PREFIX CONDA_DEFAULT_ENV
case ":$PATH:" in
    *":{prefix}/bin:"*) ;;
    *) PATH="{prefix}/bin:$PATH" ;;
esac
export PATH
if [ -z "${{TORCHENV_ACTIVATED:-}}" ]; then
    # the scripts are written for `conda activate`, which runs them without -e and -u; a
    # shell started with them (a RUN of an image built FROM this one) gets them back after
    torchenv_flags=$-
    set +eu
    for torchenv_script in {prefix}/etc/conda/activate.d/*.sh; do
        if [ -r "$torchenv_script" ]; then
            # shellcheck source=/dev/null
            . "$torchenv_script"
        fi
    done
    case $torchenv_flags in *e*) set -e ;; esac
    case $torchenv_flags in *u*) set -u ;; esac
    unset torchenv_script torchenv_flags
    TORCHENV_ACTIVATED=1
    export TORCHENV_ACTIVATED
fi
"""
