"""``torchenv export``: a lock (given, the spec's, or the one an environment was made from) as
requirements.txt, environment.yml or pixi.toml, for tools and people that do not run torchenv.

The lock is read once, as bytes (a regular file under a size cap), and those bytes are what is
checked (against the environment's record, the conda sidecar, the spec) and what is rendered:
py-rattler, which reads a conda lock only from a path, gets a private copy of them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from torchenv.backends import export
from torchenv.backends.conda import CONDA_LOCK_FILE, SUBDIRS, content_hash, meta_path, parse_meta
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.backends.lockfile import LOCK_LIMIT, parse_lock
from torchenv.backends.lockrecord import HASH, SUBDIR, LockRecord
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.build import ENV_RECORD_FILE
from torchenv.models.spec import LOCK_FILE
from torchenv.untrusted import files

EXPORT_SCHEMA = "torchenv.export/1"
AGAIN = Msg("Run `torchenv lock` to write it again; review the change if you did not make it.")
THE_LOCK = Msg("the lock")


@dataclass(frozen=True)
class ExportReport:
    schema: str
    format: str
    source: dict[str, str]  # kind (lock, prefix, spec), lock, sha256, and prefix for a prefix
    notes: tuple[str, ...] = ()
    text: str | None = None  # what was exported, when it goes to stdout
    out: str | None = None  # where it was written, with --out


@dataclass
class _Source:
    kind: str
    path: Path
    data: bytes | None = None  # read once; None until then
    conda: bool = False
    name: str = ""
    spec_hash: str | None = None  # the spec's, which the lock must have been made from
    platform: str | None = None  # the conda subdir an environment was made for
    detail: dict[str, str] = field(default_factory=dict)


def run_export(
    cwd: Path,
    *,
    fmt: str,
    lock_file: str | None = None,
    prefix: str | None = None,
    spec_file: str | None = None,
    out: str | None = None,
    platform: str | None = None,
    name: str | None = None,
) -> ExportReport:
    if fmt not in export.FORMATS:
        raise UsageError(
            "export-format",
            Msg("Unknown format {value}.", value=repr(fmt)),
            Msg("Use {choices}.", choices=", ".join(export.FORMATS)),
        )
    given = [o for o, v in (("LOCK", lock_file), ("--prefix", prefix), ("--spec", spec_file)) if v]
    if len(given) > 1:
        named = given[0]
        for other in given[1:]:
            named = Msg("{first} and {second}", first=named, second=other)
        raise UsageError(
            "export-source",
            Msg("{options} both name what to export.", options=named),
            Msg(
                "Give one: a lock file, an environment's --prefix, or a --spec (default: the spec "
                "in this directory)."
            ),
        )
    if prefix:
        source = _from_prefix(cwd / Path(prefix).expanduser(), prefix)
    elif lock_file:
        path = cwd / Path(lock_file).expanduser()  # an absolute path stays itself
        conda = path.name == CONDA_LOCK_FILE or meta_path(path).exists()
        source = _Source("lock", path, conda=conda, name=_default_name(path.absolute().parent))
    else:
        source = _from_spec(spec_file, cwd)
    data = source.data
    if data is None:
        data = _read(source.path, THE_LOCK, Msg("Run `torchenv lock` to write it."))
    subdir = _subdir(platform) if platform else None
    if subdir and fmt != "pixi.toml" and not source.conda:
        raise UsageError(
            "export-platform",
            Msg(
                "--platform has no effect on {format} of a pip/uv lock: its markers choose per "
                "platform.",
                format=fmt,
            ),
            Msg("Leave --platform out, or export pixi.toml."),
        )
    chosen = export.checked_name(name) if name is not None else source.name
    if source.conda:
        exported = _conda(source, data, fmt, subdir, chosen)
    else:
        exported = _pip(source, data, fmt, subdir, chosen)
    detail = {
        "kind": source.kind,
        "lock": str(source.path),
        "sha256": content_hash(data),
        **source.detail,
    }
    if out is None:
        return ExportReport(EXPORT_SCHEMA, fmt, detail, exported.notes, text=exported.text)
    target = Path(out).expanduser()
    target = target if target.is_absolute() else cwd / target
    files.write_output(target, exported.text.encode("utf-8"), what=Msg("the {format}", format=fmt))
    return ExportReport(EXPORT_SCHEMA, fmt, detail, exported.notes, out=str(target))


def _read(path: Path, what: str, hint: str) -> bytes:
    try:
        return files.read_bytes(path, LOCK_LIMIT)
    except FileNotFoundError:
        raise UsageError(
            "lock-missing",
            Msg("Cannot read {what} {path}: it does not exist.", what=what, path=path),
            hint,
        ) from None
    except OSError as exc:
        message = Msg(
            "Cannot read {what} {path}: {error}.", what=what, path=path, error=files.describe(exc)
        )
        raise UsageError("lock-unreadable", message, hint) from None


def _default_name(directory: Path) -> str:
    """A conda environment's name from a directory's: what cannot be in one made a "-"."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", directory.name).strip(".-")[:64]
    return name if export.ENV_NAME.fullmatch(name) else "torchenv-env"


