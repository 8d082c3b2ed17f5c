"""The conda backend's pure parts: the match specs of a planned stack, the virtual packages a
solve assumes, and the sidecar that carries torchenv's plan beside rattler's lock file.

What the solve runs against is conda-forge by default; the ``pytorch`` channel stopped at 2.5.1
(compat-matrix.md section 7). conda-forge chooses the CUDA build by build string (``cuda130_*``,
``cpu_*``) and pins the CUDA minor with the ``cuda-version`` package; its CUDA builds depend on
the ``__cuda`` virtual package and carry a higher build number, so a solver prefers them
whenever ``__cuda`` exists. ``__cuda`` is therefore set from the plan, not from this machine:
a CUDA lock can be made on a machine without a GPU (pixi's ``[system-requirements] cuda``
does the same), and a CPU plan gets no ``__cuda`` at all.

rattler's lock format (the one pixi writes) has no place for a tool's own fields, so torchenv's
plan (the spec's hash, variant, CUDA, driver floor, GPU code) goes into
``conda.lock.torchenv.json`` beside it, with the sha256 of the lock it describes: a lock edited
or rewritten behind torchenv's back no longer matches its sidecar and counts as stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from torchenv.backends.base import Installed
from torchenv.backends.lockrecord import LOCK_HASH, LockRecord, read_record, seal_hash
from torchenv.backends.tools import BackendError
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.plan import Stack
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

CONDA_LOCK_FILE = "conda.lock"
META_SUFFIX = ".torchenv.json"
META_SCHEMA = "torchenv.conda-lock/1"
LOCK_ENVIRONMENT = "default"  # rattler's lock holds named environments; torchenv writes one
RECORD_LIMIT = 32 << 20  # conda-meta records list every file of a package
MISSING_RATTLER = Msg("the conda backend needs py-rattler: pip install 'torchenv[conda]'")

# torchenv platform key -> conda subdir
SUBDIRS = {
    "linux_x86_64": "linux-64",
    "linux_aarch64": "linux-aarch64",
    "win_amd64": "win-64",
    "macos_arm64": "osx-arm64",
    "macos_x86_64": "osx-64",
}
# pixi's default system requirements where the targets say nothing (pixi docs, "System
# Requirements": linux 4.18, glibc 2.28, macOS 13.0); a lock then installs on any machine of
# at least that age instead of only on one like the machine that solved it
DEFAULT_LINUX = "4.18"
DEFAULT_GLIBC = "2.28"
DEFAULT_OSX = "13.0"

# a .dist-info directory a conda package installs: the Python distribution it provides
_DIST_INFO = re.compile(r"(?:^|/)site-packages/([^/]+?)-([^/-]+)\.dist-info/METADATA$")


def require_rattler() -> None:
    """py-rattler is the optional extra ``conda``: say how to get it when it is missing."""
    try:
        import rattler  # noqa: F401, PLC0415
    except ImportError:
        raise BackendError(
            "conda-backend-missing",
            MISSING_RATTLER,
            Msg('Or set installer = "uv" in the spec (and create with --backend uv or pip).'),
        ) from None


def conda_subdir(platform: str) -> str:
    try:
        return SUBDIRS[platform]
    except KeyError:
        raise UsageError(
            "conda-platform",
            Msg("The conda backend has no conda platform for {platform}.", platform=platform),
            Msg("Target {platforms}.", platforms=", ".join(SUBDIRS)),
        ) from None


def match_specs(stack: Stack, libraries: Sequence[str], packages: Sequence[str]) -> list[str]:
    """The match specs that install ``stack`` from conda-forge, in rattler's canonical form
    ("name version build"): exact pytorch with the variant's build string, the CUDA minor
    through ``cuda-version``, the domain libraries unpinned (conda-forge's builds of them
    require their own pytorch, so the pinned pytorch chooses them), then ``packages``."""
    build = f"cuda{stack.variant[2:]}*" if stack.cuda else "cpu*"
    specs = [f"python {stack.python.rstrip('t')}.*", f"pytorch =={stack.torch} {build}"]
    if stack.cuda:
        specs.append(f"cuda-version {stack.cuda}.*")
    for library in libraries:
        if getattr(stack, library, None) is None:
            raise UsageError(
                "library-not-paired",
                Msg(
                    "The spec asks for {library}, but no {library} release is paired with torch "
                    "{torch}.",
                    library=library,
                    torch=stack.torch,
                ),
                Msg(
                    "Remove {library} from `libraries` (`torchenv matrix` lists the pairings).",
                    library=library,
                ),
            )
        specs.append(library)
    return specs + [_conda_requirement(p) for p in packages]


def _conda_requirement(text: str) -> str:
    """A PEP 508 requirement of the spec's ``packages`` as a conda match spec: conda has the
    same comparison operators, but no extras and no environment markers."""
    from packaging.requirements import Requirement  # noqa: PLC0415

    requirement = Requirement(text)  # the spec validated it
    if requirement.marker is not None or requirement.extras or requirement.url:
        raise UsageError(
            "conda-package-spec",
            Msg(
                '"{requirement}" has extras, a marker or a URL, which a conda match spec cannot '
                "say.",
                requirement=text,
            ),
            Msg("Write it as a plain name and version constraint for the conda backend."),
        )
    name = requirement.name.lower()
    return f"{name} {requirement.specifier}" if requirement.specifier else name


def virtual_packages(platform: str, cuda: str | None, glibc: str | None = None) -> tuple[str, ...]:
    """The virtual packages (``name=version=build``, as rattler's lock records them) that the
    solve for ``platform`` assumes. ``cuda``: the plan's CUDA version, None for a CPU plan.
    ``glibc``: the oldest glibc of the targets when known. ``__archspec`` is the generic
    family, not this CPU's microarchitecture, so nothing that needs newer instructions than the
    targets may have is chosen."""
    subdir = conda_subdir(platform)
    system = subdir.split("-")[0]
    out = []
    if system in ("linux", "osx"):
        out.append("__unix=0=0")
    if system == "linux":
        out += [f"__linux={DEFAULT_LINUX}=0", f"__glibc={glibc or DEFAULT_GLIBC}=0"]
    elif system == "osx":
        out.append(f"__osx={DEFAULT_OSX}=0")
    else:
        out.append("__win=0=0")
    family = "x86_64" if subdir.endswith("-64") else "aarch64"
    out.append(f"__archspec=1={family}")
    if cuda and system != "osx":  # no CUDA on macOS
        out.append(f"__cuda={cuda}=0")
    return tuple(out)


def parse_virtual(text: str) -> tuple[str, str, str]:
    name, version, build = [*text.split("="), "", ""][:3]
    return name, version, build or "0"


def oldest_glibc(glibcs: Sequence[str | None]) -> str | None:
    known = [g for g in glibcs if g and re.fullmatch(r"\d+\.\d+", g)]
    return min(known, key=lambda g: tuple(int(p) for p in g.split("."))) if known else None


def meta_path(lock: Path) -> Path:
    return lock.with_name(lock.name + META_SUFFIX)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_meta(tool: dict[str, Any], lock_bytes: bytes) -> str:
    """The sidecar: the sha256 of the lock it describes and torchenv's table, sealed with a
    ``lock-hash`` over both (lockrecord.py) so that an edit of either is found."""
    tool = {k: v for k, v in tool.items() if k != LOCK_HASH}
    document = {"schema": META_SCHEMA, "lock-sha256": content_hash(lock_bytes), "tool": tool}
    tool[LOCK_HASH] = seal_hash(document, ("tool",))
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def parse_meta(data: bytes, path: str) -> tuple[str, LockRecord, bool | None]:
    """(sha256 of the lock it describes, torchenv's checked record, whether its lock-hash
    matches) from a sidecar's bytes."""
    hint = Msg("Run `torchenv lock` to write the lock and its sidecar again.")
    try:
        document = load_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            "lock-unreadable", Msg("{path} is not JSON: {error}", path=path, error=str(exc)), hint
        ) from None
    if not isinstance(document, dict) or document.get("schema") != META_SCHEMA:
        raise UsageError(
            "lock-malformed",
            Msg("{path} is not a {schema} document.", path=path, schema=META_SCHEMA),
            hint,
        )
    sha, tool = document.get("lock-sha256"), document.get("tool")
    if not isinstance(sha, str) or not isinstance(tool, dict):
        raise UsageError(
            "lock-malformed", Msg("{path} has no lock-sha256 or tool table.", path=path), hint
        )
    record = read_record(tool, path, "tool.")
    if record.lock_hash is None:
        return sha, record, None
    return sha, record, record.lock_hash == seal_hash(document, ("tool",))


