"""Rules on the NVIDIA CUDA libraries installed from PyPI beside torch (failure catalog B1-B4)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchenv.i18n import N_, Msg
from torchenv.models import Environment, Machine, Severity
from torchenv.models.environment import canonical_name
from torchenv.report import fixes
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.versions import requirement, version

if TYPE_CHECKING:
    from packaging.requirements import Requirement

ERROR, WARNING = Severity.ERROR, Severity.WARNING

# Unsuffixed NVIDIA packages whose version major is the CUDA major (cuBLAS 13.x ships with CUDA
# 13); cuFFT/cuRAND/cuSOLVER/cuSPARSE number their libraries differently and are left out.
_CUDA_VERSIONED = frozenset(
    {
        "nvidia-cuda-runtime",
        "nvidia-cuda-nvrtc",
        "nvidia-cuda-cupti",
        "nvidia-cuda-nvcc",
        "nvidia-nvjitlink",
        "nvidia-cublas",
        "cuda-toolkit",
    }
)
_SUFFIXED = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")


def marker_environment(env: Environment, machine: Machine) -> dict[str, str]:
    """PEP 508 marker values of the environment's interpreter on this machine."""
    python = env.interpreter.version or ""
    platform = (env.interpreter.platform or machine.host.os).lower()
    if platform.startswith("win"):
        sys_platform = "win32"
    elif platform.startswith("macos") or machine.host.os == "darwin":
        sys_platform = "darwin"
    else:
        sys_platform = "linux"
    return {
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python,
        "sys_platform": sys_platform,
        "platform_system": {"win32": "Windows", "darwin": "Darwin"}.get(sys_platform, "Linux"),
        "platform_machine": machine.host.arch,
        "implementation_name": env.interpreter.implementation or "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "extra": "",
    }


@dataclass(frozen=True)
class CudaRequirement:
    text: str  # as torch (or cuda-toolkit) states it, e.g. "nvidia-nccl-cu13==2.30.7"
    name: str
    installed: str | None  # the installed version, None when missing
    met: bool


def torch_cuda_requirements(env: Environment, machine: Machine) -> list[CudaRequirement]:
    """torch's requirements on NVIDIA/CUDA packages that apply here, following cuda-toolkit[...]
    extras one level down (torch >= 2.11 pins that metapackage), with what is installed."""
    torch = env.distribution("torch")
    if torch is None:
        return []
    markers = marker_environment(env, machine)
    found: list[CudaRequirement] = []
    pending: list[tuple[str, str]] = [(r, "") for r in torch.requires]
    seen: set[str] = set()
    while pending:
        text, extra = pending.pop(0)
        if not re.match(r"^\s*(nvidia|cuda)", text, re.IGNORECASE):
            continue
        req = requirement(text, {**markers, "extra": extra})
        if req is None:
            continue
        name = canonical_name(req.name)
        if not name.startswith(("nvidia-", "cuda-toolkit")) or name in seen:
            continue
        seen.add(name)
        dist = env.distribution(name)
        if dist is None:
            found.append(CudaRequirement(_text(req), name, None, False))
            continue
        installed = version(dist.version)
        met = installed is not None and req.specifier.contains(installed, prereleases=True)
        found.append(CudaRequirement(_text(req), name, dist.version, met))
        for wanted in sorted(req.extras):
            # cuda-toolkit lists ~60 requirements per extra; parse only this extra's
            tag = re.compile(rf"extra\s*==\s*['\"]{re.escape(wanted)}['\"]")
            pending.extend((r, wanted) for r in dist.requires if tag.search(r))
    return found


def _text(req: Requirement) -> str:
    """The requirement without its marker: ``cuda-toolkit[cudart,nvrtc]==13.0.3``."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def _required_by_others(env: Environment, name: str) -> list[str]:
    """Distributions other than NVIDIA's own and torch that require ``name``."""
    users = []
    for dist in env.distributions:
        if dist.name == "torch" or dist.name.startswith(("nvidia-", "cuda-")):
            continue
        names = {
            canonical_name(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0]) for r in dist.requires
        }
        if name in names:
            users.append(dist.name)
    return users


def _and(names: Sequence[str]) -> str:
    """``a and b and c``, each ``and`` translated (a chain of messages)."""
    joined = names[0] if names else ""
    for name in names[1:]:
        joined = Msg("{first} and {second}", first=joined, second=name)
    return joined


def cuda_majors(env: Environment) -> dict[str, list[str]]:
    """CUDA major -> the NVIDIA packages built for it."""
    majors: dict[str, list[str]] = {}
    for dist in env.distributions:
        suffixed = _SUFFIXED.match(dist.name)
        if suffixed:
            majors.setdefault(suffixed.group(1), []).append(dist.name)
        elif dist.name in _CUDA_VERSIONED and dist.version:
            majors.setdefault(dist.version.split(".")[0], []).append(dist.name)
    return majors


