"""``verify --junit FILE``: the checks as JUnit XML, the test report format every CI system
shows (GitHub Actions through a reporter action, GitLab's ``artifacts:reports:junit``, Jenkins).

One ``testsuite`` per run; one ``testcase`` per check (``name`` the check id, with ``[gpuN]``
for a per-GPU check); a failed check carries ``<failure message=...>`` with what was seen, a
skipped one ``<skipped message=...>``. The environment's facts are ``properties``, the
throughput figures and the allocator's state go to ``system-out``.

Details come from inside the environment (its torch prints them): anything XML 1.0 cannot carry
(control characters, lone surrogates) is replaced, and ElementTree escapes the rest, so the file
always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from torchenv.models.verify import CheckStatus, VerifyReport
from torchenv.report.render_verify import allocator_segments

# the characters XML 1.0 allows (section 2.2), everything else becomes U+FFFD
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE = 200  # characters of a failure's first line in its message attribute


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(report: VerifyReport, name: str = "torchenv verify") -> bytes:
    summary = report.summary
    counts = {
        "tests": str(len(report.checks)),
        "failures": str(summary.failed),
        "errors": "0",
        "skipped": str(summary.skipped),
        "time": f"{summary.seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": name, **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": xml_text(f"{name}: {report.target.prefix}"), **counts}
    )
    properties = ET.SubElement(suite, "properties")
    facts = {
        "prefix": report.target.prefix,
        "selected-by": report.target.selected_by,
        "torch": report.torch,
        "cuda": report.cuda,
        "python": report.python,
        "quick": str(summary.quick).lower(),
    }
    for key, value in facts.items():
        if value is not None:
            ET.SubElement(properties, "property", {"name": key, "value": xml_text(value)})
    for check in report.checks:
        case_name = check.id if check.gpu is None else f"{check.id}[gpu{check.gpu}]"
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": "torchenv.verify",
                "name": xml_text(case_name),
                "time": f"{check.seconds:.3f}",
            },
        )
        detail = xml_text(check.detail)
        first = detail.splitlines()[0][:_MESSAGE] if detail else ""
        if check.status == CheckStatus.FAIL:
            ET.SubElement(case, "failure", {"message": first, "type": "check-failed"}).text = detail
        elif check.status == CheckStatus.SKIP:
            ET.SubElement(case, "skipped", {"message": first})
    lines = [
        f"{p.check} gpu{p.gpu} {p.gpu_name}: {p.value:g} {p.unit}"
        + (f" ({p.percent:.0f}% of {p.peak:g})" if p.percent is not None and p.peak else "")
        for p in report.perf.entries
    ]
    for state in report.allocator:
        text = "".join(t for t, _ in allocator_segments(state))
        lines.append(f"allocator gpu{state.gpu}: {text}")
    if lines:
        ET.SubElement(suite, "system-out").text = xml_text("\n".join(lines))
    return _serialise(root)


def junit_error_xml(
    target: str | None,
    reference: str,
    message: str,
    hint: str | None,
    name: str = "torchenv verify",
) -> bytes:
    """The report of a verify that could not run (no environment found, the interpreter would
    not start, a timeout): one test case ``verify`` in error, so a CI job that publishes the
    report shows why instead of "no test report found"."""
    counts = {"tests": "1", "failures": "0", "errors": "1", "skipped": "0", "time": "0.000"}
    root = ET.Element("testsuites", {"name": name, **counts})
    title = f"{name}: {target}" if target else name
    suite = ET.SubElement(root, "testsuite", {"name": xml_text(title), **counts})
    case = ET.SubElement(
        suite, "testcase", {"classname": "torchenv.verify", "name": "verify", "time": "0.000"}
    )
    detail = message + (f"\nhint: {hint}" if hint else "")
    error = ET.SubElement(
        case,
        "error",
        {
            "message": xml_text(message.splitlines()[0][:_MESSAGE] if message else ""),
            "type": xml_text(reference),
        },
    )
    error.text = xml_text(detail)
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
