"""What ``db update`` reads from inside wheels: METADATA, torch/version.py, the arch list and
``PYTORCH_RELEASES_CODE_CC`` (``codetable``).

METADATA comes from the PEP 658 file ``<wheel url>.metadata`` when the server has one (pypi.org
serves it for many files even where the index says ``core-metadata: false``), else from the
wheel's ``*.dist-info/METADATA`` member. Everything else is read by byte ranges (``wheelzip``).
Each read is also described for the record's ``read`` list (``read_entry``): the URL, without
credentials, and what was read there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from torchenv.i18n import Msg, _, shown
from torchenv.knowledge import codetable
from torchenv.knowledge.indexes import IndexFile, IndexPages
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
    torch_requirement,
    wheel_of,
)
from torchenv.knowledge.remote import NotFound, Remote, RemoteFormatError, SourceFailure
from torchenv.knowledge.wheelzip import RemoteZip, scan_arch_flags
from torchenv.untrusted.text import strip_credentials

VERSION_PY = "torch/version.py"
LIBRARY = "torch/lib/libtorch_python.so"
_DIST_INFO_METADATA = r"[^/]+\.dist-info/METADATA"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def read_entry(url: str, role: str, items: Sequence[str]) -> dict[str, str]:
    """One row of a release's ``read`` list: ``what`` begins with the role ("linux_x86_64
    wheel"), by which a later update replaces it (``merge.merge_read``)."""
    return {"url": strip_credentials(url), "what": f"{role}: {', '.join(items)}"}


