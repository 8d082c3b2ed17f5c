"""Pure facts of torch releases from index file lists, wheel tags, METADATA and version.py.

Nothing here reads the network: ``update`` fetches and passes the bytes in.
"""

from __future__ import annotations

import ast
import email.parser
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from torchenv.knowledge.indexes import IndexFile, variant_of_local

PLATFORMS = ("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64")
MINIMUM = Version("1.13.0")  # the knowledge base covers torch from 1.13.0 on (data/README.md)
# PEP 600: the legacy manylinux names are aliases of these glibc versions.
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"^(manylinux1|manylinux2010|manylinux2014|manylinux_(\d+)_(\d+))_")


@dataclass(frozen=True)
class Wheel:
    file: IndexFile
    version: Version
    platform: str | None  # one of PLATFORMS, None for others (pure-Python wheels included)
    pythons: frozenset[str]  # "3.11", "3.14t" (free-threaded)
    glibc: tuple[int, int] | None

    @property
    def variant(self) -> str:
        return variant_of_local(self.version.local)


def platform_of(tag: str) -> str | None:
    if tag.endswith("_x86_64") and ("linux" in tag):
        return "linux_x86_64"
    if tag.endswith("_aarch64") and "linux" in tag:
        return "linux_aarch64"
    if tag == "win_amd64":
        return "win_amd64"
    if tag.startswith("macosx_") and tag.endswith("_arm64"):
        return "macos_arm64"
    if tag.startswith("macosx_") and tag.endswith("_x86_64"):
        return "macos_x86_64"
    return None


def is_legacy_manylinux(tag: str) -> bool:
    """manylinux1/2010/2014 tags: torch's wheels with them need more than the alias promises
    (GLIBC_2.17 symbols in the manylinux1 2.6.0 wheel; data/sources.json S14)."""
    return tag.startswith(("manylinux1_", "manylinux2010_", "manylinux2014_"))


def glibc_of(tag: str) -> tuple[int, int] | None:
    match = _MANYLINUX.match(tag)
    if match is None:
        return None
    if match.group(2):
        return int(match.group(2)), int(match.group(3))
    return _LEGACY_MANYLINUX[match.group(1)]


def wheel_of(file: IndexFile) -> Wheel | None:
    if not file.filename.endswith(".whl"):
        return None
    try:
        _, version, _, tags = parse_wheel_filename(file.filename)
    except ValueError:
        return None
    platforms = {platform_of(t.platform) for t in tags}
    pythons = set()
    for tag in tags:
        match = re.fullmatch(r"cp(\d)(\d+)", tag.interpreter)
        if match:
            free = tag.abi.endswith("t") and tag.abi.startswith("cp")
            pythons.add(f"{match.group(1)}.{match.group(2)}" + ("t" if free else ""))
    # the tags of one file are alternatives (a compressed tag set): the oldest glibc applies
    floors = [g for g in (glibc_of(t.platform) for t in tags) if g]
    return Wheel(
        file=file,
        version=version,
        platform=next(iter(platforms)) if len(platforms) == 1 else None,
        pythons=frozenset(pythons),
        glibc=min(floors) if floors else None,
    )


def python_key(text: str) -> tuple[int, int, bool]:
    major, minor = text.rstrip("t").split(".")
    return int(major), int(minor), text.endswith("t")


def group_releases(
    files: Iterable[IndexFile], minimum: Version = MINIMUM
) -> dict[Version, list[IndexFile]]:
    """Final releases from ``minimum`` on (no pre-, dev- or local versions), oldest first."""
    groups: dict[Version, list[IndexFile]] = defaultdict(list)
    for file in files:
        version = file.version
        if version is None or version.is_prerelease or version.is_devrelease or version.local:
            continue
        if version >= minimum:
            groups[version].append(file)
    return dict(sorted(groups.items()))


def index_facts(files: Sequence[IndexFile]) -> dict[str, Any]:
    """What a release's file list says: first upload (UTC date), yanked, Requires-Python, the
    CPython versions with a wheel per platform, the glibc the Linux x86_64 wheels need."""
    uploads = sorted(f.upload_time for f in files if f.upload_time)
    requires = Counter(f.requires_python for f in files if f.requires_python)
    python: dict[str, set[str]] = defaultdict(set)
    glibc: list[tuple[int, int]] = []
    for wheel in filter(None, map(wheel_of, files)):
        if wheel.platform:
            python[wheel.platform].update(wheel.pythons)
        if wheel.platform == "linux_x86_64" and wheel.glibc:
            glibc.append(wheel.glibc)
    return {
        # PEP 700 times are UTC ("...Z"); the date is the first 10 characters
        "released": uploads[0][:10] if uploads else None,
        "yanked": bool(files) and all(f.yanked for f in files),
        "requires_python": requires.most_common(1)[0][0] if requires else None,
        "python": {p: sorted(python[p], key=python_key) for p in PLATFORMS if python.get(p)},
        # one wheel per Python version; the newest floor among them is what every one runs on
        "glibc": "{}.{}".format(*max(glibc)) if glibc else None,
    }


