"""YAML text of generated files: a comment header, then the documents in the order written; and
the comment lines of every generated file (YAML, Dockerfile, shell).

A comment carries text from outside torchenv (a directory name, the spec's file name). A line
break in it would end the comment, and what follows would be read as YAML, as a Dockerfile
instruction or as a shell command, so each line of a comment is made inert here: every line
break that Python's ``str.splitlines`` knows (a superset of YAML's, the Dockerfile parser's and
the shell's) starts a new ``#`` line, and control characters are shown as escapes. PyYAML also
refuses to read a file holding some characters even in a comment (C0/C1 controls, lone
surrogates, U+FFFE/U+FFFF: yaml/reader.py, NON_PRINTABLE), so those are escaped as well.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from torchenv.untrusted.text import printable

# what ``printable`` leaves but a YAML reader or a UTF-8 encoder refuses: lone surrogates (an
# undecodable byte of a file name, as os.fsdecode gives it) and the two non-characters
_UNREADABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases (&id001 / *id001) when one dict appears twice: a reader of the
    file should see every value where it applies."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def comment_lines(text: str, marker: str = "#") -> list[str]:
    """``text`` as comment lines: one ``marker`` line per line of it, none of which can end
    the comment early."""
    lines = []
    for line in text.splitlines():
        shown = _UNREADABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", printable(line))
        lines.append(f"{marker} {shown}".rstrip())
    return lines


def yaml_text(header: str, documents: list[dict[str, Any]]) -> str:
    comment = "".join(f"{line}\n" for line in comment_lines(header))
    body = yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, width=100)
    return comment + body
