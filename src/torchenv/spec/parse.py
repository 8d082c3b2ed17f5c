"""Finding, reading and validating the spec: ``torchenv.toml`` or ``[tool.torchenv]`` in
pyproject.toml. Every problem of a file is reported at once, each with its line and key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchenv.errors import UsageError
from torchenv.i18n import Msg, joined
from torchenv.models.codec import to_data
from torchenv.models.spec import SPEC_FILE, Spec, SpecProblem
from torchenv.spec.checker import Checker
from torchenv.spec.locate import KeyLocator
from torchenv.spec.validate import NAME_PATTERN, check_spec, is_channel_path
from torchenv.untrusted import files
from torchenv.untrusted.text import load_toml

PYPROJECT = "pyproject.toml"
SPEC_LIMIT = 4 << 20  # a spec is a few hundred bytes; a pyproject.toml a few kB
# bump when the canonical form below changes; 2: [index] channels (the conda backend) joined it
_SPEC_HASH_VERSION = 2


class SpecError(UsageError):
    """The spec has problems; ``problems`` lists all of them and the message shows each on a
    line of its own as ``FILE:LINE: key: message`` (a ``Msg``: each problem is shown translated
    within it)."""

    def __init__(self, file: str, problems: Sequence[SpecProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        listed = joined("\n", [format_problem(p) for p in self.problems])
        if count == 1:
            message = Msg("{file} has 1 problem:\n{problems}", file=file, problems=listed)
        elif count:
            message = Msg(
                "{file} has {count} problems:\n{problems}", file=file, count=count, problems=listed
            )
        else:
            message = Msg("{file} has 0 problems:", file=file)
        super().__init__(
            "spec-invalid",
            message,
            Msg("Fix the spec and run the command again; `torchenv init` writes a valid one."),
        )


def format_problem(problem: SpecProblem) -> str:
    """``FILE:LINE: key: message``; a ``Msg`` when the message is one."""
    where = problem.file if problem.line is None else f"{problem.file}:{problem.line}"
    key = f" {problem.key}:" if problem.key else ""
    return joined("", [f"{where}:{key} ", problem.message])


def load_spec(path: Path | None, cwd: Path) -> Spec:
    """The spec at ``path`` (a torchenv.toml-style file, a pyproject.toml, or a directory holding
    one), or without a path the one in ``cwd``: torchenv.toml first, then pyproject.toml."""
    file = _find(path, cwd)
    pyproject = file.name == PYPROJECT
    return parse_spec_text(_read(file), file, pyproject=pyproject)


def _find(path: Path | None, cwd: Path) -> Path:
    where = cwd if path is None else cwd / path.expanduser()
    if path is not None and not where.is_dir():
        if not where.exists():
            raise UsageError(
                "spec-not-found",
                Msg("No spec at {path}.", path=where),
                Msg("Give the path of a torchenv.toml or a pyproject.toml with [tool.torchenv]."),
            )
        return where
    for name in (SPEC_FILE, PYPROJECT):
        if (where / name).is_file():
            return where / name
    raise UsageError(
        "spec-not-found",
        Msg("No {spec} or {pyproject} in {path}.", spec=SPEC_FILE, pyproject=PYPROJECT, path=where),
        Msg(
            "Run `torchenv init` (with the options of `torchenv plan`) to write one, or give the "
            "spec's path."
        ),
    )


def _read(file: Path) -> str:
    try:
        data = files.read_bytes(file, SPEC_LIMIT)
    except OSError as exc:
        raise UsageError(
            "spec-unreadable",
            Msg("Cannot read the spec {path}: {reason}.", path=file, reason=files.describe(exc)),
        ) from None
    try:
        # a byte-order mark is what some Windows editors put first; it is not a problem
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            "spec-not-utf8",
            Msg(
                "The spec {path} is not UTF-8 text (line {line}, byte {byte}).",
                path=file,
                line=line,
                byte=exc.start,
            ),
            Msg("TOML files are UTF-8: save it again in that encoding."),
        ) from None


def parse_spec_text(text: str, file: Path, *, pyproject: bool = False) -> Spec:
    """The spec in ``text`` as read from ``file`` (whose directory is where relative paths start
    from); with ``pyproject`` the spec is the [tool.torchenv] table, and an error when absent."""
    shown = str(file)
    try:
        data = load_toml(text)
    except ValueError as exc:
        reason = Msg("not valid TOML: {reason}", reason=_reason(exc))
        problem = SpecProblem(shown, _error_line(exc, text), "", reason)
        raise SpecError(shown, [problem]) from None
    prefix = ""
    fallback_name = None
    table: object = data
    if pyproject:
        table = _tool_table(data)
        if table is None:
            raise UsageError(
                "spec-not-in-pyproject",
                Msg("{path} has no [tool.torchenv] table.", path=file),
                Msg(
                    "Add a [tool.torchenv] table (with the keys of torchenv.toml), or run "
                    "`torchenv init` to write a torchenv.toml."
                ),
            )
        project = data.get("project")
        project_name = project.get("name") if isinstance(project, dict) else None
        if isinstance(project_name, str) and NAME_PATTERN.fullmatch(project_name):
            fallback_name = project_name
        prefix = "tool.torchenv."
    problems: list[SpecProblem] = []
    locator = KeyLocator(text)

    def report(key: str, message: str) -> None:
        problems.append(SpecProblem(shown, locator.line_of(key), key, message))

    checker = Checker(report, file.parent)
    if not isinstance(table, dict):
        report(prefix.rstrip("."), Msg("expected a table, got {kind}", kind=type(table).__name__))
        raise SpecError(shown, problems)
    spec = check_spec(table, checker, prefix, fallback_name)
    if spec is None or problems:
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise SpecError(shown, problems)
    return dataclasses.replace(spec, path=shown)


def _tool_table(data: dict[str, Any]) -> object:
    tool = data.get("tool")
    return tool.get("torchenv") if isinstance(tool, dict) else None


def _error_line(exc: Exception, text: str) -> int | None:
    line = getattr(exc, "lineno", None)  # Python 3.14 and newer tomli carry it
    if isinstance(line, int) and line > 0:
        return line
    match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
    if match:
        return int(match.group(1))
    if "end of document" in str(exc):
        return max(1, len(text.splitlines()))
    return None


def _reason(exc: Exception) -> str:
    message = getattr(exc, "msg", None)
    if isinstance(message, str) and message:
        return message
    return re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))


def spec_directory(spec: Spec, cwd: Path) -> Path:
    """The directory everything relative in the spec is resolved against, and where its lock,
    environment and generated files go: the spec file's directory (``cwd`` for a spec that was
    not read from a file). The one definition: a path in the spec means the same thing
    whichever directory torchenv is run from."""
    return Path(spec.path).parent if spec.path else cwd


def machine_paths(spec: Spec, cwd: Path) -> tuple[Path, ...]:
    """``targets.machines`` resolved against the spec's directory."""
    base = spec_directory(spec, cwd)
    return tuple(base / Path(m).expanduser() for m in spec.targets.machines)


