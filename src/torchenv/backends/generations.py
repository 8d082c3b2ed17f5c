"""Generations of an environment: immutable directories beside it, and the prefix a symbolic
link to the live one (the model of Nix profiles).

    .venv                              -> .venv.torchenv-generations/3
    .venv.torchenv-generations/1/      the environment as it was first made (or adopted)
    .venv.torchenv-generations/3/      the live one
    .venv.torchenv-generations/inputs/3/  the spec and lock(s) it was built from
    .venv.torchenv-generations/generations.json  verify results, switch times

Why a link: everything users rely on names the prefix, never a generation: the path they
activate, ``#!`` lines (pip's are rewritten to the prefix, uv's find it at run time), Jupyter
kernelspecs, and the paths a conda package has written into it (rattler and micromamba write
the prefix, not the build directory). A switch is one ``rename`` of a new link over the old,
atomic on POSIX: a process sees either generation, never a mix. The link is relative, so moving
the project moves the environment with it.

An environment made before generations existed is a plain directory; the first upgrade renames
it to generation 1 and puts the link in its place (two renames; a run killed between them is
completed by the next, ``recover``).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.envrecord import EnvRecord
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

SUFFIX = ".torchenv-generations"
LINK_MARK = ".torchenv-link-"
STATE_FILE = "generations.json"
STATE_SCHEMA = "torchenv.generations/1"
INPUTS = "inputs"
STATE_LIMIT = 1 << 20
DEFAULT_KEEP = 3
_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


@dataclass(frozen=True)
class Generation:
    number: int
    path: Path
    live: bool
    record: EnvRecord | None  # None: the record is missing or unusable (see problem)
    verify: str | None  # "passed", "skipped", or None when not recorded
    switched: str | None  # when it last became live
    problem: str | None = None


def store(prefix: Path) -> Path:
    """The directory holding ``prefix``'s generations."""
    return prefix.parent / f"{prefix.name}{SUFFIX}"


def checked_store(prefix: Path, create: bool = False) -> Path:
    """The store, refused unless it is a real directory of this user's (or absent): a store
    that is a link (a project can commit one) would make prune delete, and upgrade build,
    wherever it leads."""
    home = store(prefix)
    try:
        info = home.lstat()
    except FileNotFoundError:
        if create:
            home.mkdir(mode=0o755)
        return home
    if (
        stat.S_ISLNK(info.st_mode)
        or not stat.S_ISDIR(info.st_mode)
        or (hasattr(os, "getuid") and info.st_uid != os.getuid())
    ):
        raise UsageError(
            "generations-unsafe",
            Msg(
                "{store} is not a directory of yours (it is {kind}, or another user's): torchenv "
                "keeps generations only in its own directory.",
                store=home,
                kind=files.kind_of(info.st_mode),
            ),
            Msg(
                "Move {store} aside (and {prefix} if it leads into it), then run the command "
                "again.",
                store=home,
                prefix=prefix,
            ),
        )
    return home


def generation_path(prefix: Path, number: int) -> Path:
    return store(prefix) / str(number)


def live_number(prefix: Path) -> int | None:
    """The live generation: the number the prefix's link points at; None for a plain
    directory, a missing prefix, or a link torchenv did not make."""
    if not prefix.is_symlink():
        return None
    target = os.readlink(prefix)
    name, _, number = target.partition("/")
    # exactly the relative link switch() makes; an absolute one or one elsewhere is not ours
    if name != store(prefix).name or not _NUMBER.fullmatch(number):
        return None
    return int(number)


def managed(prefix: Path) -> bool:
    return live_number(prefix) is not None


