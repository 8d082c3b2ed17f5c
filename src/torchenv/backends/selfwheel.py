"""torchenv's own wheel, for the image: the container runs `torchenv verify --quick` as its
HEALTHCHECK and `torchenv doctor` on demand, with the very torchenv that wrote the image.

The wheel is made from the installed package (pure Python, so one ``py3-none-any`` wheel fits
every image) and is byte-for-byte the same for the same files, so a rebuild of the image keeps
its cached layers. Its dependencies are constrained to the versions installed here
(``constraints.txt``): the image gets the torchenv that was tested with them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import zipfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from torchenv.errors import UsageError
from torchenv.i18n import Msg

DIST = "torchenv"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build time in the file
_WHEEL = "Wheel-Version: 1.0\nGenerator: torchenv\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _package_dir() -> Path:
    found = importlib.util.find_spec(DIST)
    if found is None or not found.submodule_search_locations:
        raise UsageError("torchenv-not-installed", Msg("The torchenv package cannot be found."))
    return Path(next(iter(found.submodule_search_locations)))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def write_tool_wheel(dest: Path) -> str:
    """Writes torchenv's wheel into ``dest``; returns its file name."""
    dist = importlib.metadata.distribution(DIST)
    version = dist.version
    info = f"{DIST}-{version}.dist-info"
    package = _package_dir()
    entries: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        entries.append((f"{DIST}/{path.relative_to(package).as_posix()}", path.read_bytes()))
    metadata = dist.read_text("METADATA")
    if not metadata:
        raise UsageError(
            "torchenv-metadata-missing",
            Msg("The installed torchenv {version} has no METADATA file.", version=version),
            Msg("Reinstall torchenv."),
        )
    entries.append((f"{info}/METADATA", metadata.encode("utf-8")))
    entries.append((f"{info}/WHEEL", _WHEEL.encode("ascii")))
    points = dist.read_text("entry_points.txt")
    if points:
        entries.append((f"{info}/entry_points.txt", points.encode("utf-8")))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode("utf-8")))
    name = f"{DIST}-{version}-py3-none-any.whl"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest / name, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for entry, data in entries:
            item = zipfile.ZipInfo(entry, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(item, data)
    return name


def pinned_dependencies() -> list[str]:
    """``name==version`` of every installed distribution torchenv depends on, directly or not
    (extras left out). A dependency not installed here (its marker excluded it on this
    Python) is not pinned; the image's resolver picks it."""
    pins: dict[str, str] = {}
    queue = _requirements(DIST)
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if name in pins:
            continue
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        pins[name] = version
        queue += _requirements(name)
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


def _requirements(name: str) -> list[Requirement]:
    try:
        lines = importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        out.append(requirement)
    return out
