"""Rules on the installed packages: pairing, CUDA library sets, duplicates, NumPy ABI
(failure catalog families B, D, E1)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchenv.models import DomainLibrary, Environment, Machine, Severity, TorchBuild
from torchenv.models.environment import canonical_name
from torchenv.report import fixes
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.versions import in_spec, requirement, version

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

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


def cuda_major_of_local(local: str | None) -> str | None:
    """ "cu130" -> "13", "cu118" -> "11", "cpu" -> "cpu", None when unknown."""
    if local is None:
        return None
    if local == "cpu":
        return "cpu"
    match = re.fullmatch(r"cu(\d+)(\d)", local)
    return match.group(1) if match else None


def _domain_mismatch(lib: DomainLibrary, torch: TorchBuild) -> list[str]:
    problems = []
    if lib.requires_torch and in_spec(lib.requires_torch, torch.version) is False:
        problems.append(f"{lib.name} {lib.version} requires torch{lib.requires_torch}")
    lib_major, torch_major = cuda_major_of_local(lib.local), cuda_major_of_local(torch.local)
    if torch.local is None and torch.cuda:
        torch_major = torch.cuda.split(".")[0]
    if lib_major and torch_major and lib_major != torch_major:
        what = {"cpu": "CPU"}.get(lib_major, f"CUDA {lib_major}")
        theirs = {"cpu": "CPU"}.get(torch_major, f"CUDA {torch_major}")
        problems.append(f"{lib.name} is a {what} build ({lib.version}), torch a {theirs} build")
    return problems


def _domain_rule(f: Facts, name: str) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    lib = env.torchvision if name == "torchvision" else env.torchaudio
    if lib is None or torch is None:
        return
    problems = _domain_mismatch(lib, torch)
    if not problems:
        return
    pairing = f.kb.pairing(torch.version)
    paired = (
        (pairing.torchvision if name == "torchvision" else pairing.torchaudio) if pairing else None
    )
    if paired:
        tag = f"+{torch.local}" if torch.local else ""
        index = fixes.index_url(torch.local) if torch.local else None
        fix = tuple(fixes.pip_install(env, [f"{name}=={paired}{tag}"], index, reinstall=True))
    else:
        fix = (
            f"no {name} release is paired with torch {torch.base_version} in the knowledge "
            f"base; uninstall it ({fixes.pip_uninstall(env, [name])}) or pick a torch that has one",
        )
    yield Hit(
        f"{name} {lib.version} was built for another torch than {torch.version}: expect "
        f"'operator {name}::... does not exist' or undefined symbols",
        (*problems, f"torch {torch.version} ({torch.location})"),
        fix,
    )


@rule(
    "torchvision-torch-mismatch",
    ERROR,
    "torchvision was built for another torch version or CUDA variant",
    catalog="D1",
)
def torchvision_mismatch(f: Facts) -> Iterator[Hit]:
    yield from _domain_rule(f, "torchvision")


@rule(
    "torchaudio-torch-mismatch",
    ERROR,
    "torchaudio was built for another torch version or CUDA variant",
    catalog="D1",
)
def torchaudio_mismatch(f: Facts) -> Iterator[Hit]:
    yield from _domain_rule(f, "torchaudio")


def cuda_majors(env: Environment) -> dict[str, list[str]]:
    """CUDA major -> the NVIDIA packages built for it."""
    majors: dict[str, list[str]] = {}
    for dist in env.distributions:
        suffixed = _SUFFIXED.match(dist.name)
        if suffixed:
            majors.setdefault(suffixed.group(1), []).append(f"{dist.name} {dist.version}")
        elif dist.name in _CUDA_VERSIONED and dist.version:
            majors.setdefault(dist.version.split(".")[0], []).append(f"{dist.name} {dist.version}")
    return majors


@rule(
    "nvidia-mixed-cuda-majors",
    ERROR,
    "NVIDIA CUDA packages of two CUDA major versions in one environment",
    catalog="B4",
)
def mixed_majors(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    majors = cuda_majors(env)
    wanted = torch.cuda.split(".")[0] if torch is not None and torch.cuda else None
    foreign = sorted(m for m in majors if wanted and m != wanted)
    if len(majors) < 2 and not foreign:
        return
    evidence = [f"CUDA {m}: {', '.join(pkgs)}" for m, pkgs in sorted(majors.items())]
    if wanted:
        evidence.append(f"torch {torch.version if torch else ''} is built with CUDA {wanted}")
    names = [p.split()[0] for m in foreign for p in majors[m]]
    fix = [fixes.pip_uninstall(env, names)] if wanted else []
    if torch is not None:
        fix += fixes.pip_install(env, [f"torch=={torch.version}"], None, reinstall=True)
    yield Hit(
        "CUDA libraries of more than one CUDA major are installed; they share directories "
        "(nvidia/nccl/lib) and the last one written wins",
        tuple(evidence),
        tuple(fix),
    )


@rule(
    "file-owned-by-two-distributions",
    ERROR,
    "Two distributions installed different content at the same path",
    catalog="B3/E1",
)
def file_conflicts(f: Facts) -> Iterator[Hit]:
    conflicts = f.environment.file_conflicts
    if not conflicts:
        return
    by_owners: dict[tuple[str, ...], list[str]] = {}
    for conflict in conflicts:
        by_owners.setdefault(conflict.owners, []).append(conflict.path)
    for owners, paths in by_owners.items():
        binary = any(re.search(r"\.so(\.|$)|\.pyd$|\.dll$", p) for p in paths)
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        yield Hit(
            f"{' and '.join(owners)} both installed {len(paths)} file(s) with different content: "
            "the last one installed won, and uninstalling either breaks the other",
            (f"paths: {shown}",),
            (fixes.pip_uninstall(f.environment, list(owners)), "then reinstall the one you need"),
            severity=ERROR if binary else WARNING,
        )


@rule(
    "torch-installed-twice",
    ERROR,
    "More than one torch on sys.path (e.g. the user site shadows the environment)",
    catalog="E1",
)
def torch_twice(f: Facts) -> Iterator[Hit]:
    env = f.environment
    dists = [d for d in env.distributions if d.name == "torch"]
    copies = env.torch.copies if env.torch else ()
    if len(copies) < 2 and len(dists) < 2:
        return
    evidence = [f"torch package: {c}" for c in copies]
    evidence += [f"torch {d.version} metadata: {d.metadata_dir}" for d in dists]
    yield Hit(
        f"{max(len(copies), len(dists))} copies of torch are on sys.path; Python imports the "
        "first, pip and uv may report another",
        tuple(evidence),
        (
            "remove the copy outside the environment (e.g. `pip uninstall --user torch` or delete "
            "it from ~/.local), or set PYTHONNOUSERSITE=1",
        ),
    )


def marker_environment(env: Environment, machine: Machine) -> dict[str, str]:
    version = env.interpreter.version or ""
    platform = (env.interpreter.platform or machine.host.os).lower()
    sys_platform = (
        "win32"
        if platform.startswith("win")
        else ("darwin" if platform.startswith("macos") or machine.host.os == "darwin" else "linux")
    )
    system = {"win32": "Windows", "darwin": "Darwin"}.get(sys_platform, "Linux")
    return {
        "python_version": ".".join(version.split(".")[:2]),
        "python_full_version": version,
        "sys_platform": sys_platform,
        "platform_system": system,
        "platform_machine": machine.host.arch,
        "implementation_name": env.interpreter.implementation or "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "extra": "",
    }


def unmet_cuda_requirements(env: Environment, machine: Machine) -> list[tuple[str, str]]:
    """(requirement, what is wrong) for torch's CUDA library requirements, following
    cuda-toolkit[...] extras one level down (torch >= 2.11 pins the metapackage)."""
    torch = env.distribution("torch")
    if torch is None:
        return []
    marker_env = marker_environment(env, machine)
    problems: list[tuple[str, str]] = []
    pending: list[tuple[str, str]] = [(r, "") for r in torch.requires]
    seen: set[str] = set()
    while pending:
        text, extra = pending.pop(0)
        if not re.match(r"^\s*(nvidia|cuda)", text, re.IGNORECASE):
            continue
        req = requirement(text, {**marker_env, "extra": extra})
        if req is None:
            continue
        name = canonical_name(req.name)
        if not name.startswith(("nvidia-", "cuda-toolkit")) or name in seen:
            continue
        seen.add(name)
        dist = env.distribution(name)
        if dist is None:
            problems.append((str(req), "not installed"))
            continue
        installed = version(dist.version)
        if installed is not None and not req.specifier.contains(installed, prereleases=True):
            problems.append((str(req), f"{dist.version} is installed"))
        for wanted in sorted(req.extras):
            # cuda-toolkit lists ~60 requirements per extra; parse only this extra's
            tag = re.compile(rf"extra\s*==\s*['\"]{re.escape(wanted)}['\"]")
            pending.extend((r, wanted) for r in dist.requires if tag.search(r))
    return problems


@rule(
    "cuda-libs-do-not-match-torch",
    ERROR,
    "The installed NVIDIA CUDA libraries are missing or differ from torch's pins",
    catalog="B1/B3/F4",
)
def cuda_libs_match(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    if torch is None or not torch.cuda:
        return
    problems = unmet_cuda_requirements(env, f.machine)
    if not problems:
        return
    missing = any(why == "not installed" for _, why in problems)
    yield Hit(
        "torch's CUDA libraries are "
        + ("missing" if missing else "not the versions it was built with")
        + ": expect 'cannot open shared object file' or undefined NCCL/cuBLAS symbols",
        tuple(f"{req}: {why}" for req, why in problems),
        tuple(fixes.pip_install(env, [f"torch=={torch.version}"], None, reinstall=True)),
    )


@rule(
    "numpy2-with-numpy1-build",
    ERROR,
    "NumPy 2 is installed but torch or an extension was built against NumPy 1",
    catalog="D2",
)
def numpy_abi(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    numpy = env.distribution("numpy")
    numpy_version = version(numpy.version) if numpy else None
    if numpy_version is None or numpy_version.major < 2:
        return
    evidence = [f"numpy {numpy_version} installed"]
    culprits = []
    if torch is not None:
        old = in_spec("<2.3", torch.base_version or "") is True
        if torch.numpy_abi == "numpy1":
            evidence.append(f"{torch.arch_list_source} names only numpy.core (NumPy 1 headers)")
        if old:
            evidence.append(f"torch {torch.version}: NumPy 2 support starts with torch 2.3")
        if torch.numpy_abi == "numpy1" or old:
            culprits.append(f"torch {torch.version}")
    if env.numpy1_modules:
        evidence += [f"built with NumPy 1 headers: {m}" for m in env.numpy1_modules[:8]]
        culprits += sorted({m.split(":")[0] for m in env.numpy1_modules})
    if not culprits:
        return
    yield Hit(
        f"{', '.join(culprits)} {'was' if len(culprits) == 1 else 'were'} built against NumPy 1 "
        f"and fail with NumPy {numpy_version} ('A module that was compiled using NumPy 1.x "
        "cannot be run in NumPy 2')",
        tuple(evidence),
        (
            *fixes.pip_install(env, ["numpy<2"]),
            "or upgrade " + ", ".join(culprits) + " to releases built for NumPy 2",
        ),
    )


@rule(
    "torch-requires-other-python",
    ERROR,
    "The installed torch does not support this Python version",
    catalog="D3",
)
def torch_python(f: Facts) -> Iterator[Hit]:
    torch, interp = f.environment.distribution("torch"), f.environment.interpreter
    if torch is None or not torch.requires_python or not interp.version:
        return
    if in_spec(torch.requires_python, interp.version) is not False:
        return
    yield Hit(
        f"torch {torch.version} requires Python {torch.requires_python}, this is {interp.version}",
        (
            f"torch METADATA Requires-Python: {torch.requires_python}",
            f"interpreter: {interp.version}",
        ),
        ("recreate the environment with a supported Python (e.g. `uv venv -p 3.12`)",),
    )
