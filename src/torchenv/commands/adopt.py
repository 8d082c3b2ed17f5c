"""``torchenv adopt``: an environment made by hand (pip, uv, conda) enters torchenv's lifecycle.

The environment is read from its files (``probe_environment``; torch is never imported) and
nothing in it is changed. spec.adopt maps what was read to a spec; the spec is read back before
it is written, then locked as ``torchenv lock`` does. A lock that fails leaves the spec in place
for the user to edit: the report says why, and ``lock`` is None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends.conda import CONDA_LOCK_FILE
from torchenv.errors import TorchenvError, UsageError
from torchenv.i18n import Msg, _
from torchenv.models.environment import Distribution
from torchenv.models.lifecycle import ADOPT_SCHEMA, AdoptReport
from torchenv.models.spec import LOCK_FILE, PYTORCH_INDEX, SPEC_FILE, SpecIndex
from torchenv.spec import parse_spec_text, render_spec
from torchenv.spec.adopt import DirectOrigin, adopt_spec, lock_differences, spec_name
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]
_DIRECT_URL_LIMIT = 64 * 1024  # a direct_url.json is a few hundred bytes


def run_adopt(
    ctx: ProbeContext,
    prefix: str,
    cwd: Path,
    *,
    out: str | None = None,
    force: bool = False,
    find_links: Sequence[str] = (),
    pytorch_index: str | None = None,
    origin: str | None = None,
    progress: Progress = lambda _: None,
    verbose: bool = False,
) -> AdoptReport:
    """Write ``torchenv.toml`` and its lock into ``out`` (default: ``cwd``) for the environment
    at ``prefix``. ``origin``: the command line, recorded in the spec's header."""
    from torchenv.probe.environment import probe_environment  # noqa: PLC0415

    if not prefix:  # choose_target would take the active environment instead
        raise UsageError(
            "adopt-no-prefix", Msg("--prefix is empty: name the environment to adopt.")
        )
    if out is not None and (not out or "\0" in out):  # Path("") is "."; a NUL is no path
        raise UsageError(
            "adopt-bad-out", Msg("--out {value} is not a directory name.", value=repr(out))
        )
    out_dir = cwd / Path(out).expanduser() if out else cwd
    env = probe_environment(ctx, None, prefix)
    if env.kind == "unknown" and not env.site_dirs and not env.distributions:
        raise UsageError(
            "adopt-not-an-environment",
            Msg(
                "{prefix} is a directory, but not a Python environment (no python, "
                "pyvenv.cfg, conda-meta/ or site-packages in it).",
                prefix=env.prefix,
            ),
            Msg("Pass the environment's root directory: the one holding bin/python."),
        )
    _outside(out_dir, Path(env.prefix))
    progress(
        _("read {count} distributions in {prefix}").format(
            count=len(env.distributions), prefix=env.prefix
        )
    )
    index = SpecIndex(pytorch=pytorch_index or PYTORCH_INDEX, find_links=_links(cwd, find_links))
    adoption = adopt_spec(env, spec_name(env.prefix), index, read_origins(env.distributions))
    spec_path = out_dir / SPEC_FILE
    lock_name = CONDA_LOCK_FILE if adoption.spec.installer == "conda" else LOCK_FILE
    _may_write(out_dir, [spec_path, out_dir / lock_name], force)
    text = render_spec(adoption.spec, origin)
    # read back before writing: what adopt writes must be a spec that lock accepts
    spec = parse_spec_text(text, spec_path)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a parent directory should be, no permission
        raise UsageError(
            "adopt-out-unwritable",
            Msg(
                "Cannot make the directory {path}: {error}.",
                path=out_dir,
                error=files.describe(exc),
            ),
        ) from None
    files.write_output(spec_path, text.encode("utf-8"), what=Msg("the spec"))
    progress(_("wrote {path}").format(path=spec_path))
    notes = list(adoption.notes)
    lock: str | None = None
    from torchenv.commands.lock import run_lock  # noqa: PLC0415

    try:
        locked = run_lock(ctx, str(spec_path), cwd, progress=progress, verbose=verbose)
    except TorchenvError as exc:
        notes.append(f"locking failed: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
        if os.path.lexists(out_dir / lock_name):  # replaced only by a lock that succeeds
            notes.append(f"the {lock_name} in {out_dir} is an older one, not a lock of this spec")
    else:
        lock = locked.lock
        installed = {d.name: d.version or "" for d in reversed(env.distributions)}
        notes += lock_differences(adoption, installed, locked.packages)
    return AdoptReport(
        schema=ADOPT_SCHEMA,
        prefix=env.prefix,
        spec=str(spec_path),
        lock=lock,
        torch=adoption.torch,
        variant=adoption.variant,
        installer=spec.installer,
        pinned=len(spec.packages) + (spec.torch is not None),
        unpinned=adoption.unpinned,
        notes=tuple(notes),
        python=spec.python,
        cuda=spec.cuda,
        libraries=spec.libraries,
    )


def _outside(out_dir: Path, prefix: Path) -> None:
    """The spec and lock go into a project, never into the environment being adopted."""
    out, root = Path(os.path.realpath(out_dir)), Path(os.path.realpath(prefix))
    if out == root or root in out.parents:
        raise UsageError(
            "adopt-out-in-environment",
            Msg(
                "{out} is inside the environment {prefix}: adopt changes nothing in it.",
                out=out_dir,
                prefix=prefix,
            ),
            Msg("Pass --out DIR with a project directory outside the environment."),
        )


def _may_write(out_dir: Path, targets: Iterable[Path], force: bool) -> None:
    """Refuse before anything is written: an --out that is not a directory, an existing spec
    or lock without --force, and (even with --force) anything but a regular file in their
    place, which write_output would refuse only after the spec was written."""
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise UsageError(
            "adopt-out-not-a-directory",
            Msg("--out {path} is not a directory.", path=out_dir),
            Msg(
                "--out names the directory that receives {spec} and {lock}.",
                spec=SPEC_FILE,
                lock=LOCK_FILE,
            ),
        )
    for target in targets:
        if not os.path.lexists(target):
            continue
        if not force:
            raise UsageError(
                "adopt-exists",
                Msg("{path} already exists.", path=target),
                Msg(
                    "Pass --force to replace the spec and the lock, or --out DIR to write them "
                    "elsewhere."
                ),
            )
        try:
            files.existing_regular(target)
        except OSError as exc:
            raise UsageError(
                "output-not-a-file",
                Msg(
                    "Cannot replace {path}: {error}, so it was left as it is.",
                    path=target,
                    error=files.describe(exc),
                ),
                Msg("Remove it yourself, or pass --out DIR to write elsewhere."),
            ) from None


def _links(cwd: Path, links: Sequence[str]) -> tuple[str, ...]:
    """--find-links as the spec records them: URLs as given, folders made absolute (the spec
    reads them relative to its own directory, which is not where the user ran adopt)."""
    found = []
    for link in links:
        if "\0" in link:
            raise UsageError(
                "adopt-find-links",
                Msg("--find-links {value} is not a path or URL.", value=repr(link)),
            )
        if "://" in link:
            found.append(link)
            continue
        path = cwd / Path(link).expanduser()
        if not path.is_dir():
            raise UsageError(
                "adopt-find-links",
                Msg("--find-links {value}: no such directory.", value=link),
                Msg("Give a directory of wheels, or an http(s):// or file:// URL."),
            )
        found.append(os.path.abspath(path))
    return tuple(found)


def read_origins(dists: Iterable[Distribution]) -> dict[str, DirectOrigin]:
    """What the direct_url.json (PEP 610) of each distribution that has one says; the probe
    keeps the URL alone, and a VCS checkout is told from a local folder by the rest. A file
    that cannot be read is skipped: the probe's URL still marks the distribution."""
    origins: dict[str, DirectOrigin] = {}
    for dist in dists:
        if dist.name in origins or (dist.direct_url is None and not dist.editable):
            continue
        path = os.path.join(dist.metadata_dir, "direct_url.json")
        try:
            data = load_json(files.read_bytes(path, _DIRECT_URL_LIMIT))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            continue
        vcs, directory = data.get("vcs_info"), data.get("dir_info")
        if isinstance(vcs, dict):
            name = vcs.get("vcs")
            origin = DirectOrigin(data["url"], "vcs", name if isinstance(name, str) else None)
        elif isinstance(directory, dict):
            origin = DirectOrigin(
                data["url"], "directory", editable=bool(directory.get("editable"))
            )
        else:
            origin = DirectOrigin(data["url"], "archive")
        origins[dist.name] = origin
    return origins
