"""conda-meta records and the channel files beside an environment.

Each ``conda-meta/<name>-<version>-<build>.json`` is a PrefixRecord (conda ``prefix_data.py``).
Parsed records are cached per file (a pytorch record lists thousands of files). A corrupt record
falls back to its file name and is reported in ``notes``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from torchenv.models import ChannelFile, Conda, CondaRecord, ProbeNote
from torchenv.probe.cache import file_stamp
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_bytes, read_text
from torchenv.untrusted.text import load_json

_RECORD_NAME = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<build>[^-]+)\.json$")
_CONDARC = ("~/.condarc", "~/.conda/.condarc", "~/.config/conda/.condarc")
# a record lists every file of its package (thousands for pytorch): a few MB at most
RECORD_LIMIT = 32 << 20
CHANNEL_FILE_LIMIT = 1 << 20  # .condarc, environment.yml


def channel_from_record(data: dict[str, object]) -> str | None:
    """ "pytorch", "conda-forge", "pypi"... from a record's channel or url field."""
    for key in ("channel", "url"):
        value = data.get(key)
        if isinstance(value, str) and value:
            url = value.rstrip("/")
            if "://" not in url:
                return url.split("/")[0] if key == "channel" else None
            parts = url.split("://", 1)[1].split("/")
            # https://conda.anaconda.org/pytorch/linux-64/pytorch-2.5.1-....conda -> "pytorch"
            if len(parts) >= 2 and parts[0].endswith(("anaconda.org", "anaconda.com")):
                return parts[1]
            return url
    return None


def parse_record(data: object, file_name: str) -> CondaRecord:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    name, version, build = data.get("name"), data.get("version"), data.get("build")
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(build, str)):
        raise ValueError("missing name, version or build")
    return CondaRecord(name, version, build, channel_from_record(data), file_name)


def read_conda_meta(ctx: ProbeContext, prefix: Path) -> Conda | None:
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        return None
    records: list[CondaRecord] = []
    notes: list[ProbeNote] = []
    try:
        names = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError as exc:
        return Conda(notes=(ProbeNote(str(meta), f"unreadable: {exc.strerror}"),))
    for file_name in names:
        path = meta / file_name
        stamp = file_stamp(path)
        cached = ctx.cache.get("conda-record", str(path), stamp or "")
        if isinstance(cached, dict) and stamp is not None:
            records.append(CondaRecord(**cached))
            continue
        try:
            record = parse_record(load_json(read_bytes(path, RECORD_LIMIT)), file_name)
        except (OSError, ValueError) as exc:
            reason = describe(exc) if isinstance(exc, OSError) else str(exc)
            notes.append(ProbeNote(str(path), f"unreadable conda record: {reason}"))
            fallback = _RECORD_NAME.match(file_name)
            if fallback:
                records.append(
                    CondaRecord(
                        fallback["name"], fallback["version"], fallback["build"], None, file_name
                    )
                )
            continue
        records.append(record)
        if stamp is not None:
            ctx.cache.put("conda-record", str(path), stamp, record.__dict__)
    return Conda(
        records=tuple(records),
        channel_files=tuple(_channel_files(ctx, prefix)),
        notes=tuple(notes),
    )


def parse_channel_file(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(channels, pytorch-related dependency specs) of an environment.yml or .condarc."""
    import yaml  # noqa: PLC0415  (only when such a file exists)

    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        return (), ()
    raw = data.get("channels") or ()
    if isinstance(raw, str):  # "channels: conda-forge" is one channel, not eleven letters
        raw = [raw]
    channels = (
        tuple(str(c) for c in raw if isinstance(c, (str, int))) if isinstance(raw, list) else ()
    )
    pins = []
    deps = data.get("dependencies") or ()
    for dep in deps if isinstance(deps, list) else ():
        if isinstance(dep, str) and re.match(r"^\s*(\w+::)?(pytorch|pytorch-cuda|torch)\b", dep):
            pins.append(dep.strip())
    return channels, tuple(pins)


def _channel_files(ctx: ProbeContext, prefix: Path) -> list[ChannelFile]:
    home = ctx.env.get("HOME")
    candidates = [prefix / ".condarc"]
    if home:
        candidates += [Path(home) / rel.removeprefix("~/") for rel in _CONDARC]
    cwd = Path(os.getcwd())
    candidates += [cwd / "environment.yml", cwd / "environment.yaml"]
    if ctx.env.get("CONDARC"):
        candidates.append(Path(ctx.env["CONDARC"]))
    files = []
    for path in dict.fromkeys(candidates):
        try:
            text = read_text(path, CHANNEL_FILE_LIMIT, errors="replace")
        except OSError:  # absent, or a FIFO, a device, a huge file: not a channel file
            continue
        try:
            channels, pins = parse_channel_file(text)
        except Exception:  # noqa: BLE001, S112  (yaml raises many types; a bad file is skipped)
            continue
        if channels or pins:
            files.append(ChannelFile(str(path), channels, pins))
    return files
