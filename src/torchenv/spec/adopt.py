"""``torchenv adopt``, the pure part: the facts probed from an environment made by hand -> the spec
that rebuilds it, and every distribution it cannot pin with the reason.

The spec pins torch's release and variant (``torch``, ``cuda``), names the domain libraries (the
plan pairs them with torch) and pins every other distribution (``packages``), torch's own
dependencies included, so that uv resolves them to what was installed. Left out: the venv's
tooling (pip, setuptools, wheel) unless something requires it, and the CUDA wheels that torch
requires (nvidia-*, triton, cuda-toolkit), which torch's own pins bring back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.compat import split_local, variant_cuda
from torchenv.models.environment import CondaRecord, Distribution, Environment, canonical_name
from torchenv.models.spec import Spec, SpecIndex
from torchenv.plan.targets import python_of_version
from torchenv.untrusted.text import strip_credentials

LIBRARIES = ("torchvision", "torchaudio")
STACK = frozenset({"torch", *LIBRARIES})
TOOLING = frozenset({"pip", "setuptools", "wheel"})
# a PEP 503 canonical name: what else came out of METADATA (a newline, an escape) is not one
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_RELEASE = re.compile(r"\d+\.\d+\.\d+")
_CUDA = re.compile(r"(\d{2})\.(\d)(?:\.\d+)?")  # torch.version.cuda: "12.8", "13.0"
_PYTHON = re.compile(r"3\.\d{1,2}t?")
# the CUDA pieces of torch's own requirements (left to torch's pins when torch requires them)
_CUDA_PIECE = re.compile(
    r"nvidia-.+|triton|pytorch-triton(?:-.+)?|cuda-(?:toolkit|bindings|pathfinder)"
)
# without torch's Requires-Dist (unreadable metadata) only the names alone can tell: the
# nvidia-* and triton wheels are torch's, nvidia-ml-py (NVML bindings) is a user's choice
_CUDA_WHEEL = re.compile(r"nvidia-(?!ml-py$).+|triton|pytorch-triton(?:-.+)?")
# conda packages whose Python distribution has another name
_CONDA_ALIASES = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch"}
_UNPLANNED = 'which torchenv does not plan (CPU and CUDA builds only): cuda = "auto"'


@dataclass(frozen=True)
class DirectOrigin:
    """Where a distribution came from, as its ``direct_url.json`` (PEP 610) says."""

    url: str
    kind: str  # "vcs", "directory" or "archive"
    vcs: str | None = None  # "git", "hg", ...
    editable: bool = False


@dataclass(frozen=True)
class Adoption:
    spec: Spec
    torch: str | None  # the installed build, "2.13.0+cpu"
    variant: str | None  # "cpu", "cu130"; None when the build does not tell
    unpinned: tuple[str, ...]  # "name: why it could not be pinned"
    notes: tuple[str, ...]


def spec_name(prefix: str) -> str:
    """A spec name from the environment's directory ("/srv/.venv" -> "venv")."""
    base = re.split(r"[\\/]", prefix.rstrip("/\\"))[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.") or "adopted"


def lock_differences(
    adoption: Adoption, installed: Mapping[str, str], locked: Mapping[str, str]
) -> list[str]:
    """Where the lock does not give back what was installed (``installed``: name -> version):
    a library the plan pairs with another release, a pin the resolver could not keep."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    lock = {canonical_name(name): version for name, version in locked.items()}
    lock.setdefault("torch", lock.get("pytorch", ""))  # a conda lock names torch as conda does
    pins = dict(pin.partition("==")[::2] for pin in adoption.spec.packages)
    wanted = {"torch": adoption.torch or "", **pins}
    wanted.update((lib, installed.get(lib) or "") for lib in adoption.spec.libraries)
    notes = []
    for name, version in sorted(wanted.items()):
        got = lock.get(canonical_name(name))
        try:
            mine, theirs = Version(version), Version(got or "0")
        except InvalidVersion:
            continue
        if not got:
            notes.append(f"{name} {version} is installed, but the lock has no {name}")
        elif mine != (theirs if mine.local else Version(theirs.public)):
            # a build without a label is the same release as the lock's +cuXYZ of it
            notes.append(f"{name}: {version} is installed, the lock has {got}")
    return notes


def adopt_spec(
    env: Environment,
    name: str,
    index: SpecIndex | None = None,
    origins: Mapping[str, DirectOrigin] | None = None,
) -> Adoption:
    """The spec that rebuilds ``env``. ``origins``: the direct_url.json of distributions that
    have one, by canonical name (read by the caller; the probe keeps only the URL)."""
    # the distribution Python imports for each name is the first on sys.path
    first = {dist.name: dist for dist in reversed(env.distributions)}
    torch_dist = first.get("torch")
    if torch_dist is None and env.torch is None:
        raise UsageError(
            "adopt-no-torch",
            Msg("There is no torch in {p}, so there is no PyTorch stack to adopt.", p=env.prefix),
            Msg("Install torch into it first, or start a new project with `torchenv init`."),
        )
    unpinned: list[str] = []
    notes: list[str] = []
    installed = env.torch.version if env.torch is not None else None
    installed = installed or (torch_dist.version if torch_dist is not None else None)
    torch, cuda, variant = _torch_choice(env, installed or "", unpinned, notes)
    python = _python(env, notes)
    # torch came from conda: a pytorch record in conda-meta, or its INSTALLER says conda
    records = env.conda.records if env.conda is not None else ()
    conda = any(r.name in _CONDA_ALIASES for r in records) or (
        torch_dist is not None and torch_dist.installer == "conda"
    )
    conda_names = _conda_dist_names(records, set(first))
    packages = _packages(env, first, conda_names if conda else None, origins or {}, unpinned, notes)
    _conda_leftovers(env, conda_names, conda, unpinned, notes)
    spec = Spec(
        name=name,
        python=python,
        torch=torch,
        cuda=cuda,
        libraries=tuple(lib for lib in LIBRARIES if lib in first or getattr(env, lib)),
        packages=tuple(sorted(packages)),
        installer="conda" if conda else "uv",
        index=index or SpecIndex(),
    )
    return Adoption(spec, installed, variant, tuple(unpinned), tuple(notes))


def _packages(
    env: Environment,
    first: Mapping[str, Distribution],
    conda_names: Mapping[str, str] | None,
    origins: Mapping[str, DirectOrigin],
    unpinned: list[str],
    notes: list[str],
) -> list[str]:
    """``name==version`` of every distribution the spec pins in ``packages``; ``conda_names``
    (conda package -> distribution) when the spec's installer is conda."""
    markers = marker_environment(env)
    owned = _torch_owned(first, markers)
    # setuptools stays when something installed requires it (torch does on Python 3.12+)
    needed = {
        name
        for dist in first.values()
        if dist.name not in TOOLING
        for name, _ in _requirements(dist, markers)
    }
    conda_of = {dist: record for record, dist in (conda_names or {}).items()}
    packages: list[str] = []
    left_to_torch: list[str] = []
    left_tooling: list[str] = []
    for dist in sorted(first.values(), key=lambda d: d.name):
        if dist.name in STACK:
            continue
        if dist.name in TOOLING and dist.name not in needed:
            left_tooling.append(dist.name)
        elif dist.name in owned:
            left_to_torch.append(dist.name)
        elif (
            conda_names is not None
            and dist.installer != "conda"
            and dist.name not in conda_names.values()
        ):
            unpinned.append(
                f"{_shown(dist.name)}: installed by {_shown(dist.installer or 'pip')} "
                "into a conda environment, and a conda spec pins conda packages only"
            )
        elif (why := _why_not_pinned(dist, origins.get(dist.name))) is not None:
            unpinned.append(f"{_shown(dist.name)}: {why}")
        else:
            record = conda_of.get(dist.name, dist.name)  # conda's name in a conda spec
            packages.append(f"{record if _NAME.fullmatch(record) else dist.name}=={dist.version}")
    if left_tooling:
        notes.append(
            f"left out the environment's own tooling ({', '.join(left_tooling)}): nothing "
            "installed requires it"
        )
    if left_to_torch:
        shown = ", ".join(left_to_torch[:4]) + (", ..." if len(left_to_torch) > 4 else "")
        notes.append(f"left {len(left_to_torch)} CUDA package(s) to torch's own pins ({shown})")
    return packages


def _shown(text: str) -> str:
    """Text read from the environment's files, on one line and inert: a newline, a terminal
    escape or a bidi override in a name from METADATA is shown as its escape (``\\x1b``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _torch_choice(
    env: Environment, installed: str, unpinned: list[str], notes: list[str]
) -> tuple[str | None, str, str | None]:
    """(the spec's torch, its cuda, the variant) of the installed build."""
    public, local = split_local(installed)
    torch = f"=={public}" if _RELEASE.fullmatch(public) else None
    if torch is None:
        unpinned.append(
            f"torch: version {installed!r} is not a release (a pre-release or a source build): "
            "the spec lets the plan choose the newest release"
        )
    build = env.torch
    if local is not None:
        if local == "cpu" or local.startswith("cpu."):  # 2.5/2.6 "cpu.cxx11.abi"
            return torch, "cpu", "cpu"
        cuda = variant_cuda(local)
        if cuda is not None and _CUDA.fullmatch(cuda):
            return torch, cuda, local
        unpinned.append(f"torch: the {_shown(local)} build, {_UNPLANNED}")
        return torch, "auto", _shown(local)
    version = build.cuda if build is not None else None
    match = _CUDA.fullmatch(version or "")
    if match:
        # a default build from PyPI (or conda): the CUDA of its version.py names the variant
        return torch, f"{match.group(1)}.{match.group(2)}", f"cu{match.group(1)}{match.group(2)}"
    if build is not None and (build.hip or build.xpu):
        unpinned.append(f"torch: a {'ROCm' if build.hip else 'XPU'} build, {_UNPLANNED}")
        return torch, "auto", None
    records = env.conda.records if env.conda is not None else ()
    # conda's pytorch builds: "cpu_mkl_py311_..." (conda-forge), "py3.11_cpu_0" (pytorch)
    if any(r.name == "pytorch" and "cpu" in r.build.split("_") for r in records):
        return torch, "cpu", "cpu"
    notes.append(
        'the torch build names no CUDA version and no variant: cuda = "auto" lets the plan '
        "choose for the machine that locks"
    )
    return torch, "auto", None


def _python(env: Environment, notes: list[str]) -> str | None:
    interpreter = env.interpreter
    python = python_of_version(interpreter.version, interpreter.gil_disabled)
    if python is None or not _PYTHON.fullmatch(python):
        notes.append("the interpreter's version could not be read: the plan chooses the Python")
        return None
    if interpreter.implementation not in (None, "cpython"):
        notes.append(
            f"the interpreter is {_shown(interpreter.implementation)}: the spec asks for "
            f"CPython {python}, the only Python that torch builds for"
        )
    return python


def marker_environment(env: Environment) -> dict[str, str]:
    """PEP 508 marker values of the environment's interpreter (what Requires-Dist markers are
    evaluated against), from what the probe read; the rest as on this host."""
    from packaging.markers import default_environment  # noqa: PLC0415

    values = {k: str(v) for k, v in default_environment().items()}
    interpreter = env.interpreter
    if interpreter.version and re.fullmatch(r"\d+\.\d+\.\d+", interpreter.version):
        values["python_full_version"] = interpreter.version
        values["python_version"] = interpreter.version.rpartition(".")[0]
    system, _, machine = (interpreter.platform or "").partition("-")
    if system == "linux" and machine:
        values.update(sys_platform="linux", platform_system="Linux", platform_machine=machine)
    values["implementation_name"] = interpreter.implementation or values["implementation_name"]
    return values


def _requirements(
    dist: Distribution, markers: Mapping[str, str], extras: Iterable[str] = ()
) -> list[tuple[str, frozenset[str]]]:
    """(name, extras) of the requirements of ``dist`` that apply here. A requirement that does
    not parse is skipped; one whose marker cannot be evaluated counts as applying."""
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    found = []
    for text in dist.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is not None:
            try:
                applies = any(
                    marker.evaluate({**markers, "extra": extra}) for extra in ("", *extras)
                )
            except ValueError:
                applies = True
            if not applies:
                continue
        found.append((canonical_name(requirement.name), frozenset(requirement.extras)))
    return found


def _torch_owned(first: Mapping[str, Distribution], markers: Mapping[str, str]) -> set[str]:
    """The installed CUDA pieces that torch and its libraries require (with their extras, as
    torch 2.14 requires ``cuda-toolkit[cublas,...]``), followed through their own needs."""
    roots = [first[name] for name in sorted(STACK) if name in first]
    if not any(dist.requires for dist in roots):
        return {name for name in first if _CUDA_WHEEL.fullmatch(name)}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[tuple[str, frozenset[str]]] = [(d.name, frozenset()) for d in roots]
    reached: set[str] = set()
    while queue:
        item = queue.pop()
        if item in seen or item[0] not in first:
            continue
        seen.add(item)
        reached.add(item[0])
        queue += _requirements(first[item[0]], markers, item[1])
    return {name for name in reached if _CUDA_PIECE.fullmatch(name)}


def _why_not_pinned(dist: Distribution, origin: DirectOrigin | None) -> str | None:
    """Why ``name==version`` cannot bring this distribution back, or None when it can."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    if not _NAME.fullmatch(dist.name):
        return "not a valid distribution name in its metadata"
    if origin is not None or dist.direct_url is not None or dist.editable:
        return _direct_reason(dist, origin)
    if not dist.version:
        return "its metadata has no version" + (f" ({dist.error})" if dist.error else "")
    try:
        version = Version(dist.version)
    except InvalidVersion:
        return f"version {dist.version!r} is not a PEP 440 version"
    if version.local is not None:
        return (
            f"version {dist.version} is a local build (+{version.local}), which package "
            "indexes do not serve"
        )
    return None


def _direct_reason(dist: Distribution, origin: DirectOrigin | None) -> str:
    url = strip_credentials(origin.url if origin is not None else dist.direct_url or "")
    shown = _shown(url)
    if (origin is not None and origin.editable) or dist.editable:
        return f"an editable install of {shown} (a working copy, not a release)"
    if origin is not None and origin.kind == "vcs":
        return f"installed from {origin.vcs or 'a VCS'} {shown}, which no package index serves"
    if url.startswith("file:"):
        kind = "directory" if origin is not None and origin.kind == "directory" else "file"
        return f"installed from the local {kind} {shown}"
    return f"installed from the URL {shown}, not from a package index"


def _conda_dist_names(records: Iterable[CondaRecord], dists: set[str]) -> dict[str, str]:
    """conda package name -> the Python distribution it installed, for the records that are
    Python distributions (conda-forge spells some otherwise: msgpack-python, matplotlib-base)."""
    found = {}
    for record in records:
        name = canonical_name(record.name)
        for candidate in (
            _CONDA_ALIASES.get(name, name),
            name.removesuffix("-python"),
            name.removeprefix("python-"),
            name.removesuffix("-base"),
        ):
            if candidate in dists:
                found[record.name] = candidate
                break
    return found


def _conda_leftovers(
    env: Environment,
    conda_names: Mapping[str, str],
    conda: bool,
    unpinned: list[str],
    notes: list[str],
) -> None:
    """conda packages that are not Python distributions: a conda spec leaves them to the
    solver (they come with what is pinned); a uv environment cannot hold them at all."""
    records = env.conda.records if env.conda is not None else ()
    others = [r for r in records if r.name not in conda_names and r.name != "python"]
    if conda:
        if others:
            notes.append(
                f"{len(others)} conda package(s) that are not Python distributions (libraries, "
                "tools) are left to the conda solver"
            )
        channel = next((r.channel for r in records if r.name in _CONDA_ALIASES), None)
        if channel and "conda-forge" not in channel:
            notes.append(
                f"pytorch came from {_shown(strip_credentials(channel))}; the spec plans it "
                "from conda-forge, whose builds differ"
            )
        return
    for record in others:
        name, version = _shown(canonical_name(record.name)), _shown(record.version)
        unpinned.append(
            f"{name}: a conda package ({version}), not a Python distribution, which a uv "
            "environment cannot hold"
        )
