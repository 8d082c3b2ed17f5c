"""click's own words in the user's language, and help laid out for Chinese text.

click marks its strings ("Usage:", "Options", "Show this message and exit.", its error
messages) with ``from gettext import gettext as _``: the process-wide default domain, which
torchenv does not own. When the language is not English, each click module's ``_`` and
``ngettext`` are pointed at torchenv's catalog of click's messages (``locale/*/click.po``,
extracted from click by ``scripts/i18n``); in English nothing here runs, and click is left
as it is. Only names that still are ``gettext.gettext`` are replaced: a click that stops
importing gettext that way keeps its English words rather than breaking.

click wraps help by counting characters, and breaks lines at spaces only: a Chinese paragraph
(two columns a character, no spaces) would run far past the terminal's edge. The formatter
below measures columns and may break between two Chinese characters.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

import click
from click import formatting

from torchenv import i18n
from torchenv.report.segments import width as display_width


def install() -> None:
    """Translate click's words for this process, unless its language is English (cli/__init__
    does not import this module then). The modules ``import click`` loads are translated; the
    two it loads on demand keep English rather than cost every start their import:
    click.shell_completion (its errors about old bash versions) and click._termui_impl (the
    pager, editor and progress bar, which torchenv does not use)."""
    catalog = i18n.translation(i18n.CLICK_DOMAIN)
    if catalog is None:
        return
    import gettext  # noqa: PLC0415  (not in English)

    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        names = vars(module)
        if names.get("_") is gettext.gettext:
            names["_"] = catalog.gettext
        if names.get("ngettext") is gettext.ngettext:
            names["ngettext"] = catalog.ngettext
    click.Context.formatter_class = WideHelpFormatter


# a line may not start with these (closing punctuation stays with what it closes)
_NO_LINE_START = set("，。、；：！？）》」』】〕…,.;:!?)]}%")  # noqa: RUF001  (Chinese punctuation)
_TOKENS = re.compile(r"\s+|[^\s]")


def _wide(char: str) -> bool:
    return display_width(char) == 2


def _words(text: str) -> Iterator[str]:
    """Spaces, single wide characters, and runs of other characters (a word, an option)."""
    word = ""
    for match in _TOKENS.finditer(text):
        token = match.group(0)
        if token.isspace() or _wide(token):
            if word:
                yield word
                word = ""
            yield " " if token.isspace() else token
        else:
            word += token
    if word:
        yield word


def wrap(text: str, width: int, indent: str = "", subsequent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` columns (a word longer than that stands alone),
    broken at spaces or between wide characters; closing punctuation does not start a line,
    it takes the word before it along."""
    lines: list[str] = []
    prefix, line = indent, list[str]()  # the words (and single spaces) of the line being filled
    for word in _words(text):
        if word == " ":
            if line and line[-1] != " ":
                line.append(" ")
            continue
        columns = display_width(prefix) + sum(display_width(w) for w in line)
        if line and columns + display_width(word) > width:
            while line and line[-1] == " ":
                line.pop()
            carried: list[str] = []
            if word[0] in _NO_LINE_START and len(line) > 1 and line[-2] != " ":
                carried = [line.pop()]
            lines.append(prefix + "".join(line))
            prefix, line = subsequent, carried
        line.append(word)
    while line and line[-1] == " ":
        line.pop()
    lines.append(prefix + "".join(line))
    return lines


def _paragraphs(text: str) -> Iterable[tuple[int, bool, str]]:
    """(indent, kept as written, text) of each paragraph, as click's wrap_text reads them: a
    paragraph that starts with a line holding only ``\\b`` is not rewrapped."""
    for block in re.split(r"\n\s*\n", text.expandtabs()):
        lines = block.splitlines()
        if not lines or not block.strip():
            continue
        indent = len(lines[0]) - len(lines[0].lstrip())
        if lines[0].strip() == "\b":
            yield indent, True, "\n".join(lines[1:])
            continue
        joined = ""
        for line in (part.strip() for part in lines):
            wide = joined and _wide(joined[-1]) and line and _wide(line[0])
            joined += line if (wide or not joined) else " " + line
        yield indent, False, joined


def wrap_paragraphs(text: str, width: int, indent: str = "") -> str:
    out = []
    for extra, raw, body in _paragraphs(text):
        prefix = indent + " " * extra
        if raw:
            out.append("\n".join(prefix + line for line in body.splitlines()))
        else:
            out.append("\n".join(wrap(body, width, prefix, prefix)))
    return "\n\n".join(out)


class WideHelpFormatter(formatting.HelpFormatter):
    """click's help formatter, measuring columns rather than characters."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:  # no space after the Chinese colon of "Usage:"
            catalog = i18n.translation(i18n.CLICK_DOMAIN)
            word = catalog.gettext("Usage:") if catalog is not None else "Usage:"
            prefix = word if _wide(word[-1]) else f"{word} "
        super().write_usage(prog, args, prefix)

    def write_heading(self, heading: str) -> None:
        colon = "：" if heading and _wide(heading[-1]) else ":"  # noqa: RUF001  (a Chinese colon)
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")

    def write_text(self, text: str) -> None:
        self.write(wrap_paragraphs(text, self.width, " " * self.current_indent))
        self.write("\n")

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        first_col = min(max((display_width(r[0]) for r in rows), default=0), col_max)
        first_col += col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - 2 - self.current_indent, 10)
            lines = wrap_paragraphs(second, text_width).splitlines() or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")
