"""Building an environment with any backend, the same way for create and upgrade.

Order matters for "an interrupted build leaves nothing behind" (staging.py): everything happens
in a sibling build directory; the environment's own record (``torchenv-env.json``) is written
inside it before the rename, so the environment and its record appear together; the user-level
registry is updated by the caller, last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends.base import Backend, BuildPlan, SpecRef, Steps
from torchenv.backends.envrecord import write_env_record
from torchenv.backends.tools import BackendError
from torchenv.i18n import Msg, _
from torchenv.models.build import BuildStep
from torchenv.models.envrecord import EnvRecord

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Built:
    record: EnvRecord
    torch: str  # the version the quick verify imported (the locked one with --no-verify)


def build_into(
    ctx: ProbeContext,
    backend: Backend,
    plan: BuildPlan,
    ref: SpecRef,
    build: Path,
    target: Path,
    steps: Steps,
    *,
    check: bool,
    generation: int | None = None,
    recorded_lock: str | None = None,
) -> Built:
    """Install ``plan`` into the empty directory ``build`` (to be renamed to ``target``),
    write its record, and run ``verify --quick`` in it unless ``check`` is off: any failure
    raises, and the caller's staging removes the directory. ``recorded_lock``: the lock's
    path as the record names it, when the build reads a copy elsewhere (upgrade)."""
    installed = backend.install(plan, build, target, steps, ctx.env, ctx.which)
    record = EnvRecord(
        packages=installed.packages,
        backend=backend.name,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        spec_path=ref.spec.path,
        spec_hash=ref.spec_hash,
        lock_path=recorded_lock or plan.lock.path,
        lock_sha256=plan.lock.sha256,
        plan=plan.lock.tool,
        lock_extra=installed.extra,
        generation=generation,
        spec_text=_spec_text(ref),
    )
    write_env_record(build, record)
    if check:
        torch = quick_verify(ctx, steps.done, build, steps.progress)
    else:
        locked = plan.lock.versions()
        torch = installed.packages.get("torch") or locked.get("torch") or locked.get("pytorch", "")
    return Built(record, torch)


def _spec_text(ref: SpecRef) -> str | None:
    """The spec file's text, kept in the record when the file is all spec (torchenv.toml) and
    holds no credential (an index URL with a password is never copied into another file)."""
    from torchenv.models.spec import SPEC_FILE  # noqa: PLC0415
    from torchenv.untrusted import files  # noqa: PLC0415
    from torchenv.untrusted.text import holds_credentials  # noqa: PLC0415

    if not ref.spec.path or Path(ref.spec.path).name != SPEC_FILE:
        return None
    try:
        text = files.read_text(ref.spec.path, 1 << 20)
    except (OSError, UnicodeDecodeError):
        return None
    return None if holds_credentials(text) else text


def quick_verify(ctx: ProbeContext, steps: list[BuildStep], build: Path, progress: Progress) -> str:
    """``verify --quick`` inside the new environment: torch imports, every package is at its
    locked version, CUDA works where the plan expects it. Any failure keeps it out of place."""
    from torchenv.commands.verify import run_verify  # noqa: PLC0415
    from torchenv.models.verify import CheckStatus  # noqa: PLC0415

    progress(_("checking the new environment (verify --quick)"))
    started = time.perf_counter()
    report = run_verify(ctx, prefix=str(build), quick=True)
    steps.append(BuildStep("verify", time.perf_counter() - started))
    failed = [c for c in report.checks if c.status is CheckStatus.FAIL]
    if failed:
        raise BackendError(
            "verify-failed",
            Msg(
                "The new environment failed its quick verify, so it was not put in place:\n"
                "{failures}",
                failures="\n".join(f"    {c.id}: {c.detail}" for c in failed),
            ),
            Msg("Run the command again with --verbose to see the installer's output."),
        )
    return report.torch or ""
