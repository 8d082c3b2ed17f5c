"""``torchenv doctor --explain RULE`` and ``--list-rules`` as lines of styled segments.

One rule: a title line (id, severity, summary), then "What it means", "How torchenv detects
it", "How to fix it" (one entry per installer) and "Sources". Prose is wrapped at ``width``
without breaking inside a `code span`, so a command stays on one line where it fits.

The explanations and summaries are English in the model (``N_`` constants: docs/rules/ and the
JSON are written from them); they are translated here, where they are shown. Chinese text has
no spaces and takes two columns a character, so the wrapping counts columns and may break
between two wide characters (as cli/translate.py does for click's help, which this layer may
not import).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from torchenv.i18n import N_, Msg, _, shown
from torchenv.models import RuleInfo
from torchenv.report.explain import RuleExplanation, RuleGroup
from torchenv.report.render_text import STYLE
from torchenv.report.segments import Emit, Segment, pad
from torchenv.report.segments import width as columns

WIDTH = 88
INDENT = "  "
# the label shown for each installer in "How to fix it"
INSTALLER_LABELS = {"uv": "uv", "pip": "pip", "conda": "conda", "any": N_("any installer")}
# a code span, one whitespace run, or one character
_TOKEN = re.compile(r"`[^`]*`|\s+|.", re.DOTALL)
# a line may not start with closing punctuation, nor end with opening punctuation
_NO_LINE_START = frozenset("，。、；：！？）》」』】〕”’…,.;:!?)]}%")  # noqa: RUF001  (Chinese punctuation)
_NO_LINE_END = frozenset("（《「『【〔“‘")  # noqa: RUF001


def _wide(char: str) -> bool:
    return columns(char) == 2


def _units(text: str) -> list[tuple[str, bool]]:
    """The pieces a line may break between, each with whether a space comes before it: a run
    of narrow characters and code spans (a word, `a command`), or one wide character."""
    units: list[tuple[str, bool]] = []
    word, space = "", False
    for token in _TOKEN.findall(text):
        if token.isspace() or (len(token) == 1 and _wide(token)):
            if word:
                units.append((word, space))
                word, space = "", False
            if token.isspace():
                space = True
            else:
                units.append((token, space))
                space = False
        else:
            word += token
    if word:
        units.append((word, space))
    return units


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """``text`` filled to ``width`` columns: the first line starts with ``first``, the others
    with ``rest``; a `code span` is never broken (a longer one gets a line of its own). Lines
    break at spaces, and between wide characters; closing punctuation does not start a line
    and opening punctuation does not end one: they take their neighbour along, or closing
    punctuation stays after a word that fills a line of its own."""
    lines: list[str] = []
    prefix, line = first, list[tuple[str, bool]]()
    used = columns(prefix)
    for unit, space in _units(text):
        cost = columns(unit) + (1 if line and space else 0)
        closing = unit[0] in _NO_LINE_START and not space
        if line and used + cost > width and not (closing and len(line) == 1):
            carried: list[tuple[str, bool]] = []
            if len(line) > 1 and (closing or line[-1][0] in _NO_LINE_END):
                carried = [line.pop()]
            lines.append(prefix + _joined(line))
            prefix, line = rest, carried
            used = columns(prefix) + columns(_joined(line))
            cost = columns(unit) + (1 if line and space else 0)
        line.append((unit, space))
        used += cost
    lines.append(prefix + _joined(line))
    return lines


def _joined(units: list[tuple[str, bool]]) -> str:
    return "".join((" " if space and i else "") + unit for i, (unit, space) in enumerate(units))


def _text(text: str) -> str:
    """Prose of the model in this process's language: an ``N_`` constant through the catalog,
    a ``Msg`` with its fields."""
    return shown(text) if isinstance(text, Msg) else _(text)


def _paragraph(emit: Emit, text: str, width: int) -> None:
    for line in wrap(_text(text), width, INDENT, INDENT):
        emit([(line, None)])


def _heading(emit: Emit, text: str) -> None:
    emit([])
    emit([(text, "bold")])


def _label(installer: str) -> str:
    """``uv:``, ``any installer:``; a full-width colon after a Chinese label."""
    name = _(INSTALLER_LABELS.get(installer, installer))
    return name + ("：" if name and _wide(name[-1]) else ":")  # noqa: RUF001  (a Chinese colon)


def title_segments(info: RuleInfo) -> list[Segment]:
    segments: list[Segment] = [
        (info.id, "bold"),
        ("  ", None),
        (info.severity.value, STYLE[info.severity]),
    ]
    if info.needs == "deep":
        segments.append(("  (--deep)", "dim"))
    return segments


def render_explanation(
    emit: Emit, info: RuleInfo, explanation: RuleExplanation | None, width: int = WIDTH
) -> None:
    emit(title_segments(info))
    for line in wrap(_text(info.summary), width, INDENT, INDENT):
        emit([(line, None)])
    if info.catalog:
        catalog = _("failure catalog: {case}").format(case=info.catalog)
        emit([(f"{INDENT}{catalog}", "dim")])
    if explanation is None:
        emit([])
        emit([(INDENT + _("no explanation is written for this rule yet"), "dim")])
        return
    _heading(emit, _("What it means"))
    _paragraph(emit, explanation.meaning, width)
    _heading(emit, _("How torchenv detects it"))
    _paragraph(emit, explanation.detection, width)
    _heading(emit, _("How to fix it"))
    labels = [(_label(installer), text) for installer, text in explanation.fixes]
    label_width = max(columns(label) for label, _fix in labels) + 1
    indent = INDENT + " " * label_width
    for label, text in labels:
        lines = wrap(_text(text), width, indent, indent)
        emit([(INDENT, None), (pad(label, label_width), "bold"), (lines[0][len(indent) :], None)])
        for line in lines[1:]:
            emit([(line, None)])
    _heading(emit, _("Sources"))
    for source in explanation.sources:
        emit([(f"{INDENT}- {source}", None)])


def render_rule_listing(emit: Emit, groups: Sequence[RuleGroup]) -> None:
    """One line per rule, grouped by family: id, severity, catalog case, summary, (--deep)."""
    rules = [info for group in groups for info in group.rules]
    id_width = max((len(info.id) for info in rules), default=0)
    catalog_width = max((len(info.catalog or "-") for info in rules), default=1)
    for index, group in enumerate(groups):
        if index:
            emit([])
        emit([(_text(group.title), "bold")])
        for info in group.rules:
            line: list[Segment] = [
                (INDENT, None),
                (info.id.ljust(id_width), "bold"),
                ("  ", None),
                (info.severity.value.ljust(7), STYLE[info.severity]),
                ("  ", None),
                ((info.catalog or "-").ljust(catalog_width), "dim"),
                ("  ", None),
                (_text(info.summary), None),
            ]
            if info.needs == "deep":
                line.append((" (--deep)", "dim"))
            emit(line)
    emit([])
    command = "torchenv doctor --explain RULE"
    before, _field, after = _("{count} rules. {command} explains one.").partition("{command}")
    emit(
        [
            (before.format(count=len(rules)), None),
            (command, "bold"),
            (after.format(count=len(rules)), None),
        ]
    )
