"""The hostile-input corpus's harness: torchenv's command line run in this process, in a sandbox
of its own, with the promises every case is held to.

A case is a command line and the files it meets. Whatever they hold, the run must:
- end with exit 0, 1, 2 or 3 (never 70, an internal error), and say why when it is 2 or 3;
- print no traceback, no terminal control sequence (ESC), no credential it was given;
- finish (a FIFO or /dev/zero in a file's place must not hang it: a run is given 60 s);
- write nothing outside the paths the case allows (the sandbox is compared before and after).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from hypothesis import strategies as st

# pieces of text that break naive code: line breaks that start a new instruction or option,
# shell and compose syntax, quotes, terminal escapes, bidi overrides, NUL, paths out, length
PIECES = [
    "\n",
    "\r\n",
    "\nRUN touch /PWNED",
    "\n--index-url http://evil.example/simple",
    "\x1b[31m",
    "\x1b]0;pwned\x07",
    "\x00",
    "$(touch PWNED)",
    "`touch PWNED`",
    "${HOME}",
    "$$",
    '"',
    "'",
    "\\",
    "}",
    ":",
    "#",
    ";",
    "|",
    "&&",
    " ",
    "\t",
    "%2F",
    "\u202e",
    "\u2028",  # str.splitlines breaks lines here, and so does pip reading a requirements file
    "\x85",
    "\udcff",
    "../../../etc/passwd",
    "/dev/zero",
    "https://user:SECRET-TOKEN@mirror.example/simple",
    "x" * 3000,
    "-",
    "=",
    "[",
    "nan",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1, max_size=4
).map("".join)
scalars = st.one_of(
    hostile_text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
# anything TOML or JSON can hold: scalars, arrays and tables of them, a few levels deep
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=8,
)

SECRET = "SECRET-TOKEN"  # noqa: S105 - the credential hostile values carry; never printed


@dataclass
class Outcome:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            kind = stat.S_IFMT(info.st_mode)
            size = info.st_size if stat.S_ISREG(info.st_mode) else 0
            found[path] = (kind, size, info.st_mtime_ns if not stat.S_ISDIR(info.st_mode) else 0)
    return found


class Sandbox:
    """A directory for one case, with HOME, the XDG directories and torchenv's data and cache
    inside it, so that nothing a run writes can land elsewhere unseen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        self.project.mkdir()
        self.env = {
            "HOME": str(root / "home"),
            "XDG_CACHE_HOME": str(root / "home/.cache"),
            "XDG_DATA_HOME": str(root / "home/.local/share"),
            "XDG_CONFIG_HOME": str(root / "home/.config"),
            "XDG_RUNTIME_DIR": str(root / "run"),
            "TORCHENV_DATA_DIR": str(root / "data"),
            "TORCHENV_CACHE_DIR": str(root / "cache"),
            "TORCHENV_NVML": "0",
            "NO_COLOR": "1",
        }

    def run(self, *args: str, allowed: Iterable[Path] = (), cwd: Path | None = None) -> Outcome:
        """``args`` as the command line, in ``cwd`` (the project); ``allowed``: where the
        command may write (and the data, cache and runtime directories)."""
        keep = [Path(self.env[k]) for k in ("TORCHENV_CACHE_DIR", "XDG_RUNTIME_DIR")]
        keep += [Path(self.env["TORCHENV_DATA_DIR"]) / "environments.json"]
        allowed = [*map(Path, allowed), *keep]
        before = _snapshot(self.root)
        outcome = run_cli(args, cwd or self.project, self.env)
        after = _snapshot(self.root)
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}

        def may(path: Path) -> bool:
            # the allowed paths, what is under them, and directories made on the way to them
            return any(path == a or a in path.parents for a in allowed) or (
                path.is_dir() and any(path in a.parents for a in allowed)
            )

        outside = sorted(p for p in changed if not may(Path(p)))
        assert not outside, f"{args}: wrote outside what it may: {outside[:5]}"
        check(outcome)
        return outcome


def run_cli(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> Outcome:
    """torchenv's ``main`` in this process (as `python -m torchenv` runs it), in ``cwd``, with
    ``env`` over the environment, given 60 s before it counts as hung."""
    from torchenv.cli import main
    from torchenv.knowledge import store

    for cached in (store.load_knowledge, store.load_sources, store.load_gpus):
        cached.cache_clear()  # each case has its own data directory
    result: dict[str, object] = {}
    out, err = io.StringIO(), io.StringIO()

    def target() -> None:
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result["code"] = main(list(args))
        except BaseException as exc:  # noqa: BLE001 - reported as the test's failure
            result["raised"] = exc

    cleared = {k: "" for k in ("VIRTUAL_ENV", "CONDA_PREFIX") if k in os.environ}
    previous = os.getcwd()
    with mock.patch.dict(os.environ, {**env, **cleared}):
        for key in cleared:
            del os.environ[key]
        os.chdir(cwd)
        try:
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            thread.join(60)
        finally:
            os.chdir(previous)
    assert not thread.is_alive(), f"{args}: still running after 60 s (hung)"
    assert "raised" not in result, f"{args}: raised {result.get('raised')!r}"
    code = result["code"]
    assert isinstance(code, int)
    return Outcome(tuple(args), code, out.getvalue(), err.getvalue())


def check(outcome: Outcome) -> None:
    text = outcome.out + outcome.err
    where = f"{outcome.args!r} exited {outcome.code}:\n{outcome.err[-2000:]}"
    assert outcome.code in (0, 1, 2, 3), where
    assert "Traceback" not in text and "internal error" not in text, where
    if outcome.code not in (0, 1):
        # the reason on stderr, or (plan, exit 3) in the report itself: the rejected builds
        assert text.strip(), f"{outcome.args!r}: exit {outcome.code} without a message"
    assert "\x1b" not in text and "\u202e" not in text, f"{outcome.args!r} printed an escape"
    assert SECRET not in text, f"{outcome.args!r} printed a credential"


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (hypothesis runs many examples in one test: no tmp_path per example)."""
    with tempfile.TemporaryDirectory(prefix="torchenv-hostile-") as tmp:
        yield Sandbox(Path(tmp))


def special_file(path: Path, kind: str) -> None:
    """Something other than a regular file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null":
        path.symlink_to("/dev/null")
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as handle:
            handle.truncate(3 << 30)  # sparse: 3 GiB that take no disk
    elif kind == "binary":
        path.write_bytes(os.urandom(4096))
    else:
        raise ValueError(kind)


SPECIAL = ["fifo", "dev-zero", "dev-null", "dangling", "loop", "directory", "huge", "binary"]
