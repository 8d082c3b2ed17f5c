"""``torchenv doctor --explain RULE`` and ``--list-rules`` as lines of styled segments.

One rule: a title line (id, severity, summary), then "What it means", "How torchenv detects
it", "How to fix it" (one entry per installer) and "Sources". Prose is wrapped at ``width``
without breaking inside a `code span`, so a command stays on one line where it fits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from torchenv.models import RuleInfo
from torchenv.report.explain import RuleExplanation, RuleGroup
from torchenv.report.render_text import STYLE
from torchenv.report.segments import Emit, Segment

WIDTH = 88
INDENT = "  "
# the label shown for each installer in "How to fix it"
INSTALLER_LABELS = {"uv": "uv", "pip": "pip", "conda": "conda", "any": "any installer"}
_TOKEN = re.compile(r"(?:`[^`]*`|[^\s`])+|`")  # a word, code spans kept whole


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """``text`` filled to ``width`` columns: the first line starts with ``first``, the others
    with ``rest``; a `code span` is never broken (a longer one gets a line of its own)."""
    lines: list[str] = []
    line = first
    empty = True
    for word in _TOKEN.findall(text):
        if not empty and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, empty = rest, True
        line += word if empty else " " + word
        empty = False
    lines.append(line)
    return lines


def _paragraph(emit: Emit, text: str, width: int) -> None:
    for line in wrap(text, width, INDENT, INDENT):
        emit([(line, None)])


def _heading(emit: Emit, text: str) -> None:
    emit([])
    emit([(text, "bold")])


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
    for line in wrap(info.summary, width, INDENT, INDENT):
        emit([(line, None)])
    if info.catalog:
        emit([(f"{INDENT}failure catalog: {info.catalog}", "dim")])
    if explanation is None:
        emit([])
        emit([(f"{INDENT}no explanation is written for this rule yet", "dim")])
        return
    _heading(emit, "What it means")
    _paragraph(emit, explanation.meaning, width)
    _heading(emit, "How torchenv detects it")
    _paragraph(emit, explanation.detection, width)
    _heading(emit, "How to fix it")
    label_width = max(len(INSTALLER_LABELS.get(i, i)) for i, _ in explanation.fixes) + 2
    for installer, text in explanation.fixes:
        label = f"{INSTALLER_LABELS.get(installer, installer)}:".ljust(label_width)
        lines = wrap(text, width, INDENT + " " * label_width, INDENT + " " * label_width)
        emit([(INDENT, None), (label, "bold"), (lines[0][len(INDENT) + label_width :], None)])
        for line in lines[1:]:
            emit([(line, None)])
    _heading(emit, "Sources")
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
        emit([(group.title, "bold")])
        for info in group.rules:
            line: list[Segment] = [
                (INDENT, None),
                (info.id.ljust(id_width), "bold"),
                ("  ", None),
                (info.severity.value.ljust(7), STYLE[info.severity]),
                ("  ", None),
                ((info.catalog or "-").ljust(catalog_width), "dim"),
                ("  ", None),
                (info.summary, None),
            ]
            if info.needs == "deep":
                line.append((" (--deep)", "dim"))
            emit(line)
    emit([])
    emit(
        [
            (f"{len(rules)} rules. ", None),
            ("torchenv doctor --explain RULE", "bold"),
            (" explains one.", None),
        ]
    )