def spec_channels(spec: Spec, cwd: Path) -> tuple[str, ...]:
    """``index.channels`` with local directories made absolute against the spec's directory
    (names and URLs as written), in the spec's order: its priority."""
    base = spec_directory(spec, cwd)
    return tuple(
        str((base / Path(c).expanduser()).resolve()) if is_channel_path(c) else c
        for c in spec.index.channels
    )


# lists whose order an installer ignores, sorted before hashing or comparing
_UNORDERED = ("libraries", "packages", "targets.gpus", "targets.machines")


def spec_inputs(spec: Spec) -> dict[str, str]:
    """What defines the environment as flat "key": "text" pairs ("torch": "==2.13.*",
    "targets.gpus": "8.6, H100", "index.pytorch": "false"), for the lock to keep so that
    ``lock --check`` can name the field that changed. Index URLs lose their credentials: a
    lock is shared."""
    from torchenv.untrusted.text import strip_credentials, strip_url_credentials  # noqa: PLC0415

    data = to_data(spec)
    for key in ("path", "image", "deploy"):
        data.pop(key, None)
    flat: dict[str, str] = {}

    def put(key: str, value: object) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                put(f"{key}.{name.replace('_', '-')}" if key else name, inner)
            return
        if isinstance(value, (list, tuple)):
            items = [str(v) for v in value]
            text = ", ".join(sorted(items) if key in _UNORDERED else items)
        else:
            text = "" if value is None else str(value)
        if key == "index.pytorch" and value is None:
            text = "false"
        elif key.startswith("index."):
            text = ", ".join(strip_credentials(part) for part in text.split(", ") if part)
        # a package may be a URL with a token in it (`priv @ https://u:t@host/x.whl`)
        flat[key] = strip_url_credentials(text)

    put("", data)
    return flat


def spec_hash(spec: Spec) -> str:
    """sha256 of a canonical JSON form of what defines the environment: every field except the
    file it was read from and the [image] and [deploy] tables. Lists whose order does not matter
    to an installer are sorted, so reordering them in the file does not make a lock stale."""
    data = to_data(spec)
    for key in ("path", "image", "deploy"):  # how it is shipped does not change the environment
        data.pop(key, None)
    for key in ("libraries", "packages"):
        data[key] = sorted(data[key])
    for key in ("gpus", "machines"):
        data["targets"][key] = sorted(data["targets"][key])
    canonical = json.dumps(
        {"spec-hash": _SPEC_HASH_VERSION, "spec": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
