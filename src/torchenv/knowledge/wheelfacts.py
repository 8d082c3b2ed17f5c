"""What ``db update`` reads from inside wheels: METADATA, torch/version.py and the arch list.

METADATA comes from the PEP 658 file ``<wheel url>.metadata`` when the server has one (pypi.org
serves it for many files even where the index says ``core-metadata: false``), else from the
wheel's ``*.dist-info/METADATA`` member. Everything else is read by byte ranges (``wheelzip``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from torchenv.knowledge.indexes import IndexFile, fetch_files
from torchenv.knowledge.releases import (
    Metadata,
    Wheel,
    build_of,
    group_releases,
    library_pins,
    parse_metadata,
    parse_version_py,
    pick_wheel,
    toolkit_pins,
    toolkit_requirement,
    torch_pin,
    wheel_of,
)
from torchenv.knowledge.remote import NotFound, Remote, RemoteFormatError, SourceFailure
from torchenv.knowledge.wheelzip import RemoteZip, scan_arch_flags

VERSION_PY = "torch/version.py"
LIBRARY = "torch/lib/libtorch_python.so"
_DIST_INFO_METADATA = r"[^/]+\.dist-info/METADATA"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class WheelReader:
    """Reads wheels through one ``Remote``; counts the wheels it opened (``reads``)."""

    def __init__(self, remote: Remote, pypi_index: str, progress: Callable[[str], None]) -> None:
        self.remote = remote
        self.pypi_index = pypi_index
        self.progress = progress
        self.reads = 0
        self.failures: list[SourceFailure] = []  # sources that were missing; the update goes on
        self._toolkit: dict[str, Metadata] = {}
        self._toolkit_files: list[IndexFile] | None = None

    # --- single files ------------------------------------------------------------------------
    def open_zip(self, url: str) -> RemoteZip:
        self.reads += 1
        return RemoteZip(self.remote, url)

    def metadata(self, url: str, opened: RemoteZip | None = None) -> Metadata:
        try:
            self.reads += opened is None
            return parse_metadata(_text(self.remote.get(url + ".metadata").body))
        except NotFound:
            pass
        archive = opened or RemoteZip(self.remote, url)
        member = archive.find(_DIST_INFO_METADATA)
        if member is None:
            raise RemoteFormatError(url, "the wheel has no *.dist-info/METADATA")
        return parse_metadata(_text(archive.read(member.name)))

    def version_py(self, wheel: Wheel) -> dict[str, str | None]:
        archive = self.open_zip(wheel.file.url)
        return build_of(parse_version_py(_text(archive.read(VERSION_PY))))

    # --- a torch release ----------------------------------------------------------------------
    def torch_release(self, version: str, files: Sequence[IndexFile]) -> dict[str, Any]:
        """pypi_default and pypi_linux_x86_64 of one release (and Requires-Python from
        METADATA, for pages that do not carry it)."""
        linux = pick_wheel(files, "linux_x86_64")
        if linux is None:
            raise RemoteFormatError(self.pypi_index, f"torch {version} has no Linux x86_64 wheel")
        self.progress(f"torch {version}: reading {linux.file.filename}")
        archive = self.open_zip(linux.file.url)
        build = build_of(parse_version_py(_text(archive.read(VERSION_PY))))
        archs: tuple[str, ...] = ()
        if build["cuda"] and LIBRARY in archive.members:
            archs = scan_arch_flags(archive.stream(LIBRARY))
        meta = self.metadata(linux.file.url, archive)
        pins = library_pins(meta)
        toolkit = toolkit_requirement(meta)
        toolkit_read = False
        if toolkit is not None:
            behind = self.toolkit_pins(str(toolkit.specifier), toolkit.extras)
            toolkit_read = bool(behind)
            for field, value in behind.items():
                pins[field] = pins[field] or value
        defaults = {"linux_x86_64": build["variant"]}
        for platform in ("linux_aarch64", "win_amd64"):
            wheel = pick_wheel(files, platform)
            if wheel is not None:
                self.progress(f"torch {version}: reading {wheel.file.filename} (version.py)")
                defaults[platform] = self.version_py(wheel)["variant"] or "cpu"
        for platform in ("macos_arm64", "macos_x86_64"):
            if pick_wheel(files, platform) is not None:
                defaults[platform] = "cpu"  # PyPI's macOS wheels are the only macOS builds (MPS)
        return {
            "requires_python": meta.requires_python,
            "toolkit_read": toolkit_read,
            "pypi_default": defaults,
            "pypi_linux_x86_64": {
                "variant": build["variant"],
                "cuda": build["cuda"],
                "archs": list(archs),
                "git_version": build["git_version"],
                **pins,
            },
        }

    def toolkit_pins(self, specifier: str, extras: set[str]) -> dict[str, str | None]:
        """cublas/cudart of the cuda-toolkit metapackage release torch pins (``==13.0.2``)."""
        pinned = specifier.removeprefix("==")
        if pinned not in self._toolkit:
            if self._toolkit_files is None:
                try:
                    self._toolkit_files = fetch_files(self.remote, self.pypi_index, "cuda-toolkit")
                except NotFound as exc:  # a mirror without it: cublas/cudart stay unknown
                    self.failures.append(SourceFailure("cuda-toolkit", exc.url, exc.message))
                    self._toolkit_files = []
            wanted = Version(pinned)  # PEP 440: 13.0.2 == 13.0.2.0, the metapackage's own number
            releases = group_releases(self._toolkit_files, minimum=Version("0"))
            files = next((f for v, f in releases.items() if v == wanted), None)
            wheel = next((w for w in map(wheel_of, files or []) if w), None)
            if wheel is None:
                self.progress(
                    f"cuda-toolkit {pinned}: no wheel on the index; cublas/cudart unknown"
                )
                return {}
            self.progress(f"cuda-toolkit {pinned}: reading its METADATA")
            self._toolkit[pinned] = self.metadata(wheel.file.url)
        return toolkit_pins(self._toolkit[pinned], extras)

    # --- torchvision / torchaudio ---------------------------------------------------------------
    def domain_pin(self, project: str, version: str, files: Sequence[IndexFile]) -> str | None:
        wheel = pick_wheel(files, "linux_x86_64") or next(
            (w for w in map(wheel_of, files) if w), None
        )
        if wheel is None:
            return None
        self.progress(f"{project} {version}: reading the torch it requires")
        return torch_pin(self.metadata(wheel.file.url))

    # --- download.pytorch.org variants ------------------------------------------------------------
    def variant_archs(self, wheel: Wheel) -> tuple[str, ...]:
        self.progress(f"reading the arch list of {wheel.file.filename}")
        archive = self.open_zip(wheel.file.url)
        if LIBRARY not in archive.members:
            return ()
        return scan_arch_flags(archive.stream(LIBRARY))


def safe_version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None
