"""Jupyter kernelspecs that could run code for an environment (failure catalog I1).

Kernelspec directories, in Jupyter's search order: ``$JUPYTER_PATH``, the user data dir
(``$JUPYTER_DATA_DIR`` or ``~/.local/share/jupyter``), the environment's ``share/jupyter``, then
``/usr/local/share/jupyter`` and ``/usr/share/jupyter`` (jupyter_core ``paths.jupyter_path``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from torchenv.models import KernelSpec
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_text
from torchenv.untrusted.text import load_json

_SPEC_LIMIT = 1 << 20  # a kernel.json is a few hundred bytes


def kernel_dirs(ctx: ProbeContext, prefix: Path) -> list[tuple[Path, str]]:
    dirs: list[tuple[Path, str]] = []
    for entry in ctx.env.get("JUPYTER_PATH", "").split(os.pathsep):
        if entry:
            dirs.append((Path(entry) / "kernels", "user"))
    data_dir = ctx.env.get("JUPYTER_DATA_DIR")
    home = ctx.env.get("HOME")
    if data_dir:
        dirs.append((Path(data_dir) / "kernels", "user"))
    elif home:
        dirs.append((Path(home) / ".local/share/jupyter/kernels", "user"))
    dirs.append((prefix / "share/jupyter/kernels", "env"))
    dirs.append((ctx.path("/usr/local/share/jupyter/kernels"), "system"))
    dirs.append((ctx.path("/usr/share/jupyter/kernels"), "system"))
    return dirs


def read_kernelspec(path: Path, scope: str) -> KernelSpec | None:
    """A Python kernelspec from ``kernel.json``; None for kernels of other languages."""
    name = path.parent.name
    try:
        data = load_json(read_text(path, _SPEC_LIMIT, errors="replace"))
    except OSError as exc:
        return KernelSpec(
            name=name, path=str(path), scope=scope, error=f"unreadable: {describe(exc)}"
        )
    except ValueError as exc:
        return KernelSpec(name=name, path=str(path), scope=scope, error=f"unreadable: {exc}")
    if not isinstance(data, dict):
        return KernelSpec(name=name, path=str(path), scope=scope, error="not a JSON object")
    language = str(data.get("language", "python")).lower()
    if language != "python":
        return None
    argv = data.get("argv")
    argv0 = argv[0] if isinstance(argv, list) and argv and isinstance(argv[0], str) else None
    display = data.get("display_name")
    return KernelSpec(
        name=name,
        path=str(path),
        argv0=argv0,
        display_name=display if isinstance(display, str) else None,
        scope=scope,
        error=None if argv0 else "kernel.json has no argv",
    )


def probe_kernels(ctx: ProbeContext, prefix: Path) -> tuple[KernelSpec, ...]:
    specs = []
    seen: set[str] = set()
    for directory, scope in kernel_dirs(ctx, prefix):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            spec_file = directory / name / "kernel.json"
            key = os.path.realpath(spec_file)
            # exists, not is_file: a FIFO or a device in its place is reported as unreadable
            if key in seen or not spec_file.exists():
                continue
            seen.add(key)
            spec = read_kernelspec(spec_file, scope)
            if spec is not None:
                exists = (
                    os.path.exists(spec.argv0) if spec.argv0 and os.path.isabs(spec.argv0) else None
                )
                specs.append(
                    replace(
                        spec,
                        in_environment=argv0_in_prefix(spec.argv0, prefix),
                        interpreter_exists=exists,
                    )
                )
    return tuple(specs)


def argv0_in_prefix(argv0: str | None, prefix: Path) -> bool | None:
    """Whether a kernel's interpreter lives in ``prefix`` (None when argv0 is relative: it is
    resolved through the Jupyter server's PATH, not known here). Symlinks of the file itself
    are not followed: a venv's bin/python links to the base interpreter, which is not the venv."""
    if not argv0:
        return None
    path = Path(argv0)
    if not path.is_absolute():
        return None
    parent = os.path.realpath(path.parent)
    root = os.path.realpath(prefix)
    return parent == root or parent.startswith(root + os.sep)
