"""``PYTORCH_RELEASES_CODE_CC``: the GPU code torch says each of its CUDA builds carries.

From torch 2.11 on, ``torch/cuda/__init__.py`` holds a module-level literal that torch itself
uses to tell a user which release supports their GPU (``_warn_unsupported_code``). Two shapes are
on PyPI (read from the Linux x86_64 cp311 wheels on 2026-12-07):

- 2.11.0, 2.12.x: CUDA version -> set of compute capabilities as ints,
  ``{"12.6": {50, 60, 70, 80, 86, 90}, ...}``; the 2.12 comment calls it "the union of x86_64 and
  aarch64 build matrices", 2.11's names no host; both are recorded under ``linux_x86_64``;
- 2.13.0 on: CUDA version -> host (``x86_64``, ``aarch64``) -> set of ints ("keyed by host arch").

The file is parsed, never run: ``ast.parse`` and ``ast.literal_eval`` of the assigned value only.
The file is untrusted input (any index can serve any wheel), so its size, the size of the literal
and every type are checked, and a problem is a ``CodeTableError`` with the reason: the caller
reports it and records nothing.
"""

from __future__ import annotations

import ast
import re
from typing import Any

MEMBER = "torch/cuda/__init__.py"
NAME = "PYTORCH_RELEASES_CODE_CC"
# torch/cuda/__init__.py is 66-72 kB in 2.11-2.15; the cap leaves room for growth and bounds
# what ast.parse is given (a 512 kB literal parses in about a second)
MAX_SOURCE = 512 << 10
# the 2.13 literal is ~80 nodes (4 CUDA versions x 2 hosts x 5-7 ints): room for growth, while
# ast.literal_eval never builds a huge object from a hostile file
MAX_NODES = 4000
HOSTS = {"x86_64": "linux_x86_64", "aarch64": "linux_aarch64"}
_CUDA = re.compile(r"\d{1,2}\.\d{1,2}")


class CodeTableError(ValueError):
    """The table is there but cannot be used; the message says why."""


def parse_code_cc(source: str) -> dict[str, dict[str, list[str]]] | None:
    """CUDA version -> platform -> ["sm_50", ...] from the source of torch/cuda/__init__.py;
    None when the module assigns no table (torch before 2.11)."""
    if NAME not in source:
        return None
    if len(source) > MAX_SOURCE:
        raise CodeTableError(f"the file has {len(source)} characters, more than {MAX_SOURCE}")
    value = _assigned_value(source)
    if value is None:
        return None
    for count, _ in enumerate(ast.walk(value), 1):
        if count > MAX_NODES:
            raise CodeTableError(f"the value has more than {MAX_NODES} syntax nodes")
    try:
        table = ast.literal_eval(value)
    except ValueError:  # literal_eval's "malformed node": a call, a name, an operator
        raise CodeTableError("the value is not a literal (it holds a call or a name)") from None
    except (TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise CodeTableError(f"the value is not a literal ({_short(exc)})") from None
    return _normalise(table)


def _assigned_value(source: str) -> ast.expr | None:
    """The value of the last module-level ``NAME = ...`` or ``NAME: T = ...`` (the one in force
    when the module has run)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        # ValueError: NUL bytes; RecursionError/MemoryError: absurd nesting (CPython's parser)
        raise CodeTableError(f"the file does not parse ({_short(exc)})") from None
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == NAME for t in node.targets):
                found = node.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == NAME
            and node.value is not None
        ):
            found = node.value
    return found


def _normalise(table: Any) -> dict[str, dict[str, list[str]]]:
    if not isinstance(table, dict) or not table:
        raise CodeTableError(f"the value is {_kind(table)}, not a dict of CUDA versions")
    result: dict[str, dict[str, list[str]]] = {}
    for cuda, entry in table.items():
        if not (isinstance(cuda, str) and _CUDA.fullmatch(cuda)):
            raise CodeTableError(f"a key is {_kind(cuda)}, not a CUDA version such as '13.0'")
        if isinstance(entry, dict):  # 2.13 on: per host
            by_platform = {}
            for host, codes in entry.items():
                if not isinstance(host, str):
                    raise CodeTableError(f"CUDA {cuda}: a host is {_kind(host)}, not a name")
                if host in HOSTS:  # a host a later torch adds is not a platform recorded here
                    by_platform[HOSTS[host]] = _codes(cuda, codes)
        else:  # 2.11, 2.12: one set
            by_platform = {"linux_x86_64": _codes(cuda, entry)}
        if by_platform:
            result[cuda] = {p: by_platform[p] for p in HOSTS.values() if p in by_platform}
    if not result:
        raise CodeTableError("no CUDA version lists an x86_64 or aarch64 build")
    return dict(sorted(result.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


def _codes(cuda: str, codes: Any) -> list[str]:
    """{50, 90, 100} -> ["sm_50", "sm_90", "sm_100"] (torch encodes 9.0 as 90, 10.0 as 100)."""
    if not isinstance(codes, (set, frozenset, list, tuple)):
        raise CodeTableError(f"CUDA {cuda}: {_kind(codes)}, not a set of compute capabilities")
    bad = [c for c in codes if type(c) is not int or not 10 <= c <= 999]  # bool is not an int here
    if bad:
        raise CodeTableError(f"CUDA {cuda}: {str(bad[0])[:40]!r} is not a compute capability")
    return [f"sm_{c}" for c in sorted(set(codes))]


def _kind(value: Any) -> str:
    return f"a {type(value).__name__}"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:80]}" if text else type(exc).__name__
