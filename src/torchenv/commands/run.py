"""``torchenv run``: a command in an environment as if it were activated, its exit code passed
through. ``--memory-snapshot DIR`` records the CUDA caching allocator's history in the command's
Python processes (verify/scripts/memory_snapshot.py as their sitecustomize) and renders each
snapshot as an HTML page with torch's own viewer, in the environment's interpreter: torchenv
never imports torch.

Exit codes: the command's own; 128+N when signal N ended it, as a shell says; 2 when the command
is not found or cannot be started, a usage error with a message like torchenv's others (a shell
would say 127 or 126), and the target errors of ``verify`` when there is no environment.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from torchenv.errors import ExternalError, UsageError
from torchenv.i18n import Msg, _, joined
from torchenv.models import Environment
from torchenv.probe.context import ProbeContext
from torchenv.probe.environment import probe_environment
from torchenv.probe.nvidia import gpu_evidence
from torchenv.probe.target import choose_target
from torchenv.untrusted import files
from torchenv.untrusted.scratch import scratch_dir

Progress = Callable[[str], None]
HOOK_SCRIPT = Path(__file__).parents[1] / "verify" / "scripts" / "memory_snapshot.py"
DIR_VAR = "TORCHENV_MEMORY_SNAPSHOT_DIR"
MAX_ENTRIES_VAR = "TORCHENV_MEMORY_SNAPSHOT_MAX_ENTRIES"
# what the hook writes, and all that is ever unpickled: <pid> at exit, <pid>-<n> per OOM
SNAPSHOT_NAME = re.compile(r"^(?:snapshot-[0-9]+|oom-[0-9]+-[0-9]+)\.pickle$")
# torch's two pages per snapshot: (the _memory_viz command, the suffix of the page's name)
VIEWS = (("trace_plot", ""), ("segment_plot", "-segments"))
# importing torch plus pickling a snapshot of up to GBs (max_entries x several KB) back out
RENDER_TIMEOUT = 600.0
# file times come from a coarser clock than time.time_ns(), on a network file system from
# another machine's: a snapshot written just after the start may look a little older
CLOCK_SLACK_NS = 2_000_000_000
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
_SI_KERNEL = 0x80  # Linux's si_code of a signal the kernel sent (terminal keys, hangup)


@dataclass(frozen=True)
class RunTarget:
    env: Environment
    python: str  # the interpreter as given or found (a wrapper script stays a wrapper)
    bin_dir: str  # first on PATH


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    recorded: bool = False  # the hook was in place (CUDA may be used)
    pages: tuple[str, ...] = ()  # the HTML pages written
    problems: tuple[str, ...] = ()  # snapshots that could not be rendered, and why


def find_target(ctx: ProbeContext, python: str | None, prefix: str | None) -> RunTarget:
    """The environment, with the errors ``verify`` gives when there is none."""
    env = probe_environment(ctx, python, prefix)
    exe = choose_target(ctx, python, prefix).python or env.interpreter.executable
    if exe is None:
        raise UsageError(
            "run-no-python",
            Msg(
                "{prefix} has no Python interpreter (no bin/python): it is not an environment.",
                prefix=env.prefix,
            ),
            Msg(
                "Pass the environment's directory with --prefix, or its interpreter with --python."
            ),
        )
    if not env.interpreter.runs:
        why = joined(Msg("; "), [n.message for n in env.interpreter.notes]) or Msg(
            "no interpreter found"
        )
        raise ExternalError(
            "run-python-does-not-run",
            Msg(
                "The environment {prefix} has no interpreter that runs ({python}): {why}.",
                prefix=env.prefix,
                python=exe,
                why=why,
            ),
            Msg("repair or recreate it (torchenv doctor --prefix DIR says what is wrong)"),
        )
    prefix_dir = Path(env.prefix)
    bin_dir = next(
        (str(d) for d in (prefix_dir / "bin", prefix_dir / "Scripts") if d.is_dir()),
        os.path.dirname(os.path.abspath(exe)),
    )
    return RunTarget(env, exe, bin_dir)


def activated(base: Mapping[str, str], target: RunTarget) -> dict[str, str]:
    """``base`` as the environment's activation leaves it: its bin/ first on PATH, and
    VIRTUAL_ENV or CONDA_PREFIX; a VIRTUAL_ENV of another environment goes (uv and pip would
    install there), as PYTHONHOME goes when a venv activates. activate.d scripts do not run."""
    env = dict(base)
    path = env.get("PATH")
    env["PATH"] = target.bin_dir + (os.pathsep + path if path else "")
    prefix, kind = target.env.prefix, target.env.kind
    if kind == "venv":
        env["VIRTUAL_ENV"] = prefix
        env.pop("PYTHONHOME", None)
    else:
        env.pop("VIRTUAL_ENV", None)
    if kind in ("conda", "pixi"):
        env["CONDA_PREFIX"] = prefix
        env["CONDA_DEFAULT_ENV"] = os.path.basename(prefix)
    return env


def resolve(command: Sequence[str], env: Mapping[str, str]) -> str:
    """The file that runs ``command[0]``, looked up on ``env``'s PATH as a shell would."""
    name = command[0]
    found = shutil.which(name, path=env.get("PATH", os.defpath)) if os.sep not in name else None
    if os.sep not in name and found is None:
        raise UsageError(
            "run-command-not-found",
            Msg("{name}: command not found in the environment's bin/ or on PATH.", name=name),
            Msg("Install it into the environment, or give its path."),
        )
    path = found or name
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = Msg("{path} does not exist.", path=path)
        if os.path.lexists(path):
            message = Msg("{path} is not an executable file.", path=path)
        raise UsageError(
            "run-command-not-executable",
            message,
            Msg("Give the path of a program you can run."),
        )
    return path


