"""Ask an environment's interpreter about itself, or read its files when it does not run.

The stdlib-only ``scripts/interp_info.py`` runs inside the target interpreter and prints JSON
between random cookie lines (stray output from sitecustomize or .pth hooks is ignored). The
answer is cached, keyed on the interpreter and stamped with the interpreter binary, the script's
hash and the environment variables that change ``sys.path``; it is also invalidated when a site
directory or pyvenv.cfg changes, since a new ``.pth`` file changes ``sys.path`` too.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from torchenv.models import DecodeError, Interpreter, ProbeNote, from_data
from torchenv.probe.cache import file_stamp
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import read_bytes, read_text
from torchenv.untrusted.text import load_json

SCRIPT = Path(__file__).parent / "scripts" / "interp_info.py"
_PATH_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONUSERBASE", "HOME")
_CFG_LIMIT = 1 << 20  # pyvenv.cfg: a few lines


@cache
def script_digest(path: Path = SCRIPT) -> str:
    return hashlib.sha256(read_bytes(path, 1 << 20)).hexdigest()[:16]


def extract_payload(stdout: str, cookie: str) -> Any:
    """The JSON between the two cookie lines; ValueError when absent or malformed (nested too
    deeply included: the interpreter may print anything)."""
    parts = stdout.split(f"\n{cookie}\n")
    if len(parts) < 3:
        raise ValueError("the probe script printed no result")
    return load_json(parts[1])


def query_interpreter(ctx: ProbeContext, python: str) -> Interpreter:
    real = os.path.realpath(python)
    binary = file_stamp(Path(real))
    if binary is None:
        return Interpreter(executable=python, notes=(ProbeNote(python, "does not exist"),))
    env_part = "|".join(f"{k}={ctx.env.get(k, '')}" for k in _PATH_ENV)
    stamp = f"{real}|{binary}|{script_digest()}|{env_part}"
    cached = ctx.cache.get("interpreter", python, stamp)
    if isinstance(cached, dict) and _deps_unchanged(cached.get("deps")):
        return _from_info(cached["info"], python)

    cookie = f"--torchenv-{secrets.token_hex(8)}--"
    result = ctx.runner([python, str(SCRIPT), cookie], timeout=ctx.interpreter_timeout, env=ctx.env)
    if not result.ok:
        why = result.describe_failure()
        return Interpreter(executable=python, notes=(ProbeNote(python, f"does not run: {why}"),))
    try:
        info = extract_payload(result.stdout.replace("\r\n", "\n"), cookie)
    except ValueError as exc:
        return Interpreter(executable=python, notes=(ProbeNote(python, str(exc)),))
    deps = {p: file_stamp(Path(p)) for p in _dependency_paths(info)}
    ctx.cache.put("interpreter", python, stamp, {"info": info, "deps": deps})
    return _from_info(info, python)


def _dependency_paths(info: dict[str, Any]) -> list[str]:
    paths = [p for p in info.get("sys_path", []) if isinstance(p, str) and os.path.isdir(p)]
    prefix = info.get("prefix")
    if isinstance(prefix, str):
        paths.append(os.path.join(prefix, "pyvenv.cfg"))
    return paths


def _deps_unchanged(deps: Any) -> bool:
    if not isinstance(deps, dict):
        return False
    return all(file_stamp(Path(path)) == stamp for path, stamp in deps.items())


def _from_info(info: Any, python: str) -> Interpreter:
    """The script's JSON as an Interpreter; a malformed answer becomes a note, not a crash."""
    try:
        if not isinstance(info, dict):
            raise DecodeError("$: not an object")
        return from_data(Interpreter, {"executable": python, **info, "runs": True})
    except DecodeError as exc:
        return Interpreter(executable=python, notes=(ProbeNote(python, f"odd answer: {exc}"),))


def interpreter_from_files(prefix: Path, python: str | None, why: str) -> Interpreter:
    """What can be known of an environment whose interpreter does not run: its version from
    pyvenv.cfg, conda-meta or the lib/pythonX.Y directory, and its site-packages."""
    version = _version_from_files(prefix)
    site = [
        d
        for pattern in (
            "lib/python*/site-packages",
            "lib64/python*/site-packages",
            "Lib/site-packages",
        )
        for d in sorted(glob.glob(str(prefix / pattern)))
    ]
    if version:
        major_minor = ".".join(version.split(".")[:2])
        site = [d for d in site if "python" not in d or f"python{major_minor}" in d] or site
    return Interpreter(
        executable=python,
        version=version,
        prefix=str(prefix),
        sys_path=tuple(site),
        runs=False,
        source="files",
        notes=(ProbeNote(python or str(prefix), why),),
    )


def _version_from_files(prefix: Path) -> str | None:
    try:
        cfg = read_text(prefix / "pyvenv.cfg", _CFG_LIMIT, errors="replace")
    except OSError:  # absent, or a FIFO, a device or a huge file in its place
        cfg = ""
    match = re.search(r"^\s*version(?:_info)?\s*=\s*(\d+\.\d+(?:\.\d+)?)", cfg, re.MULTILINE)
    if match:
        return match.group(1)
    for meta in sorted(glob.glob(str(prefix / "conda-meta" / "python-3*.json"))):
        found = re.match(r"python-(\d+\.\d+\.\d+)-", os.path.basename(meta))
        if found:
            return found.group(1)
    dirs = sorted(glob.glob(str(prefix / "lib" / "python3.*")))
    if dirs:
        found = re.search(r"python(\d+\.\d+)t?$", dirs[-1])
        return found.group(1) if found else None
    return None