def pick_wheel(files: Sequence[IndexFile], platform: str) -> Wheel | None:
    """The one wheel read for a platform: the CPython 3.11 build where there is one (every torch
    release from 1.13 to 2.15 has it), else the newest CPython, a GIL build before a free-threaded
    one (their METADATA and version.py are the same across Python versions)."""
    wheels = [w for w in map(wheel_of, files) if w and w.platform == platform and w.pythons]

    def key(wheel: Wheel) -> tuple[bool, bool, int, int]:
        best = max(wheel.pythons, key=lambda p: (not p.endswith("t"), python_key(p)))
        major, minor, free = python_key(best)
        return "3.11" in wheel.pythons, not free, major, minor

    return max(wheels, key=key) if wheels else None


# --- METADATA -------------------------------------------------------------------------------
_LINUX_X86_64 = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
_PINNED = {  # Requires-Dist name (cu1x suffix removed) -> field
    "nvidia-cudnn": "cudnn",
    "nvidia-nccl": "nccl",
    "nvidia-cublas": "cublas",
    "nvidia-cuda-runtime": "cudart",
}


@dataclass(frozen=True)
class Metadata:
    requires_python: str | None
    requires: tuple[Requirement, ...]


def parse_metadata(text: str) -> Metadata:
    """The core metadata fields used here (METADATA is an RFC 822 header block)."""
    headers = email.parser.Parser().parsestr(text, headersonly=True)
    requires = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            requires.append(Requirement(line))
        except InvalidRequirement:
            continue
    requires_python = headers.get("Requires-Python")
    return Metadata(str(requires_python).strip() if requires_python else None, tuple(requires))


def _applies(req: Requirement, extra: str = "", python: str = "3.11") -> bool:
    if req.marker is None:
        return not extra
    env = {**_LINUX_X86_64, "extra": extra, "python_version": python}
    env["python_full_version"] = python + ".0"
    try:
        return bool(req.marker.evaluate(env))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def exact_pin(req: Requirement) -> str | None:
    """The version of ``==X`` (``==X.*`` gives X: the NVIDIA metapackage pins a release series)."""
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==":
        return None
    return specs[0].version.removesuffix(".*")


def resolved_pin(req: Requirement) -> str | None:
    """The version a resolver installs for a pin: ``==X``, or X of an inclusive upper bound
    ``>=A,<=X`` (torch 2.12.0 requires ``nvidia-cublas<=13.1.1.3,>=13.1.0.3``; it gets X)."""
    exact = exact_pin(req)
    if exact is not None:
        return exact
    uppers = [s.version for s in req.specifier if s.operator == "<="]
    return uppers[0] if len(uppers) == 1 and "*" not in uppers[0] else None


def library_pins(meta: Metadata) -> dict[str, str | None]:
    """cudnn/nccl/cublas/cudart from a torch METADATA for Linux x86_64 (null when not pinned)."""
    pins: dict[str, str | None] = dict.fromkeys(_PINNED.values())
    for req in meta.requires:
        base = re.sub(r"-cu\d+$", "", canonicalize_name(req.name))
        if base in _PINNED and _applies(req):
            pins[_PINNED[base]] = resolved_pin(req)
    return pins


def toolkit_requirement(meta: Metadata) -> Requirement | None:
    """The ``cuda-toolkit[...]==X`` metapackage torch pins from 2.11 on, if any."""
    for req in meta.requires:
        if canonicalize_name(req.name) == "cuda-toolkit" and _applies(req) and exact_pin(req):
            return req
    return None


def toolkit_pins(meta: Metadata, extras: Iterable[str]) -> dict[str, str | None]:
    """cublas/cudart as the metapackage pins them for the extras torch asks for."""
    pins: dict[str, str | None] = {}
    for req in meta.requires:
        base = re.sub(r"-cu\d+$", "", canonicalize_name(req.name))
        field = _PINNED.get(base)
        if field in ("cublas", "cudart") and any(_applies(req, e) for e in extras):
            pins.setdefault(field, resolved_pin(req))
    return pins


def torch_pin(meta: Metadata) -> str | None:
    """The ``torch==X`` a torchvision/torchaudio release requires (None when not exact)."""
    for req in meta.requires:
        if canonicalize_name(req.name) == "torch" and _applies(req):
            pin = exact_pin(req)
            return pin if pin and "*" not in pin else None
    return None


def torch_requirement(meta: Metadata) -> str:
    """The torch specifier a domain release requires, "" when it names no torch."""
    for req in meta.requires:
        if canonicalize_name(req.name) == "torch" and _applies(req):
            return str(req.specifier)
    return ""


# --- torch/version.py -------------------------------------------------------------------------
def parse_version_py(source: str) -> dict[str, str | None]:
    """Module-level string/None literals (``x = '1'`` and ``x: T = '1'``; both formats exist)."""
    values: dict[str, str | None] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return values
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and isinstance(value, ast.Constant)):
            continue
        if value.value is None or isinstance(value.value, str):
            values[target.id] = value.value
    return values


def build_of(version_py: dict[str, str | None]) -> dict[str, str | None]:
    """variant ("cu130", "cpu"), cuda and git_version of a build from its version.py."""
    version = version_py.get("__version__") or ""
    local = version.split("+", 1)[1] if "+" in version else None
    cuda = version_py.get("cuda")
    if local:
        variant = variant_of_local(local)
    elif cuda:
        variant = "cu" + cuda.replace(".", "")  # builds without a local tag name the CUDA only
    else:
        variant = "cpu"
    return {"variant": variant, "cuda": cuda, "git_version": version_py.get("git_version")}