def numbers(prefix: Path) -> list[int]:
    """The complete generations, oldest first (a build directory is never one: it becomes a
    generation only by its final rename)."""
    try:
        home = checked_store(prefix)
        names = [p.name for p in home.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return sorted(int(n) for n in names if _NUMBER.fullmatch(n))


def next_number(prefix: Path) -> int:
    return max([*numbers(prefix), live_number(prefix) or 0, 1]) + 1


def recover(prefix: Path) -> list[str]:
    """Finish or undo a switch a killed run left half done (call with the prefix's file lock
    held); returns what was done, for the user."""
    done = []
    links = sorted(prefix.parent.glob(glob.escape(f".{prefix.name}{LINK_MARK}") + "*"))
    if links and not (prefix.exists() or prefix.is_symlink()):
        os.replace(links.pop(), prefix)
        done.append(f"completed the switch of {prefix} that an interrupted run left")
    for link in links:
        link.unlink(missing_ok=True)
    return done


def _link(prefix: Path, number: int) -> Path:
    """A new link to generation ``number`` beside the prefix, under a temporary name."""
    target = Path(store(prefix).name) / str(number)
    while True:
        temp = prefix.parent / f".{prefix.name}{LINK_MARK}{os.urandom(4).hex()}"
        try:
            os.symlink(target, temp)
            return temp
        except FileExistsError:
            continue


def check_manageable(prefix: Path) -> None:
    """What ``make_first`` and a new generation need, checked before anything is built: a
    prefix that is a link of ours or a plain directory, and a store of ours with no
    generation 1 that the prefix does not lead to."""
    home = checked_store(prefix)
    if managed(prefix):
        return
    if prefix.is_symlink() or not prefix.is_dir():
        raise UsageError(
            "prefix-not-a-directory",
            Msg(
                "{prefix} is not an environment directory (nor a link to one of its generations).",
                prefix=prefix,
            ),
            Msg("Pass the environment's own directory as --prefix."),
        )
    if (home / "1").exists() or (home / "1").is_symlink():
        raise UsageError(
            "generations-in-the-way",
            Msg(
                "{first} exists, but {prefix} is not a link to it.", first=home / "1", prefix=prefix
            ),
            Msg("Move {store} aside, then run the command again.", store=home),
        )


def make_first(prefix: Path) -> int:
    """Turn the plain environment at ``prefix`` into generation 1 of its own store, the
    prefix then a link to it. Its contents do not move relative to each other, and every
    path written into them names the prefix, which still leads there."""
    check_manageable(prefix)
    first = checked_store(prefix, create=True) / "1"
    temp = _link(prefix, 1)
    os.replace(prefix, first)
    os.replace(temp, prefix)  # the window between the two renames is closed by recover()
    return 1


def switch(prefix: Path, number: int) -> None:
    """Make generation ``number`` live in one rename."""
    checked_store(prefix)
    if not generation_path(prefix, number).is_dir():
        raise UsageError(
            "generation-missing",
            Msg("{prefix} has no generation {number}.", prefix=prefix, number=number),
            Msg("`torchenv history` lists the generations there are."),
        )
    os.replace(_link(prefix, number), prefix)
    state = read_state(prefix)
    entry = state.setdefault(str(number), {})
    entry["switched"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_state(prefix, state)


def read_state(prefix: Path) -> dict[str, dict[str, str]]:
    """generation -> its facts (``verify``, ``switched``); what cannot be read counts as
    nothing recorded (the generations themselves are the truth, this only annotates them)."""
    try:
        data = load_json(files.read_bytes(store(prefix) / STATE_FILE, STATE_LIMIT))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA:
        return {}
    listed = data.get("generations")
    if not isinstance(listed, dict):
        return {}
    return {
        key: {k: v for k, v in value.items() if isinstance(v, str) and k in ("verify", "switched")}
        for key, value in listed.items()
        if _NUMBER.fullmatch(str(key)) and isinstance(value, dict)
    }


def write_state(prefix: Path, state: dict[str, dict[str, str]]) -> bool:
    """Best effort: the state only annotates the generations (verify results, switch times),
    so a state file that cannot be replaced (something else is in its place) must not fail
    a switch that has already happened. Returns whether it was written."""
    document = {"schema": STATE_SCHEMA, "generations": state}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    try:
        files.write_atomic(checked_store(prefix) / STATE_FILE, text.encode("utf-8"))
    except OSError:
        return False
    return True


def note_verify(prefix: Path, number: int, result: str) -> None:
    state = read_state(prefix)
    state.setdefault(str(number), {})["verify"] = result
    write_state(prefix, state)


def save_inputs(prefix: Path, number: int, inputs: dict[str, bytes]) -> None:
    """Keep the spec and lock files a generation was built from (file name -> bytes), so a
    rollback can put the project back in agreement with it."""
    folder = checked_store(prefix) / INPUTS / str(number)
    # a number can come back after a prune was killed: no file of an older generation stays
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in inputs.items():
        files.write_atomic(folder / Path(name).name, data)


def saved_inputs(prefix: Path, number: int) -> dict[str, bytes]:
    folder = store(prefix) / INPUTS / str(number)
    out = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return {}
    for path in entries:
        if path.is_symlink():  # only the files save_inputs wrote: never where a link leads
            continue
        try:
            out[path.name] = files.read_bytes(path, 64 << 20)
        except OSError:
            continue
    return out


def listing(prefix: Path) -> list[Generation]:
    """Every generation with its record and what is recorded of it, oldest first."""
    live = live_number(prefix)
    state = read_state(prefix)
    out = []
    for number in numbers(prefix):
        path = generation_path(prefix, number)
        record, problem = None, None
        try:
            record = read_env_record(path)
            if record is None:
                problem = "no torchenv record"
        except RecordUnusable as exc:
            problem = f"its record {exc}"
        facts: dict[str, Any] = state.get(str(number), {})
        out.append(
            Generation(
                number,
                path,
                number == live,
                record,
                facts.get("verify"),
                facts.get("switched"),
                problem,
            )
        )
    return out


def prune(prefix: Path, keep: int, protect: tuple[int, ...] = ()) -> list[int]:
    """Delete all but the ``keep`` newest generations; the live one and ``protect`` (the
    rollback target of the upgrade that just switched) always stay."""
    if keep < 1:
        raise UsageError(
            "bad-keep", Msg("--keep {keep}: at least the live generation is kept.", keep=keep)
        )
    home = checked_store(prefix)
    live = live_number(prefix)
    spared = {n for n in (live, *protect) if n is not None}
    old = [n for n in numbers(prefix) if n not in spared]
    kept_besides = max(keep - len(spared & set(numbers(prefix))), 0)
    doomed = old[: max(len(old) - kept_besides, 0)]
    state = read_state(prefix)
    for number in doomed:
        path = generation_path(prefix, number)
        # renamed first, so a run killed while deleting leaves no half generation behind
        aside = Path(tempfile.mkdtemp(prefix=f".{number}.torchenv-old-", dir=home))
        os.rmdir(aside)
        os.replace(path, aside)
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(home / INPUTS / str(number), ignore_errors=True)
        state.pop(str(number), None)
    if doomed:
        write_state(prefix, state)
    return doomed
