"""Fix commands for the installer the environment actually uses (uv, pip, conda or pixi).

An environment is treated as managed by the installer that installed its torch (dist-info
``INSTALLER``); without torch, by the installer of most of its distributions; a conda prefix
without pip-installed packages by conda.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence

from torchenv.models import Environment

PYTORCH_INDEX = "https://download.pytorch.org/whl"
_INSTALLER_NAMES = {"uv": "uv", "pip": "pip", "conda": "conda", "uv-pixi": "pixi"}


def installer_of(env: Environment) -> str:
    torch = env.distribution("torch")
    if torch is not None and torch.installer in _INSTALLER_NAMES:
        return _INSTALLER_NAMES[torch.installer]
    counts = Counter(
        _INSTALLER_NAMES[d.installer] for d in env.distributions if d.installer in _INSTALLER_NAMES
    )
    if env.kind == "pixi":
        return "pixi"
    if env.conda is not None and env.conda.records and not counts:
        return "conda"
    if counts:
        return counts.most_common(1)[0][0]
    return "conda" if env.kind == "conda" else "pip"


def index_url(variant: str) -> str:
    return f"{PYTORCH_INDEX}/{variant}"


def _python(env: Environment) -> str:
    return env.interpreter.executable or f"{env.prefix}/bin/python"


def pip_install(
    env: Environment,
    requirements: Sequence[str],
    index: str | None = None,
    reinstall: bool = False,
) -> list[str]:
    """Commands that install PyPI requirements into this environment with its own installer."""
    kind = installer_of(env)
    reqs = list(requirements)
    if kind == "uv":
        argv = ["uv", "pip", "install", "--python", _python(env)]
        argv += ["--reinstall"] if reinstall else []
        argv += [*reqs, *(["--index-url", index] if index else [])]
        return [shlex.join(argv)]
    if kind == "pixi":
        steps = []
        if index:
            steps.append(f'add to pixi.toml: [pypi-options] extra-index-urls = ["{index}"]')
        steps.append(shlex.join(["pixi", "add", "--pypi", *reqs]))
        return steps
    argv = [_python(env), "-m", "pip", "install"]
    argv += ["--force-reinstall"] if reinstall else []
    argv += [*reqs, *(["--index-url", index] if index else [])]
    return [shlex.join(argv)]


def pip_uninstall(env: Environment, names: Sequence[str]) -> str:
    if installer_of(env) == "uv":
        return shlex.join(["uv", "pip", "uninstall", "--python", _python(env), *names])
    return shlex.join([_python(env), "-m", "pip", "uninstall", "-y", *names])


def conda_install(env: Environment, specs: Sequence[str], channel: str = "conda-forge") -> str:
    if installer_of(env) == "pixi":
        return shlex.join(["pixi", "add", *specs])
    return shlex.join(["conda", "install", "-p", env.prefix, "-c", channel, *specs])


def torch_requirements(
    torch_version: str, variant: str | None, vision: str | None, audio: str | None
) -> list[str]:
    """Exact pins with the local tag, so a pin cannot fall back to a +cpu wheel from another
    index (PEP 440 ignores local labels in ``==`` without one; failure catalog 3.11)."""
    tag = f"+{variant}" if variant else ""
    reqs = [f"torch=={torch_version}{tag}"]
    if vision:
        reqs.append(f"torchvision=={vision}{tag}")
    if audio:
        reqs.append(f"torchaudio=={audio}{tag}")
    return reqs