class WheelReader:
    """Reads wheels through one ``Remote``; counts the wheels it opened (``reads``)."""

    def __init__(self, remote: Remote, pypi_index: str, progress: Callable[[str], None]) -> None:
        self.remote = remote
        self.pypi_index = pypi_index
        self.progress = progress
        self.reads = 0
        self.failures: list[SourceFailure] = []  # sources that were missing; the update goes on
        self.pages = IndexPages(remote, pypi_index)  # a simple index or a flat listing
        # (project, version) -> the read entry of the domain wheel whose torch pin was read
        self.domain_reads: dict[tuple[str, str], dict[str, str]] = {}
        self._toolkit: dict[str, tuple[Metadata, dict[str, str]]] = {}
        self._toolkit_files: list[IndexFile] | None = None

    # --- single files ------------------------------------------------------------------------
    def open_zip(self, url: str) -> RemoteZip:
        self.reads += 1
        return RemoteZip(self.remote, url)

    def metadata(self, url: str, opened: RemoteZip | None = None) -> tuple[Metadata, str]:
        """The METADATA of a wheel and where it came from, in words."""
        try:
            self.reads += opened is None
            body = self.remote.get(url + ".metadata").body
            return parse_metadata(_text(body)), "METADATA (its PEP 658 .metadata file)"
        except NotFound:
            pass
        archive = opened or RemoteZip(self.remote, url)
        member = archive.find(_DIST_INFO_METADATA)
        if member is None:
            raise RemoteFormatError(url, Msg("the wheel has no *.dist-info/METADATA"))
        return parse_metadata(_text(archive.read(member.name))), "METADATA"

    def version_py(self, wheel: Wheel) -> dict[str, str | None]:
        archive = self.open_zip(wheel.file.url)
        return build_of(parse_version_py(_text(archive.read(VERSION_PY))))

    # --- a torch release ----------------------------------------------------------------------
    def torch_release(self, version: str, files: Sequence[IndexFile]) -> dict[str, Any]:
        """pypi_default, pypi_linux_x86_64 and cuda_code_cc of one release (and Requires-Python
        from METADATA, for pages that do not carry it), with the ``read`` rows of the wheels."""
        linux = pick_wheel(files, "linux_x86_64")
        if linux is None:
            problem = Msg("torch {version} has no Linux x86_64 wheel", version=version)
            raise RemoteFormatError(self.pypi_index, problem)
        self.progress(
            _("torch {version}: reading {file}").format(version=version, file=linux.file.filename)
        )
        archive = self.open_zip(linux.file.url)
        build = build_of(parse_version_py(_text(archive.read(VERSION_PY))))
        items = [VERSION_PY]
        archs: tuple[str, ...] = ()
        if build["cuda"] and LIBRARY in archive.members:
            archs = scan_arch_flags(archive.stream(LIBRARY))
            items.append(f"CUDA_ARCH_FLAGS in {LIBRARY}")
        meta, where = self.metadata(linux.file.url, archive)
        items.append(where)
        code_cc = self.code_cc(archive, version)
        if code_cc is not None:
            items.append(f"{codetable.NAME} in {codetable.MEMBER}")
        read = [read_entry(linux.file.url, "linux_x86_64 wheel", items)]
        pins = library_pins(meta)
        toolkit = toolkit_requirement(meta)
        toolkit_read = False
        if toolkit is not None:
            behind, entry = self.toolkit_pins(str(toolkit.specifier), toolkit.extras)
            toolkit_read = bool(behind)
            read += [entry] if entry else []
            for field, value in behind.items():
                pins[field] = pins[field] or value
        defaults = {"linux_x86_64": build["variant"]}
        for platform in ("linux_aarch64", "win_amd64"):
            wheel = pick_wheel(files, platform)
            if wheel is not None:
                self.progress(
                    _("torch {version}: reading {file} (version.py)").format(
                        version=version, file=wheel.file.filename
                    )
                )
                defaults[platform] = self.version_py(wheel)["variant"] or "cpu"
                read.append(read_entry(wheel.file.url, f"{platform} wheel", [VERSION_PY]))
        for platform in ("macos_arm64", "macos_x86_64"):
            if pick_wheel(files, platform) is not None:
                defaults[platform] = "cpu"  # PyPI's macOS wheels are the only macOS builds (MPS)
        facts: dict[str, Any] = {
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
        if code_cc is not None:  # torch before 2.11 has none: nothing is recorded
            facts["cuda_code_cc"] = code_cc
        facts["read"] = read
        return facts

    def code_cc(self, archive: RemoteZip, version: str) -> dict[str, dict[str, list[str]]] | None:
        """PYTORCH_RELEASES_CODE_CC of an opened torch wheel; None when it has none or it cannot
        be used (said in a progress line: the rest of the release is still recorded)."""
        member = archive.members.get(codetable.MEMBER)
        if member is None:
            return None
        where = {"version": version, "name": codetable.NAME, "member": codetable.MEMBER}
        if member.size > codetable.MAX_SOURCE:  # checked before a byte of it is read
            self.progress(
                _(
                    "torch {version}: {name} in {member} ignored: the file has {size} bytes, "
                    "over the cap"
                ).format(size=member.size, **where)
            )
            return None
        try:
            return codetable.parse_code_cc(_text(archive.read(member.name)))
        except (codetable.CodeTableError, RemoteFormatError) as exc:
            error = shown(exc.message) if isinstance(exc, RemoteFormatError) else str(exc)
            self.progress(
                _("torch {version}: {name} in {member} ignored: {error}").format(
                    error=error, **where
                )
            )
            return None

    def toolkit_pins(
        self, specifier: str, extras: set[str]
    ) -> tuple[dict[str, str | None], dict[str, str] | None]:
        """cublas/cudart of the cuda-toolkit metapackage release torch pins (``==13.0.2``), and
        the read entry of its METADATA (None when it could not be read)."""
        pinned = specifier.removeprefix("==")
        if pinned not in self._toolkit:
            if self._toolkit_files is None:
                try:
                    self._toolkit_files = self.pages.require("cuda-toolkit").files
                except NotFound as exc:  # a mirror without it: cublas/cudart stay unknown
                    self.failures.append(SourceFailure("cuda-toolkit", exc.url, exc.message))
                    self._toolkit_files = []
            wanted = Version(pinned)  # PEP 440: 13.0.2 == 13.0.2.0, the metapackage's own number
            releases = group_releases(self._toolkit_files, minimum=Version("0"))
            files = next((f for v, f in releases.items() if v == wanted), None)
            wheel = next((w for w in map(wheel_of, files or []) if w), None)
            if wheel is None:
                self.progress(
                    _(
                        "cuda-toolkit {version}: no wheel on the index; cublas/cudart unknown"
                    ).format(version=pinned)
                )
                return {}, None
            self.progress(_("cuda-toolkit {version}: reading its METADATA").format(version=pinned))
            meta, where = self.metadata(wheel.file.url)
            entry = read_entry(wheel.file.url, "cuda-toolkit wheel", [f"{where} of {pinned}"])
            self._toolkit[pinned] = meta, entry
        meta, entry = self._toolkit[pinned]
        return toolkit_pins(meta, extras), entry

    # --- torchvision / torchaudio ---------------------------------------------------------------
    def domain_pin(self, project: str, version: str, files: Sequence[IndexFile]) -> str | None:
        """The torch requirement of a domain release ("==2.13.0", ">=2.11", "" for none);
        None when it has no wheel to read."""
        wheel = pick_wheel(files, "linux_x86_64") or next(
            (w for w in map(wheel_of, files) if w), None
        )
        if wheel is None:
            return None
        self.progress(
            _("{project} {version}: reading the torch it requires").format(
                project=project, version=version
            )
        )
        meta, where = self.metadata(wheel.file.url)
        items = [f"{where} of {version} (its torch requirement)"]
        self.domain_reads[project, version] = read_entry(wheel.file.url, f"{project} wheel", items)
        return torch_requirement(meta)

    # --- download.pytorch.org variants ------------------------------------------------------------
    def variant_archs(self, wheel: Wheel) -> tuple[str, ...]:
        self.progress(_("reading the arch list of {file}").format(file=wheel.file.filename))
        archive = self.open_zip(wheel.file.url)
        if LIBRARY not in archive.members:
            return ()
        return scan_arch_flags(archive.stream(LIBRARY))


def safe_version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None
