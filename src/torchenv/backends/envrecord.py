"""Reading an environment's ``torchenv-env.json``, the one way every command does it.

The record lies in a prefix that may be anyone's (``doctor --prefix`` of a colleague's
environment, a container's ``/opt/env``), so it is read as any file from elsewhere: a regular
file under a size cap, JSON whose depth cannot crash the parser, an object at the top. Its
fields are judged by each reader (verify's version check, doctor's drift, the registry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchenv.models.build import ENV_RECORD_FILE
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

RECORD_LIMIT = 16 << 20  # a record lists the lock's packages: kilobytes


class RecordUnusable(Exception):
    """The record exists and cannot be used; the message ends a sentence that starts with
    the file's name ("cannot be read: it is a FIFO ...", "is not JSON: ...")."""


def read_env_record(prefix: str | Path) -> dict[str, Any] | None:
    """The record's JSON object, None when the prefix has none."""
    path = Path(prefix) / ENV_RECORD_FILE
    try:
        text = files.read_text(path, RECORD_LIMIT)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordUnusable(f"cannot be read: {files.describe(exc)}") from None
    except UnicodeDecodeError as exc:
        raise RecordUnusable(f"cannot be read: {exc}") from None
    try:
        data = load_json(text)
    except ValueError as exc:
        raise RecordUnusable(f"is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordUnusable("is not a JSON object")
    return data
