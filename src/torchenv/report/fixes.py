"""Fix commands for the installer that manages the environment (uv, pip, conda or pixi).

A pixi environment is managed by pixi; otherwise by the installer that installed torch (dist-info
``INSTALLER``); without torch, by the installer of most of its distributions; a conda prefix with
no pip-installed packages by conda. Commands never force-reinstall dependencies: a reinstall of a
named package uses ``--no-deps``, so it cannot drag in a different torch.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Sequence

from torchenv.i18n import Msg
from torchenv.models import Environment
from torchenv.models import installer_argv as argv_of
from torchenv.models.compat import split_local
from torchenv.models.indexes import pins, variant_index

_INSTALLER_NAMES = {"uv": "uv", "pip": "pip", "conda": "conda", "uv-pixi": "pixi"}
_CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def installer_of(env: Environment) -> str:
    if env.kind == "pixi":
        return "pixi"
    torch = env.distribution("torch")
    if torch is not None and torch.installer in _INSTALLER_NAMES:
        return _INSTALLER_NAMES[torch.installer]
    counts = Counter(
        _INSTALLER_NAMES[d.installer] for d in env.distributions if d.installer in _INSTALLER_NAMES
    )
    if env.conda is not None and env.conda.records and not counts:
        return "conda"
    if counts:
        return counts.most_common(1)[0][0]
    return "conda" if env.kind == "conda" else "pip"


def index_url(variant: str) -> str:
    return variant_index(variant)


def _python(env: Environment) -> str:
    return env.interpreter.executable or f"{env.prefix}/bin/python"


def conda_spec(requirement: str) -> str:
    """A PyPI requirement as a conda-forge spec: local labels dropped, names mapped."""
    match = re.match(r"^([A-Za-z0-9_.-]+)(.*)$", requirement.strip())
    if match is None:
        return requirement
    name, rest = match.groups()
    return _CONDA_NAMES.get(name.lower(), name) + re.sub(r"\+[\w.]+", "", rest)


def install(
    env: Environment,
    requirements: Sequence[str],
    index: str | None = None,
    *,
    reinstall: bool = False,
    installer: str | None = None,
) -> list[str]:
    """Commands that install ``requirements`` into this environment with its own installer.

    ``reinstall``: put the named packages back even at the same version (broken files), without
    touching their dependencies. ``index``: a PyTorch index, used by pip and uv only.
    """
    kind = installer or installer_of(env)
    reqs = list(requirements)
    if kind == "conda":
        return [conda_install(env, [conda_spec(r) for r in reqs], force=reinstall)]
    if kind == "pixi":
        steps: list[str] = []
        if index:
            setting = f'[pypi-options] extra-index-urls = ["{index}"]'
            steps.append(Msg("add to pixi.toml: {setting}", setting=setting))
        steps.append(shlex.join(argv_of.pixi_add(reqs, pypi=True)))
        return steps
    options = argv_of.index_options(None, index)
    if kind == "uv":
        argv = argv_of.uv_pip_install(
            "uv", _python(env), reqs, options=options, reinstall=reinstall
        )
    else:
        argv = argv_of.pip_install(_python(env), reqs, options=options, reinstall=reinstall)
    return [shlex.join(argv)]


def pip_uninstall(env: Environment, names: Sequence[str]) -> str:
    uv = "uv" if installer_of(env) == "uv" else None
    return shlex.join(argv_of.pip_uninstall(_python(env), names, uv))


def conda_install(
    env: Environment, specs: Sequence[str], channel: str = "conda-forge", force: bool = False
) -> str:
    if env.kind == "pixi":
        return shlex.join(argv_of.pixi_add(specs))
    return shlex.join(argv_of.conda_install(env.prefix, specs, channel, force))


def conda_remove(env: Environment, names: Sequence[str], force: bool = False) -> str:
    if env.kind == "pixi":
        return shlex.join(argv_of.pixi_remove(names))
    return shlex.join(argv_of.conda_remove(env.prefix, names, force))


def same_torch(env: Environment) -> tuple[str, str | None]:
    """(requirement, index) that install again the torch build that is installed: the
    dist-info version ("2.14.1" from PyPI, "2.7.1+cu126" from a PyTorch index) and, for a
    local label, the index that serves it."""
    dist = env.distribution("torch")
    version = dist.version if dist is not None and dist.version else None
    if version is None and env.torch is not None:
        version = env.torch.version
    _, local = split_local(version or "")
    return f"torch=={version}", index_url(local) if local else None


def torch_requirements(
    torch_version: str, variant: str | None, vision: str | None, audio: str | None
) -> list[str]:
    """Exact pins with the local tag, so a pin cannot fall back to a +cpu wheel from another
    index (PEP 440 ignores local labels in ``==`` without one; failure catalog 3.11)."""
    tag = f"+{variant}" if variant else ""
    return pins(torch_version, tag, [("torchvision", vision), ("torchaudio", audio)])
