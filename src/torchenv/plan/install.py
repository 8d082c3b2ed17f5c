"""How to install exactly the planned stack, per installer.

- uv and pip: the variant's index on download.pytorch.org and exact pins with the local label
  (``torch==2.13.0+cu130``): PEP 440 lets ``==2.13.0`` match any local label, so without it an
  index holding ``+cpu`` wheels could satisfy the pin with a CPU build. macOS wheels carry no
  label. The uv project form is uv's documented one (an ``explicit`` index plus
  ``[tool.uv.sources]``), so only torch and its domain libraries come from that index.
- conda and pixi: conda-forge only. The ``pytorch`` channel's last release is 2.5.1 (S9, S11);
  the CUDA build is chosen by build string (``cuda130*``) and the ``cuda-version`` package, and
  pixi needs ``[system-requirements] cuda`` to solve CUDA builds on a machine without a GPU (S8).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from torchenv.models import installer_argv as argv_of
from torchenv.models.compat import PlanKnowledge
from torchenv.models.indexes import PYPI_INDEX, UNLABELED_RELEASES, local_label, pins, variant_index
from torchenv.models.plan import InstallRecipe, PlanTarget, Stack


def recipes(
    kb: PlanKnowledge, stack: Stack, targets: Sequence[PlanTarget], installer: str | None
) -> dict[str, InstallRecipe]:
    wanted = [installer] if installer else ["uv", "pip", "conda", "pixi"]
    out: dict[str, InstallRecipe] = {}
    for name in wanted:
        if name in ("uv", "pip"):
            out[name] = (
                _pip_like(name, stack, targets)
                if stack.channel in ("pytorch-index", "pypi")
                else InstallRecipe(
                    name, unavailable=f"planned for conda-forge (--installer {installer})"
                )
            )
        else:
            missing = _conda_forge_gap(kb, stack, targets, name)
            if missing:
                out[name] = InstallRecipe(name, unavailable=missing)
            elif name == "conda":
                out[name] = _conda(stack, kb.last_pytorch_channel_version())
            else:
                out[name] = _pixi(stack)
    return out


def requirements(stack: Stack, targets: Sequence[PlanTarget]) -> list[str]:
    """Exact pins; without a local label (models/indexes.py) the pin is still exact: the
    commands read only the variant's index."""
    platforms = [t.platform for t in targets]
    # PyPI forbids local labels: its one build per release is pinned as it is named
    label = "" if stack.channel == "pypi" else local_label(stack.torch, stack.variant, platforms)
    libraries = [("torchvision", stack.torchvision), ("torchaudio", stack.torchaudio)]
    return pins(stack.torch, label, libraries, platforms)


def _python_word(stack: Stack, targets: Sequence[PlanTarget]) -> tuple[str | None, list[str]]:
    """The Python to name in commands, or None when the targets run different ones."""
    pythons = {t.python for t in targets if t.python}
    if len(pythons) > 1:
        each = ", ".join(f"{t.python} on {t.name}" for t in targets if t.python)
        return None, [f"run the commands on each machine with its own Python ({each})"]
    return stack.python or None, []


