"""Rules on the installed packages: domain-library pairing, duplicate torch, NumPy ABI, Python
support (failure catalog families D and E1)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from torchenv.models import DomainLibrary, Severity, TorchBuild
from torchenv.models.compat import variant_cuda
from torchenv.report import fixes
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.versions import in_spec, version

ERROR = Severity.ERROR


def cuda_major_of_local(local: str | None) -> str | None:
    """ "cu130" -> "13", "cu118" -> "11", "cpu" -> "cpu", None when unknown."""
    if local == "cpu":
        return "cpu"
    cuda = variant_cuda(local)
    return cuda.split(".")[0] if cuda else None


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
        fix = tuple(fixes.install(env, [f"{name}=={paired}{tag}"], index))
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
    inside = env.prefix.rstrip("/") + "/"
    outside = [c for c in copies if not c.startswith(inside)]
    outside += [d.metadata_dir for d in dists if not d.metadata_dir.startswith(inside)]
    if outside:
        fix = [f"remove the copy outside the environment: {shlex.join(['rm', '-r', *outside])}"]
    else:
        requirement, index = fixes.same_torch(env)
        reinstall = fixes.install(env, [requirement], index, reinstall=True)
        fix = ["reinstall torch so that one copy remains: " + " ".join(reinstall)]
    fix.append("or start Python with PYTHONNOUSERSITE=1 when the other copy is in the user site")
    yield Hit(
        f"{max(len(copies), len(dists))} copies of torch are on sys.path; Python imports the "
        "first, pip and uv may report another",
        tuple(evidence),
        tuple(fix),
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
            *fixes.install(env, ["numpy<2"]),
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