def installed_files(prefix: Path) -> Iterator[list[str]]:
    """The files each readable conda-meta record of ``prefix`` lists, as POSIX paths relative
    to the prefix (records that cannot be read or list nothing are left out)."""
    for record in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            data = load_json(files.read_bytes(record, RECORD_LIMIT))
        except (OSError, ValueError):
            continue
        listed = data.get("files") if isinstance(data, dict) else None
        if isinstance(listed, list):
            yield [str(f).replace("\\", "/") for f in listed]


def python_distributions(prefix: Path) -> dict[str, str]:
    """name -> version of the Python distributions the installed conda packages provide (their
    ``.dist-info`` directories, read from the conda-meta records): what ``verify`` and
    ``doctor`` compare with site-packages, where conda names (``pytorch``) do not appear."""
    found: dict[str, str] = {}
    for listed in installed_files(prefix):
        for file in listed:
            match = _DIST_INFO.search(file)
            if match:
                found[match.group(1)] = match.group(2)
    return found


def conda_installed(
    prefix: Path, subdir: str, virtuals: Sequence[str], records: Iterable[tuple[str, str, str]]
) -> Installed:
    """What a conda install put into ``prefix``, for its record: the Python distributions the
    conda packages installed (what verify and doctor compare with site-packages, where
    ``pytorch`` is ``torch`` and libraries such as ``libstdcxx`` do not appear), and the conda
    records themselves (name, version, build) under ``conda``."""
    return Installed(
        python_distributions(prefix),
        {
            "platform": subdir,
            "virtual-packages": list(virtuals),
            "conda": {name: f"{version} {build}" for name, version, build in records},
        },
    )