def _subdir(platform: str) -> str:
    subdir = SUBDIRS.get(platform, platform)
    if not SUBDIR.fullmatch(subdir):
        raise UsageError(
            "export-platform",
            Msg("--platform {value} is not a platform.", value=repr(platform)),
            Msg(
                "Give a conda subdir (linux-64, linux-aarch64, osx-arm64, win-64) or a torchenv "
                "platform key (linux_x86_64)."
            ),
        )
    return subdir


def _from_spec(spec_file: str | None, cwd: Path) -> _Source:
    """The lock beside the spec (pylock.toml, or conda.lock for installer = "conda"), which
    must have been made from this version of the spec."""
    from torchenv.spec import load_spec, spec_directory, spec_hash  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    conda = spec.installer == "conda"
    path = spec_directory(spec, cwd) / (CONDA_LOCK_FILE if conda else LOCK_FILE)
    name = spec.name if export.ENV_NAME.fullmatch(spec.name) else _default_name(path.parent)
    return _Source("spec", path, conda=conda, name=name, spec_hash=spec_hash(spec))


def _from_prefix(prefix: Path, given: str) -> _Source:
    """The lock an environment was made from, as its record names it, refused when it is gone
    or is no longer the lock the environment was made from."""
    record_file = prefix / ENV_RECORD_FILE
    if not prefix.is_dir():
        raise UsageError(
            "prefix-missing", Msg("There is no environment directory {prefix}.", prefix=prefix)
        )
    try:
        record = read_env_record(prefix)
    except RecordUnusable as exc:
        raise UsageError(
            "env-record", Msg("{path} {problem}.", path=record_file, problem=str(exc))
        ) from None
    if record is None:
        raise UsageError(
            "env-record",
            Msg(
                "{prefix} has no {record}: it is not an environment `torchenv create` made.",
                prefix=prefix,
                record=ENV_RECORD_FILE,
            ),
            Msg("Give the lock file to export instead: torchenv export LOCK --format ..."),
        )
    path, sha = record.lock_path, record.lock_sha256
    if not path or not sha or not HASH.fullmatch(sha):
        raise UsageError(
            "env-record", Msg("{path} names no lock path and sha256.", path=record_file)
        )
    gone = Msg(
        "{prefix} was made from {lock}, which is gone: export the spec's lock, or create again.",
        prefix=prefix,
        lock=path,
    )
    data = _read(Path(path), THE_LOCK, gone)
    if content_hash(data) != sha:
        raise UsageError(
            "env-lock-changed",
            Msg(
                "{prefix} was made from {lock}, which changed since (its sha256 is not the one "
                "{record} records): an export of it would not describe this environment.",
                prefix=prefix,
                lock=path,
                record=ENV_RECORD_FILE,
            ),
            Msg(
                "Export the lock itself (torchenv export {lock} ...), or create the environment "
                "again from it.",
                lock=path,
            ),
        )
    platform = record.lock_extra.get("platform")  # the conda subdir it was made for
    return _Source(
        "prefix",
        Path(path),
        data,
        conda=record.backend == "conda",
        name=_default_name(prefix.absolute()),
        platform=platform if isinstance(platform, str) and SUBDIR.fullmatch(platform) else None,
        detail={"prefix": given},
    )


