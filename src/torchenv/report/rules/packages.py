"""Rules on the installed packages: domain-library pairing, duplicate torch, NumPy ABI, Python
support (failure catalog families D and E1)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from torchenv.i18n import N_, Msg
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
    problems: list[str] = []
    if lib.requires_torch and in_spec(lib.requires_torch, torch.version) is False:
        problems.append(
            Msg(
                "{library} {version} requires torch{spec}",
                library=lib.name,
                version=lib.version,
                spec=lib.requires_torch,
            )
        )
    lib_major, torch_major = cuda_major_of_local(lib.local), cuda_major_of_local(torch.local)
    if torch.local is None and torch.cuda:
        torch_major = torch.cuda.split(".")[0]
    if lib_major and torch_major and lib_major != torch_major:
        what = {"cpu": "CPU"}.get(lib_major, f"CUDA {lib_major}")
        theirs = {"cpu": "CPU"}.get(torch_major, f"CUDA {torch_major}")
        problems.append(
            Msg(
                "{library} is a {what} build ({version}), torch a {theirs} build",
                library=lib.name,
                what=what,
                version=lib.version,
                theirs=theirs,
            )
        )
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
            Msg(
                "no {library} release is paired with torch {version} in the knowledge base; "
                "uninstall it ({command}) or pick a torch that has one",
                library=name,
                version=torch.base_version,
                command=fixes.pip_uninstall(env, [name]),
            ),
        )
    yield Hit(
        Msg(
            "{library} {version} was built for another torch than {torch}: expect "
            "'operator {library}::... does not exist' or undefined symbols",
            library=name,
            version=lib.version,
            torch=torch.version,
        ),
        (*problems, f"torch {torch.version} ({torch.location})"),
        fix,
    )


@rule(
    "torchvision-torch-mismatch",
    ERROR,
    N_("torchvision was built for another torch version or CUDA variant"),
    catalog="D1",
)
def torchvision_mismatch(f: Facts) -> Iterator[Hit]:
    yield from _domain_rule(f, "torchvision")


@rule(
    "torchaudio-torch-mismatch",
    ERROR,
    N_("torchaudio was built for another torch version or CUDA variant"),
    catalog="D1",
)
def torchaudio_mismatch(f: Facts) -> Iterator[Hit]:
    yield from _domain_rule(f, "torchaudio")


@rule(
    "torch-installed-twice",
    ERROR,
    N_("More than one torch on sys.path (e.g. the user site shadows the environment)"),
    catalog="E1",
)
def torch_twice(f: Facts) -> Iterator[Hit]:
    env = f.environment
    dists = [d for d in env.distributions if d.name == "torch"]
    copies = env.torch.copies if env.torch else ()
    if len(copies) < 2 and len(dists) < 2:
        return
    evidence = [Msg("torch package: {path}", path=c) for c in copies]
    evidence += [
        Msg("torch {version} metadata: {path}", version=d.version, path=d.metadata_dir)
        for d in dists
    ]
    inside = env.prefix.rstrip("/") + "/"
    outside = [c for c in copies if not c.startswith(inside)]
    outside += [d.metadata_dir for d in dists if not d.metadata_dir.startswith(inside)]
    if outside:
        fix = [
            Msg(
                "remove the copy outside the environment: {command}",
                command=shlex.join(["rm", "-r", *outside]),
            )
        ]
    else:
        requirement, index = fixes.same_torch(env)
        reinstall = fixes.install(env, [requirement], index, reinstall=True)
        fix = [
            Msg("reinstall torch so that one copy remains: {command}", command=" ".join(reinstall))
        ]
    fix.append(
        Msg("or start Python with PYTHONNOUSERSITE=1 when the other copy is in the user site")
    )
    yield Hit(
        Msg(
            "{count} copies of torch are on sys.path; Python imports the first, pip and uv may "
            "report another",
            count=max(len(copies), len(dists)),
        ),
        tuple(evidence),
        tuple(fix),
    )


@rule(
    "numpy2-with-numpy1-build",
    ERROR,
    N_("NumPy 2 is installed but torch or an extension was built against NumPy 1"),
    catalog="D2",
)
def numpy_abi(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    numpy = env.distribution("numpy")
    numpy_version = version(numpy.version) if numpy else None
    if numpy_version is None or numpy_version.major < 2:
        return
    evidence = [Msg("numpy {version} installed", version=numpy_version)]
    culprits = []
    if torch is not None:
        old = in_spec("<2.3", torch.base_version or "") is True
        if torch.numpy_abi == "numpy1":
            evidence.append(
                Msg("{file} names only numpy.core (NumPy 1 headers)", file=torch.arch_list_source)
            )
        if old:
            evidence.append(
                Msg("torch {version}: NumPy 2 support starts with torch 2.3", version=torch.version)
            )
        if torch.numpy_abi == "numpy1" or old:
            culprits.append(f"torch {torch.version}")
    if env.numpy1_modules:
        evidence += [
            Msg("built with NumPy 1 headers: {module}", module=m) for m in env.numpy1_modules[:8]
        ]
        culprits += sorted({m.split(":")[0] for m in env.numpy1_modules})
    if not culprits:
        return
    names = ", ".join(culprits)
    yield Hit(
        Msg(
            "{module} was built against NumPy 1 and fails with NumPy {numpy} ('A module that was "
            "compiled using NumPy 1.x cannot be run in NumPy 2')",
            module=names,
            numpy=numpy_version,
        )
        if len(culprits) == 1
        else Msg(
            "{modules} were built against NumPy 1 and fail with NumPy {numpy} ('A module that "
            "was compiled using NumPy 1.x cannot be run in NumPy 2')",
            modules=names,
            numpy=numpy_version,
        ),
        tuple(evidence),
        (
            *fixes.install(env, ["numpy<2"]),
            Msg("or upgrade {packages} to releases built for NumPy 2", packages=names),
        ),
    )


@rule(
    "torch-requires-other-python",
    ERROR,
    N_("The installed torch does not support this Python version"),
    catalog="D3",
)
def torch_python(f: Facts) -> Iterator[Hit]:
    torch, interp = f.environment.distribution("torch"), f.environment.interpreter
    if torch is None or not torch.requires_python or not interp.version:
        return
    if in_spec(torch.requires_python, interp.version) is not False:
        return
    yield Hit(
        Msg(
            "torch {version} requires Python {spec}, this is {python}",
            version=torch.version,
            spec=torch.requires_python,
            python=interp.version,
        ),
        (
            f"torch METADATA Requires-Python: {torch.requires_python}",
            Msg("interpreter: {version}", version=interp.version),
        ),
        (Msg("recreate the environment with a supported Python (e.g. `uv venv -p 3.12`)"),),
    )
