"""Which environment a GPU process runs in, from /proc: the labels of
``torchenv_gpu_process_memory_used_bytes`` (models.monitor.PROCESS_LABELS).

Everything here is read from processes of other users, who control their environment, their
``argv[0]`` and the files of their prefixes. So every file is read through
``torchenv.untrusted.files`` (regular files only, size-capped: a FIFO planted as a record must
not hang the exporter), directory scans are bounded, undecodable bytes are replaced, and every
value that becomes a label loses its control characters and is cut to ``LABEL_LIMIT``.
Whatever cannot be read is "": permission denied on another user's /proc/PID/environ and
/proc/PID/exe is the normal case for an exporter that does not run as root.

The prefix is, in this order (what ``sys.prefix`` of the process is, best evidence first):

1. ``argv[0]`` from /proc/PID/cmdline when it is an absolute path whose parent's parent holds
   ``pyvenv.cfg`` or ``conda-meta/``. CPython derives ``sys.prefix`` from the path it was
   started by (Modules/getpath.py looks for pyvenv.cfg beside the executable and one level up),
   not from the resolved binary, and a shebang line puts the interpreter's absolute path
   there. cmdline is world-readable, unlike environ and exe.
2. ``VIRTUAL_ENV``, then ``CONDA_PREFIX``, from /proc/PID/environ (NUL-separated).
3. The parent's parent of /proc/PID/exe when it holds pyvenv.cfg or conda-meta/. The link is
   resolved, so it finds conda environments and ``venv --copies``, but not a symlinked venv
   (its bin/python resolves to the base interpreter).

Paths are those of the process's mount namespace, read from the exporter's: a process in
another container shows a prefix the exporter may not see (torch is then "").
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterable
from pathlib import Path

from torchenv.models.envrecord import ENV_RECORD_FILE, parse_env_record
from torchenv.untrusted import files
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, load_json

LABEL_LIMIT = 200  # characters of one label value
ENVIRON_LIMIT = 256 << 10  # Linux caps argv+envp at 1/4 of the stack limit; 256 KiB is ample
CMDLINE_LIMIT = 64 << 10
RECORD_LIMIT = 4 << 20  # a torchenv-env.json lists a lock's packages: kilobytes
SCAN_LIMIT = 20_000  # directory entries looked at per directory (a planted huge site-packages)
CACHE_LIMIT = 4096

_ENV_VARIABLES = (b"VIRTUAL_ENV", b"CONDA_PREFIX")
# "torch-2.13.0+cu130.dist-info": the wheel's dist-info directory (PEP 427/PEP 491 name)
_TORCH_DIST = re.compile(r"torch-(?P<version>[0-9][^-/]*)\.dist-info")
_DELETED = " (deleted)"  # what readlink of /proc/PID/exe appends once the binary is removed

Identity = tuple[str, str, str, str]  # (process, environment, torch, variant)
_NOTHING: Identity = ("", "", "", "")


def label_value(text: str) -> str:
    """``text`` fit for a Prometheus label of a value from outside: no control characters
    (line breaks and bidirectional overrides included), at most ``LABEL_LIMIT`` characters."""
    return UNSAFE_IN_A_LINE.sub("", text)[:LABEL_LIMIT].strip()


def process_environment(pid: int, proc: Path = Path("/proc")) -> Identity:
    """(process name, environment prefix, torch version, variant) of process ``pid``; ""
    for each that cannot be told."""
    base = proc / str(pid)
    name = _read_text(base / "comm", 4096).strip()
    prefix = _prefix_from_argv0(base) or _prefix_from_environ(base) or _prefix_from_exe(base)
    torch, variant = torch_of_prefix(Path(prefix)) if prefix else ("", "")
    return label_value(name), label_value(prefix), label_value(torch), label_value(variant)


def torch_of_prefix(prefix: Path) -> tuple[str, str]:
    """(torch version, variant) of the environment at ``prefix``: from its torchenv-env.json,
    else from the name of torch's dist-info directory; ("", "") when neither tells."""
    version, plan_variant = _from_record(prefix)
    if not version:
        version = _from_dist_info(prefix)
    local = version.partition("+")[2]  # PEP 440 local label: "2.13.0+cu130" -> "cu130"
    return version, local or plan_variant


def _read_bytes(path: Path, limit: int) -> bytes:
    """The first ``limit`` bytes of a regular file; b"" when it is anything else or unreadable.
    One read: /proc/PID/environ and cmdline fill the whole buffer in one (fs/proc/base.c loops
    over the pages until the count is met)."""
    try:
        return files.read_prefix(path, limit)
    except OSError:
        return b""


def _read_text(path: Path, limit: int) -> str:
    return _read_bytes(path, limit).decode("utf-8", "replace")