def _stale(source: _Source, record: LockRecord | None) -> None:
    """A lock found through the spec must have been made from that spec, as for create."""
    if source.spec_hash is not None and (record is None or record.spec_hash != source.spec_hash):
        raise UsageError(
            "lock-stale",
            Msg(
                "{path} was not made from the spec as it is now (the spec changed since "
                "`torchenv lock`, or another tool wrote the lock).",
                path=source.path,
            ),
            Msg("Run `torchenv lock` again, then export."),
        )


def _pip(source: _Source, data: bytes, fmt: str, subdir: str | None, name: str) -> export.Exported:
    lock = parse_lock(data, str(source.path))
    _stale(source, lock.record)
    if lock.sealed is False:
        raise UsageError(
            "lock-edited",
            Msg(
                "{path} was changed after `torchenv lock` wrote it: its content no longer "
                "matches its lock-hash.",
                path=source.path,
            ),
            AGAIN,
        )
    if fmt == "requirements.txt":
        return export.render_requirements(lock)
    if fmt == "environment.yml":
        return export.render_environment(lock, name)
    return export.render_pixi(lock, name, [subdir] if subdir else [])


def _conda(
    source: _Source, data: bytes, fmt: str, subdir: str | None, name: str
) -> export.Exported:
    if fmt == "requirements.txt":
        raise UsageError(
            "export-conda-requirements",
            Msg(
                "{path} is a conda lock: its packages are conda packages, which pip cannot "
                "install.",
                path=source.path,
            ),
            Msg("Export environment.yml or pixi.toml."),
        )
    sidecar = meta_path(source.path)
    hint = Msg("Run `torchenv lock` to write the lock and its record again.")
    locked_sha, record, sealed = parse_meta(
        _read(sidecar, Msg("the record of the conda lock"), hint), str(sidecar)
    )
    _stale(source, record)
    if sealed is False:
        raise UsageError(
            "lock-edited", Msg("{path} was changed after `torchenv lock`.", path=sidecar), AGAIN
        )
    sha = content_hash(data)
    if sha != locked_sha:
        raise UsageError(
            "lock-stale",
            Msg(
                "{path} changed since `torchenv lock` wrote it (its sha256 is not the one "
                "{record} records).",
                path=source.path,
                record=sidecar.name,
            ),
            AGAIN,
        )
    parts = _conda_parts(source.path, data)
    if fmt == "pixi.toml" and subdir is None:
        return export.render_conda_pixi(str(source.path), sha, record, parts, name)
    wanted = subdir or source.platform or _host_subdir()
    part = next((p for p in parts if p.subdir == wanted), None)
    if part is None:
        raise UsageError(
            "lock-platform",
            Msg(
                "{path} has packages for {platforms}, not for {wanted}.",
                path=source.path,
                platforms=", ".join(p.subdir for p in parts),
                wanted=wanted,
            ),
            Msg("Choose one of those with --platform."),
        )
    if fmt == "pixi.toml":
        return export.render_conda_pixi(str(source.path), sha, record, [part], name)
    return export.render_conda_environment(str(source.path), sha, record, part, name)


def _conda_parts(path: Path, data: bytes) -> list[export.CondaPlatform]:
    """Every platform of the conda lock, read by py-rattler from a private copy of the very
    bytes whose sha256 was checked."""
    from torchenv.backends.conda_rattler import read_lock  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="torchenv-export-") as tmp:
        copy = Path(tmp) / CONDA_LOCK_FILE
        copy.write_bytes(data)
        try:
            solved = read_lock(copy)
        except UsageError as exc:  # named by the copy's path: name the user's file instead
            message = _renamed(exc.message, str(copy), str(path))
            raise UsageError(exc.reference, message, exc.hint) from None
    return [
        export.CondaPlatform(s.subdir, tuple(s.packages()), tuple(s.virtual_packages))
        for s in solved
    ]


def _renamed(message: str, old: str, new: str) -> str:
    """``message`` with the path ``old`` written as ``new``; a ``Msg`` stays one (its fields
    renamed), so that it is still shown translated."""
    if not isinstance(message, Msg):
        return message.replace(old, new)
    fields = {
        key: _renamed(value, old, new)
        if isinstance(value, Msg)
        else str(value).replace(old, new)
        if isinstance(value, (str, PurePath))
        else value
        for key, value in message.fields.items()
    }
    return Msg(message.template, **fields)


def _host_subdir() -> str:
    from torchenv.backends.conda_rattler import host_subdir  # noqa: PLC0415

    return host_subdir()