def cuda_absence(ctx: ProbeContext, env: Environment) -> str | None:
    """Why the command cannot use CUDA, from the files and the host alone (torch is not
    imported); None when it may."""
    torch = env.torch
    if torch is None:
        return "torch is not installed"
    if torch.cuda is None and not torch.has_cuda_library:
        return "ROCm build" if torch.hip else "XPU build" if torch.xpu else "CPU build"
    visible, why = gpu_evidence(ctx)
    if not visible:
        return f"no GPU: {why}" if why else "no GPU"
    return None


def snapshot_dir(path: str) -> Path:
    """DIR as a directory of this user's that nobody else may write to (made with mode 0700):
    the pickles in it are loaded, so a file, a link or another user's directory is refused. An
    existing directory of the user's that others may write to is refused too, not chmod-ed:
    it is the user's (a shared project directory), and its mode is theirs to set."""
    target = Path(path).expanduser().absolute()
    try:
        info = os.lstat(target)
    except OSError:
        info = None
    if (
        info is not None
        and stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and info.st_mode & 0o022
    ):
        raise UsageError(
            "memory-snapshot-dir-shared",
            Msg(
                "{path} can be written by others, so snapshots loaded from it could be theirs.",
                path=path,
            ),
            Msg(
                "Pass a directory of your own that only you can write to, or `chmod go-w {path}`.",
                path=path,
            ),
        )
    try:
        return files.private_dir(target)
    except OSError as exc:
        why = files.describe(exc)
        raise UsageError(
            "memory-snapshot-dir-unusable",
            Msg("Cannot keep memory snapshots in {path}: {error}.", path=path, error=why),
            Msg("Pass a directory of your own (made, mode 0700, when it is missing)."),
        ) from None


def check_max_entries(env: Mapping[str, str]) -> None:
    text = env.get(MAX_ENTRIES_VAR)
    if text is not None and not (re.fullmatch(r"[0-9]{1,12}", text) and int(text) > 0):
        raise UsageError(
            "bad-max-entries",
            Msg(
                "{variable}={value} is not a positive number of entries.",
                variable=MAX_ENTRIES_VAR,
                value=repr(text),
            ),
            Msg("Set it to the allocator events to keep (default 100000), or unset it."),
        )


def _snapshots(directory: Path) -> dict[str, os.stat_result]:
    found = {}
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if SNAPSHOT_NAME.match(entry.name):
                with contextlib.suppress(OSError):
                    found[entry.name] = entry.stat(follow_symlinks=False)
    return found


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_mtime_ns, a.st_size) == (b.st_ino, b.st_mtime_ns, b.st_size)