def _is_prefix(path: Path) -> bool:
    try:
        return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()
    except OSError:
        return False


def _prefix_of_interpreter(executable: str) -> str:
    """The prefix of an interpreter at ``<prefix>/bin/python``, when that is one."""
    if not executable.startswith("/") or "\0" in executable:
        return ""
    prefix = Path(executable).parent.parent
    return str(prefix) if _is_prefix(prefix) else ""


def _prefix_from_argv0(base: Path) -> str:
    data = _read_bytes(base / "cmdline", CMDLINE_LIMIT)
    argv0 = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return _prefix_of_interpreter(argv0)


def _prefix_from_environ(base: Path) -> str:
    data = _read_bytes(base / "environ", ENVIRON_LIMIT)
    entries = data.split(b"\0")
    if len(data) >= ENVIRON_LIMIT:
        entries = entries[:-1]  # cut by the cap: its value may be a truncated path
    found: dict[bytes, bytes] = {}
    for entry in entries:
        name, equals, value = entry.partition(b"=")
        if equals:
            found.setdefault(name, value)  # getenv(3) answers the first of duplicates
    for variable in _ENV_VARIABLES:
        path = found.get(variable, b"").decode("utf-8", "replace")
        if path.startswith("/") and "\ufffd" not in path:
            return path.rstrip("/") or "/"
    return ""


def _prefix_from_exe(base: Path) -> str:
    try:
        target = os.readlink(base / "exe")
    except OSError:  # another user's process, a kernel thread, a process gone
        return ""
    return _prefix_of_interpreter(target.removesuffix(_DELETED))


def _from_record(prefix: Path) -> tuple[str, str]:
    """(torch's version, the plan's variant) of the prefix's torchenv-env.json (format:
    models.envrecord); ("", "") without a usable record."""
    try:
        text = files.read_text(prefix / ENV_RECORD_FILE, RECORD_LIMIT, errors="replace")
        record = parse_env_record(load_json(text))
    except (OSError, ValueError):
        return "", ""
    return record.packages.get("torch", ""), record.plan_variant or ""


def _scan(directory: Path) -> Iterable[str]:
    """The names in ``directory``, at most ``SCAN_LIMIT`` of them."""
    try:
        with os.scandir(directory) as entries:
            for count, entry in enumerate(entries):
                if count >= SCAN_LIMIT:
                    return
                yield entry.name
    except OSError:
        return


def _from_dist_info(prefix: Path) -> str:
    """torch's version from ``lib/python3.*/site-packages/torch-<version>.dist-info``. The
    prefix may be another user's making: at most 4 ``python3.*`` directories are looked in,
    within one budget of ``SCAN_LIMIT`` names in all, so no tree can stall the collector."""
    libs = sorted(name for name in _scan(prefix / "lib") if name.startswith("python3."))[:4]
    budget = SCAN_LIMIT
    for lib in libs:
        for name in _scan(prefix / "lib" / lib / "site-packages"):
            budget -= 1
            if budget < 0:
                return ""
            match = _TORCH_DIST.fullmatch(name)
            if match:
                return match.group("version")
    return ""


def start_time(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Field 22 of /proc/PID/stat (starttime, in clock ticks since boot; proc(5)): with the
    pid, it names one process even after the pid is reused. None when unreadable."""
    text = _read_text(proc / str(pid) / "stat", 4096)
    # field 2 is "(comm)", and comm may hold spaces and ")": the fields after the last ")"
    fields = text.rpartition(")")[2].split()
    try:
        return int(fields[22 - 3])
    except (IndexError, ValueError):
        return None


class ProcessEnvironments:
    """``process_environment`` with a bounded cache keyed on (pid, starttime), so a scrape
    every few seconds reads /proc once per process, and 10,000 scrapes of short-lived
    processes keep at most ``limit`` entries (least recently used dropped first)."""

    def __init__(self, proc: Path = Path("/proc"), limit: int = CACHE_LIMIT) -> None:
        self._proc = proc
        self._limit = limit
        self._entries: collections.OrderedDict[tuple[int, int], Identity] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, pid: int) -> Identity:
        """(process, environment, torch, variant) of ``pid``; "" for what cannot be told."""
        if pid <= 0:
            return _NOTHING
        started = start_time(pid, self._proc)
        if started is None:  # gone, or /proc hidden (hidepid): nothing to key a cache on
            return process_environment(pid, self._proc)
        key = (pid, started)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        found = process_environment(pid, self._proc)
        self._entries[key] = found
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return found

    def forget_except(self, pids: Iterable[int]) -> None:
        """Drop the entries of processes not in ``pids`` (those of the last collection)."""
        keep = set(pids)
        for key in [key for key in self._entries if key[0] not in keep]:
            del self._entries[key]
