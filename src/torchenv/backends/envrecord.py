"""Reading an environment's ``torchenv-env.json``, the one way every command does it.

The record lies in a prefix that may be anyone's (``doctor --prefix`` of a colleague's
environment, a container's ``/opt/env``), so it is read as any file from elsewhere: a regular
file under a size cap, JSON whose depth cannot crash the parser, then every field checked by
``models.envrecord.parse_env_record``.
"""

from __future__ import annotations

import json
from pathlib import Path

from torchenv.models.envrecord import ENV_RECORD_FILE, EnvRecord, parse_env_record
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

RECORD_LIMIT = 16 << 20  # a record lists the lock's packages: kilobytes


class RecordUnusable(Exception):
    """The record exists and cannot be used; the message ends a sentence that starts with
    the file's name ("cannot be read: it is a FIFO ...", "is not JSON: ...")."""


def read_env_record(prefix: str | Path) -> EnvRecord | None:
    """The prefix's record, None when it has none."""
    path = Path(prefix) / ENV_RECORD_FILE
    try:
        text = files.read_text(path, RECORD_LIMIT)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordUnusable(f"cannot be read: {files.describe(exc)}") from None
    except UnicodeDecodeError as exc:
        raise RecordUnusable(f"cannot be read: {exc}") from None
    return parse_record_text(text)


def parse_record_text(text: str) -> EnvRecord:
    try:
        data = load_json(text)
    except ValueError as exc:
        raise RecordUnusable(f"is not JSON: {exc}") from None
    try:
        return parse_env_record(data)
    except ValueError as exc:
        raise RecordUnusable(str(exc)) from None


def write_env_record(directory: Path, record: EnvRecord) -> None:
    """Write the record into an environment being built (or a generation being switched to)."""
    text = json.dumps(record.to_data(), indent=2) + "\n"
    files.write_atomic(directory / ENV_RECORD_FILE, text.encode("utf-8"))