def new_snapshots(
    directory: Path, before: Mapping[str, os.stat_result], started_ns: int
) -> list[Path]:
    """The pickles this run wrote: a name of the hook's, a regular file of this user's, absent
    or different before the run and written after it started. Only these are unpickled."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    fresh = []
    for name, info in sorted(_snapshots(directory).items()):
        old = before.get(name)
        if (old is not None and _same(old, info)) or not stat.S_ISREG(info.st_mode):
            continue
        if (uid is None or info.st_uid == uid) and info.st_mtime_ns >= started_ns - CLOCK_SLACK_NS:
            fresh.append(directory / name)
    return fresh


def _render_one(
    ctx: ProbeContext, python: str, env: Mapping[str, str], job: tuple[Path, str, str], cwd: str
) -> tuple[str | None, str | None]:
    """One page with `python -m torch.cuda._memory_viz VIEW`, torch's own command line, written
    under a hidden name and renamed in: (page, None) or (None, why not)."""
    pickle, view, suffix = job
    page = pickle.with_name(pickle.name.removesuffix(".pickle") + suffix + ".html")
    partial = page.with_name(f".{page.name}.partial")
    argv = [python, "-m", "torch.cuda._memory_viz", view, str(pickle), "-o", str(partial)]
    # cwd: an empty scratch directory, as `-m` puts it first on sys.path
    result = ctx.runner(argv, timeout=RENDER_TIMEOUT, env=env, cwd=cwd)
    try:
        if result.ok and stat.S_ISREG(os.lstat(partial).st_mode):
            os.replace(partial, page)
            return str(page), None
    except OSError as exc:
        return None, f"{page.name}: {files.describe(exc)}"
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return None, f"{pickle.name} ({view}): {result.describe_failure()}"


def render(
    ctx: ProbeContext, python: str, env: Mapping[str, str], pickles: Sequence[Path], cwd: str
) -> tuple[list[str], list[str]]:
    """Every view of every pickle, two interpreters at a time (each holds its snapshot a few
    times over, and a snapshot may be GBs): (pages, problems)."""
    jobs = [(p, view, suffix) for p in pickles for view, suffix in VIEWS]
    if not jobs:
        return [], []
    with ThreadPoolExecutor(max_workers=min(2, len(jobs))) as pool:
        done = list(pool.map(lambda job: _render_one(ctx, python, env, job, cwd), jobs))
    return [p for p, _ in done if p], [w for _, w in done if w]


def _status(code: int) -> int:
    return code if code >= 0 else 128 - code  # subprocess gives death by signal N as -N


def _child_has_it(info: signal.struct_siginfo, pid: int) -> bool:
    """Keys (Ctrl-C, Ctrl-\\) and a hangup come from the kernel to the terminal's whole
    foreground process group: a child still in torchenv's group has its own copy, and a
    second SIGINT would interrupt its clean-up. What a process sent to torchenv is forwarded."""
    if info.si_code != _SI_KERNEL:
        return False
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:  # gone already
        return True


def _wait_with_handlers(child: subprocess.Popen[bytes], forwarded: set[int]) -> int:
    """Without sigtimedwait (macOS, Windows) the sender is unknown: SIGINT is taken to come
    from the terminal, which sent it to the child too; the others are forwarded."""

    def forward(signum: int, _frame: object) -> None:
        if signum != signal.SIGINT:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    saved = {s: signal.signal(s, forward) for s in forwarded}
    try:
        return child.wait()
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def execute(command: Sequence[str], executable: str, env: Mapping[str, str]) -> int:
    """Run ``command`` with torchenv's stdin, stdout and stderr; its exit status as a shell
    gives it. SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to torchenv go on to the command, and
    torchenv itself waits for it to end."""
    forwarded = {getattr(signal, name) for name in FORWARDED if hasattr(signal, name)}
    waiting = hasattr(signal, "sigtimedwait") and hasattr(signal, "SIGCHLD")
    watched = forwarded | ({signal.SIGCHLD} if waiting else set())
    # blocked, a signal waits for sigtimedwait, which says who sent it; the child starts with
    # torchenv's original mask
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched) if waiting else set()
    try:
        try:
            child = subprocess.Popen(
                list(command),
                executable=executable,
                env=dict(env),
                # restores the mask only: no lock is taken between fork and exec
                preexec_fn=(lambda: signal.pthread_sigmask(signal.SIG_SETMASK, previous))  # noqa: PLW1509
                if waiting
                else None,
            )
        except OSError as exc:
            raise UsageError(
                "run-command-not-executable",
                Msg("Cannot run {name}: {error}.", name=command[0], error=files.describe(exc)),
                Msg("A script needs a #! line naming its interpreter; or run the interpreter."),
            ) from None
        if not waiting:
            return _status(_wait_with_handlers(child, forwarded))
        while (code := child.poll()) is None:
            info = signal.sigtimedwait(watched, 1.0)  # the timeout: a merged SIGCHLD
            if info is None or info.si_signo == signal.SIGCHLD or _child_has_it(info, child.pid):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, info.si_signo)
        return _status(code)
    finally:
        if waiting:  # what came as the child ended was meant for it, not for torchenv
            while signal.sigtimedwait(forwarded, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_command(
    ctx: ProbeContext,
    python: str | None,
    prefix: str | None,
    command: Sequence[str],
    *,
    memory_snapshot: str | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    if not command:
        raise UsageError("run-no-command", Msg("No command to run."), "torchenv run -- COMMAND...")
    target = find_target(ctx, python, prefix)
    env = activated(ctx.env, target)
    executable = resolve(command, env)
    if memory_snapshot is None:
        return RunOutcome(execute(command, executable, env))
    directory = snapshot_dir(memory_snapshot)
    check_max_entries(env)
    absent = cuda_absence(ctx, target.env)
    if absent is not None:
        if progress is not None:
            progress(
                _(
                    "no CUDA in {prefix} ({why}): --memory-snapshot records nothing; running "
                    "the command unchanged"
                ).format(prefix=target.env.prefix, why=absent)
            )
        return RunOutcome(execute(command, executable, env))
    before, started_ns = _snapshots(directory), time.time_ns()
    with scratch_dir("run") as scratch:
        hook, empty = scratch / "hook", scratch / "render"
        hook.mkdir()
        empty.mkdir()
        (hook / "sitecustomize.py").write_bytes(files.read_bytes(HOOK_SCRIPT))
        hooked = dict(env)
        old = env.get("PYTHONPATH")
        # an empty PYTHONPATH entry would put the current directory on sys.path
        hooked["PYTHONPATH"] = str(hook) + (os.pathsep + old if old else "")
        hooked[DIR_VAR] = str(directory)
        if progress is not None:
            progress(_("recording the CUDA allocator's history into {path}").format(path=directory))
        code = execute(command, executable, hooked)
        pickles = new_snapshots(directory, before, started_ns)
        pages, problems = render(ctx, target.python, env, pickles, str(empty))
    return RunOutcome(code, True, tuple(pages), tuple(problems))
