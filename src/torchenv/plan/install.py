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

from collections.abc import Sequence

from torchenv.models.compat import PlanKnowledge
from torchenv.models.plan import InstallRecipe, PlanTarget, Stack

INDEX = "https://download.pytorch.org/whl"


def recipes(
    kb: PlanKnowledge, stack: Stack, targets: Sequence[PlanTarget], installer: str | None
) -> dict[str, InstallRecipe]:
    wanted = [installer] if installer else ["uv", "pip", "conda", "pixi"]
    out: dict[str, InstallRecipe] = {}
    for name in wanted:
        if name in ("uv", "pip"):
            out[name] = (
                _pip_like(name, stack, targets)
                if stack.channel == "pytorch-index"
                else InstallRecipe(name, unavailable="planned for conda-forge (--installer)")
            )
        else:
            missing = _conda_forge_gap(kb, stack, targets)
            out[name] = (
                InstallRecipe(name, unavailable=missing)
                if missing
                else (_conda(stack) if name == "conda" else _pixi(stack))
            )
    return out


def _label(stack: Stack, targets: Sequence[PlanTarget]) -> str:
    if all(t.platform.startswith("macos") for t in targets):
        return ""
    return f"+{stack.variant}"


def requirements(stack: Stack, targets: Sequence[PlanTarget]) -> list[str]:
    label = _label(stack, targets)
    reqs = [f"torch=={stack.torch}{label}"]
    if stack.torchvision:
        reqs.append(f"torchvision=={stack.torchvision}{label}")
    if stack.torchaudio:
        reqs.append(f"torchaudio=={stack.torchaudio}{label}")
    return reqs


def _pip_like(name: str, stack: Stack, targets: Sequence[PlanTarget]) -> InstallRecipe:
    url = f"{INDEX}/{stack.variant}"
    quoted = " ".join(f'"{r}"' for r in requirements(stack, targets))
    notes = [
        f"{url} also mirrors torch's dependencies (numpy, nvidia-* wheels), so it can be the "
        "only index"
    ]
    if not stack.torchaudio:
        notes.append(f"no torchaudio release is paired with torch {stack.torch}")
    if name == "pip":
        commands = (
            f"python{stack.python} -m venv .venv",
            f".venv/bin/python -m pip install {quoted} --index-url {url}",
        )
        return InstallRecipe(name, commands, notes=tuple(notes))
    commands = (
        f"uv venv --python {stack.python} .venv",
        f"uv pip install --python .venv {quoted} --index-url {url}",
    )
    pins = [f'"{r.split("+")[0]}"' for r in requirements(stack, targets)]
    names = [r.split("==")[0] for r in requirements(stack, targets)]
    project = "\n".join(
        [
            "[project]",
            f'requires-python = "=={stack.python.rstrip("t")}.*"',
            f"dependencies = [{', '.join(pins)}]",
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


def _conda_forge_gap(kb: PlanKnowledge, stack: Stack, targets: Sequence[PlanTarget]) -> str | None:
    builds = [b for b in kb.conda_forge_builds() if b.torch == stack.torch]
    for target in targets:
        here = [b for b in builds if b.platform == target.platform]
        if not here:
            return f"conda-forge has no pytorch {stack.torch} for {target.platform} (as recorded)"
        if stack.cuda and not any(stack.cuda in b.cuda for b in here):
            cudas = sorted({c for b in here for c in b.cuda})
            return (
                f"conda-forge builds pytorch {stack.torch} for CUDA {', '.join(cudas) or 'none'}, "
                f"not {stack.cuda} (plan with --installer conda to choose among them)"
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


def _conda(stack: Stack) -> InstallRecipe:
    specs = " ".join(f'"{s}"' for s in _conda_specs(stack))
    name = f"torch-{stack.torch}-{stack.variant}"
    return InstallRecipe(
        "conda",
        (f"conda create -n {name} --override-channels -c conda-forge {specs}",),
        notes=(
            "never add -c pytorch: its last release is 2.5.1",
            "conda-forge builds are not the PyPI wheels: pins of cuDNN/NCCL differ",
        ),
    )


def _pixi(stack: Stack) -> InstallRecipe:
    specs = " ".join(f'"{s}"' for s in _conda_specs(stack))
    commands = ["pixi init --channel conda-forge", f"pixi add {specs}"]
    files = {}
    if stack.cuda:
        files["pixi.toml"] = f'[system-requirements]\ncuda = "{stack.cuda.split(".")[0]}"\n'
    return InstallRecipe("pixi", tuple(commands), files)
