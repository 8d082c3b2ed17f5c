"""What every probe needs from the host, in one injectable object.

Probes read files under ``root`` (``/`` on a real machine, a fake tree in tests) through
``torchenv.untrusted.files`` (regular files only, each with a size cap), environment
variables from ``env``, run programs only through ``runner`` and look up executables on ``env``'s
PATH. Nothing else in torchenv touches the host.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.probe.cache import Cache, file_stamp
from torchenv.probe.runner import Runner, run
from torchenv.untrusted.files import read_text

if TYPE_CHECKING:
    from torchenv.probe.nvml import NvmlReading


def parse_timeout(text: str, name: str) -> float:
    """A positive, finite number of seconds; anything else is a usage error naming ``name``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(
            "bad-timeout",
            Msg("{name}={value} is not a number of seconds.", name=name, value=repr(text)),
            Msg("Set {name} to a positive number, e.g. 10, or unset it.", name=name),
        )
    return value


@dataclass
class ProbeContext:
    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    runner: Runner = run
    cache: Cache = field(default_factory=lambda: Cache(None))
    tool_timeout: float = 10.0  # seconds for nvidia-smi, nvcc, compilers
    interpreter_timeout: float = 30.0
    # Reads NVML; None disables it (tests, or a machine where loading libnvidia-ml must be avoided)
    nvml: Callable[[], NvmlReading] | None = None
    # cuDriverGetVersion through libcuda.so.1 (raises OSError when it cannot be loaded)
    libcuda: Callable[[], int] | None = None
    # the environment torchenv itself runs from: never a target unless named (probe/target.py)
    own_prefix: Path | None = None

    @classmethod
    def for_host(cls) -> ProbeContext:
        from torchenv.probe.nvml import read_libcuda_version, read_nvml  # noqa: PLC0415

        env = dict(os.environ)
        timeout = parse_timeout(env.get("TORCHENV_TOOL_TIMEOUT", "10"), "TORCHENV_TOOL_TIMEOUT")
        use_driver_api = env.get("TORCHENV_NVML", "1") != "0"  # "0": never load NVML/libcuda
        return cls(
            env=env,
            cache=Cache.for_user(env),
            tool_timeout=timeout,
            nvml=read_nvml if use_driver_api else None,
            libcuda=read_libcuda_version if use_driver_api else None,
            # a venv of torchenv's own; a system or base interpreter is everybody's (an NGC
            # container's /usr, a conda base): never passed over
            own_prefix=Path(sys.prefix) if sys.prefix != sys.base_prefix else None,
        )

    def path(self, absolute: str) -> Path:
        """A host path ("/proc/version") under this context's root."""
        if self.root == Path("/"):
            return Path(absolute)
        return self.root / absolute.lstrip("/")

    def read_text(self, absolute: str, limit: int = 1 << 20) -> str | None:
        """A small host file's text, or None when it is absent, unreadable, not a regular
        file (a FIFO would block the read forever) or larger than ``limit`` bytes. /proc and
        /sys files are regular files of size 0 and are read to their end."""
        try:
            return read_text(self.path(absolute), limit, errors="replace")
        except OSError:
            return None

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def which_all(self, name: str) -> Iterator[str]:
        """Every executable ``name`` on PATH, in PATH order, each once (looked up as needed:
        a slow PATH entry is reached only when the ones before it did not answer)."""
        seen: set[str] = set()
        for folder in self.env.get("PATH", os.defpath).split(os.pathsep):
            hit = shutil.which(name, path=folder or ".")
            if hit is not None and hit not in seen:
                seen.add(hit)
                yield hit

    def run_cached(self, argv: list[str], key_file: str) -> tuple[str | None, str | None]:
        """(stdout, None) of a tool whose output depends only on ``key_file`` (``nvcc
        --version``, ``g++ -dumpversion``), cached while that file is unchanged;
        (None, why) when it failed."""
        stamp = file_stamp(Path(key_file))
        key = "\0".join(argv)
        if stamp is not None:
            hit = self.cache.get("tool-output", key, stamp)
            if isinstance(hit, str):
                return hit, None
        result = self.runner(argv, timeout=self.tool_timeout)
        if not result.ok:
            return None, result.describe_failure()
        if stamp is not None:
            self.cache.put("tool-output", key, stamp, result.stdout)
        return result.stdout, None