def _pip_like(name: str, stack: Stack, targets: Sequence[PlanTarget]) -> InstallRecipe:
    pypi_only = stack.channel == "pypi"
    url = None if pypi_only else variant_index(stack.variant)
    reqs = requirements(stack, targets)
    # a paired library published on PyPI only (torchaudio 2.11.1) may be missing from the
    # variant's index, so PyPI is read too; torch and labeled libraries still come from the
    # variant's index alone, the only one with their label. uv tries the extra index (the
    # variant's) first and, with unsafe-first-match, goes on to PyPI for a missing version.
    pypi_too = url is not None and ("torchaudio", stack.torchaudio) in UNLABELED_RELEASES
    index = argv_of.index_options(PYPI_INDEX if pypi_too else None, url)
    if pypi_too and name == "uv":
        index += ["--index-strategy", "unsafe-first-match"]
    python, notes = _python_word(stack, targets)
    if url is None:
        notes.append(
            "from PyPI or its mirror alone (pip's configured index): the release's PyPI build"
            + (f", with CUDA {stack.cuda} from nvidia-* wheels" if stack.cuda else "")
        )
    elif pypi_too:
        notes.append(
            f"torchaudio {stack.torchaudio} is published on PyPI (one py3-none wheel), so PyPI "
            f"is read too; torch and torchvision come from {url} only (their local label)"
        )
    else:
        notes.append(
            f"{url} also mirrors torch's dependencies (numpy, nvidia-* wheels), so it can be "
            "the only index"
        )
    if not stack.torchaudio:
        notes.append(f"no torchaudio in this stack (none paired with torch {stack.torch})")
    windows = all(t.platform.startswith("win") for t in targets)
    if name == "pip":
        if windows:
            venv = ["py", *([f"-{python}"] if python else []), "-m", "venv", ".venv"]
            env_python = ".venv\\Scripts\\python"
        else:
            venv = argv_of.pip_venv(f"python{python or '3'}", ".venv")
            env_python = ".venv/bin/python"
        install = argv_of.pip_install(env_python, reqs, options=index)
        commands = (_shown(venv), _shown(install))
        return InstallRecipe(name, commands, notes=tuple(notes))
    commands = (
        _shown(argv_of.uv_venv("uv", python, ".venv")),
        _shown(argv_of.uv_pip_install("uv", ".venv", reqs, options=index)),
    )
    unlabeled = [f'"{r.split("+")[0]}"' for r in reqs]
    # a PyPI-only library resolves from PyPI, uv's default index in the project form
    names = [r.split("==")[0] for r in reqs if not (pypi_too and r.startswith("torchaudio=="))]
    if url is None:
        return InstallRecipe(name, commands, notes=tuple(notes))
    project = "\n".join(
        [
            "[project]",
            'name = "my-project"',
            'version = "0.1.0"',
            *([f'requires-python = "=={python.rstrip("t")}.*"'] if python else []),
            f"dependencies = [{', '.join(unlabeled)}]",
            "",
            "[[tool.uv.index]]",
            f'name = "pytorch-{stack.variant}"',
            f'url = "{url}"',
            "explicit = true",
            "",
            "[tool.uv.sources]",
            *(f'{n} = [{{ index = "pytorch-{stack.variant}" }}]' for n in names),
            "",
        ]
    )
    return InstallRecipe(name, commands, {"pyproject.toml": project}, tuple(notes))


def _conda_forge_gap(
    kb: PlanKnowledge, stack: Stack, targets: Sequence[PlanTarget], installer: str
) -> str | None:
    builds = [b for b in kb.conda_forge_builds() if b.torch == stack.torch]
    for target in targets:
        here = [b for b in builds if b.platform == target.platform]
        if not here:
            return f"conda-forge has no pytorch {stack.torch} for {target.platform} (as recorded)"
        if stack.cuda and not any(stack.cuda in b.cuda for b in here):
            cudas = sorted({c for b in here for c in b.cuda})
            return (
                f"conda-forge builds pytorch {stack.torch} for CUDA {', '.join(cudas) or 'none'}, "
                f"not {stack.cuda} (plan with --installer {installer} to choose among them)"
            )
    return None


def _conda_specs(stack: Stack) -> list[str]:
    build = f"cuda{stack.variant[2:]}*" if stack.cuda else "cpu*"
    specs = [f"python={stack.python.rstrip('t')}", f"pytorch={stack.torch}={build}"]
    if stack.cuda:
        specs.append(f"cuda-version={stack.cuda}")
    if stack.torchvision:
        specs.append("torchvision")  # conda-forge's torchvision build requires its own pytorch
    return specs


def _shown(argv: Sequence[str]) -> str:
    """A command as the user types it; Windows paths keep their backslashes unquoted."""
    return " ".join(a if "\\" in a and " " not in a else shlex.quote(a) for a in argv)


def _conda(stack: Stack, last_pytorch_channel: str) -> InstallRecipe:
    name = f"torch-{stack.torch}-{stack.variant}"
    return InstallRecipe(
        "conda",
        (_shown(argv_of.conda_create(name, _conda_specs(stack))),),
        notes=(
            f"never add -c pytorch: its last release is {last_pytorch_channel}",
            "conda-forge builds are not the PyPI wheels: pins of cuDNN/NCCL differ",
        ),
    )


def _pixi(stack: Stack) -> InstallRecipe:
    commands = ["pixi init --channel conda-forge"]
    if stack.cuda:
        # without it pixi cannot solve CUDA builds on a machine that has no GPU (no __cuda)
        major = stack.cuda.split(".")[0]
        commands.append(f"printf '\\n[system-requirements]\\ncuda = \"{major}\"\\n' >> pixi.toml")
    commands.append(_shown(argv_of.pixi_add(_conda_specs(stack))))
    return InstallRecipe("pixi", tuple(commands))