def _restore_torch_libraries(f: Facts) -> list[str]:
    """Put torch's own CUDA packages back (files of a shared directory were overwritten)."""
    reqs = [r.text for r in torch_cuda_requirements(f.environment, f.machine)]
    return fixes.install(f.environment, reqs, reinstall=True) if reqs else []


@rule(
    "nvidia-mixed-cuda-majors",
    ERROR,
    N_("NVIDIA CUDA packages of two CUDA major versions in one environment"),
    catalog="B4",
)
def mixed_majors(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    majors = cuda_majors(env)
    wanted = torch.cuda.split(".")[0] if torch is not None and torch.cuda else None
    foreign = sorted(m for m in majors if wanted and m != wanted)
    if len(majors) < 2 and not foreign:
        return
    evidence = [f"CUDA {m}: {', '.join(names)}" for m, names in sorted(majors.items())]
    fix: list[str] = []
    if wanted and torch is not None:
        evidence.append(
            Msg("torch {version} is built with CUDA {major}", version=torch.version, major=wanted)
        )
        names = [n for m in foreign for n in majors[m]]
        kept = {n: _required_by_others(env, n) for n in names}
        removable = [n for n in names if not kept[n]]
        if removable:
            fix.append(fixes.pip_uninstall(env, removable))
        fix += [
            Msg("keep {package}: {users} require(s) it", package=n, users=", ".join(users))
            for n, users in kept.items()
            if users
        ]
        fix += _restore_torch_libraries(f)
    else:
        fix.append(Msg("keep the CUDA major your packages need and uninstall the other set"))
    yield Hit(
        Msg(
            "CUDA libraries of more than one CUDA major are installed; they share directories "
            "(nvidia/nccl/lib) and the last one written wins"
        ),
        tuple(evidence),
        tuple(fix),
    )


@rule(
    "file-owned-by-two-distributions",
    ERROR,
    N_("Two distributions installed different content at the same path"),
    catalog="B3/E1",
)
def file_conflicts(f: Facts) -> Iterator[Hit]:
    env = f.environment
    by_owners: dict[tuple[str, ...], list[str]] = {}
    for conflict in env.file_conflicts:
        by_owners.setdefault(conflict.owners, []).append(conflict.path)
    if not by_owners:
        return  # (parsing torch's requirements costs the packaging import)
    pinned = {r.name for r in torch_cuda_requirements(env, f.machine)}
    for owners, paths in by_owners.items():
        binary = any(re.search(r"\.so(\.|$)|\.pyd$|\.dll$", p) for p in paths)
        listed = ", ".join(paths[:3])
        shown = (
            Msg("paths: {paths} and {count} more", paths=listed, count=len(paths) - 3)
            if len(paths) > 3
            else Msg("paths: {paths}", paths=listed)
        )
        keep = [o for o in owners if o in pinned]
        if len(keep) == 1:
            others = [o for o in owners if o != keep[0]]
            fix = [fixes.pip_uninstall(env, others), *_restore_torch_libraries(f)]
        else:
            reinstalls = [" ".join(fixes.install(env, [o], reinstall=True)) for o in owners]
            fix = [
                Msg(
                    "uninstall the one you do not need, then reinstall the other to restore its "
                    "files: {commands}",
                    commands=" / ".join(reinstalls),
                )
            ]
        yield Hit(
            Msg(
                "{packages} both installed {count} file(s) with different content: the last one "
                "installed won, and uninstalling either breaks the other",
                packages=_and(owners),
                count=len(paths),
            ),
            (shown,),
            tuple(fix),
            severity=ERROR if binary else WARNING,
        )


@rule(
    "cuda-libs-do-not-match-torch",
    ERROR,
    N_("The installed NVIDIA CUDA libraries are missing or differ from torch's pins"),
    catalog="B1/B3/F4",
)
def cuda_libs_match(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    if torch is None or not torch.cuda:
        return
    unmet = [r for r in torch_cuda_requirements(env, f.machine) if not r.met]
    if not unmet:
        return
    missing = any(r.installed is None for r in unmet)
    yield Hit(
        Msg(
            "torch's CUDA libraries are missing: expect 'cannot open shared object file' or "
            "undefined NCCL/cuBLAS symbols"
        )
        if missing
        else Msg(
            "torch's CUDA libraries are not the versions it was built with: expect 'cannot open "
            "shared object file' or undefined NCCL/cuBLAS symbols"
        ),
        tuple(
            Msg("{requirement}: {version} is installed", requirement=r.text, version=r.installed)
            if r.installed
            else Msg("{requirement}: not installed", requirement=r.text)
            for r in unmet
        ),
        tuple(fixes.install(env, [r.text for r in unmet])),
    )
