"""Every doctor rule has a full explanation, the renderers show its sections, and docs/rules/ is
what the generator writes now."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchenv.models import Severity
from torchenv.report.explain import (
    INSTALLERS,
    all_explanations,
    explained_ids,
    explanation_for,
    lookup_rule,
    rule_info,
    rule_listing,
    unknown_rule_message,
)
from torchenv.report.explain import docs as explain_docs
from torchenv.report.render_explain import render_explanation, render_rule_listing, wrap
from torchenv.report.rules import REGISTRY
from torchenv.report.segments import Segment

ROOT = Path(__file__).parents[3]
DOCS = ROOT / "docs" / explain_docs.SUBDIR
IDS = [r.info.id for r in REGISTRY]
# `conda install -c pytorch` (or --channel pytorch, pytorch::) names the retired channel; a fix
# may show it only as the thing to replace
RETIRED_CHANNEL = re.compile(r"(?:-c|--channel)\s+pytorch(?![\w-])|pytorch::")
REPLACING = ("replace", "instead of", "drop")


class Lines:
    def __init__(self) -> None:
        self.lines: list[list[Segment]] = []

    def __call__(self, segments: list[Segment]) -> None:
        self.lines.append(segments)

    @property
    def text(self) -> str:
        return "\n".join("".join(text for text, _ in line) for line in self.lines)


def test_every_registered_rule_has_an_explanation() -> None:
    missing = [i for i in IDS if explanation_for(i) is None]
    assert not missing, f"rules without an explanation in src/torchenv/report/explain: {missing}"


def test_every_explanation_is_of_a_registered_rule() -> None:
    stray = sorted(explained_ids() - set(IDS))
    assert not stray, f"explanations of rules that are not registered: {stray}"


def test_all_explanations_follow_the_registry_order() -> None:
    assert [e.id for e in all_explanations()] == IDS


@pytest.mark.parametrize("rule_id", IDS)
def test_explanation_is_complete(rule_id: str) -> None:
    explanation = explanation_for(rule_id)
    assert explanation is not None
    assert explanation.meaning.strip() and explanation.detection.strip()
    assert explanation.fixes and explanation.sources
    for installer, text in explanation.fixes:
        assert installer in INSTALLERS, f"{rule_id}: unknown installer {installer!r}"
        assert text.strip()
    for source in explanation.sources:
        assert source.startswith("https://") or re.match(
            r"^(failure-catalog|compat-matrix)\.md §\d", source
        ), f"{rule_id}: source {source!r} is neither a URL nor a reference"
    # meaning: 2-5 sentences of plain prose
    prose = explanation.meaning.strip().replace("e.g. ", "eg ")
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Za-z`(\"])", prose)
    assert 2 <= len(sentences) <= 5, f"{rule_id}: {len(sentences)} sentences"


@pytest.mark.parametrize("rule_id", IDS)
def test_detection_says_whether_it_needs_deep(rule_id: str) -> None:
    info, explanation = rule_info(rule_id), explanation_for(rule_id)
    assert info is not None and explanation is not None
    if info.needs == "deep":
        assert "--deep" in explanation.detection and "not needed" not in explanation.detection
    else:
        assert "`--deep` is not needed" in explanation.detection


def test_no_fix_installs_torch_from_the_retired_pytorch_channel() -> None:
    offending = [
        (e.id, text)
        for e in all_explanations()
        for _, text in e.fixes
        if RETIRED_CHANNEL.search(text) and not any(w in text.lower() for w in REPLACING)
    ]
    assert not offending, f"fixes that use the frozen pytorch conda channel: {offending}"


def test_the_retired_channel_check_catches_it() -> None:
    assert RETIRED_CHANNEL.search("conda install pytorch pytorch-cuda=12.1 -c pytorch -c nvidia")
    assert RETIRED_CHANNEL.search("conda install pytorch::pytorch")
    assert not RETIRED_CHANNEL.search("conda install -c conda-forge pytorch-gpu")
    assert not RETIRED_CHANNEL.search("conda install -c pytorch-nightly")


def test_conda_fixes_use_conda_forge_for_torch() -> None:
    for explanation in all_explanations():
        for installer, text in explanation.fixes:
            installs = "conda install" in text or "conda create" in text
            if installer == "conda" and installs and re.search(r"\bpytorch(-gpu|-cpu)?\b", text):
                assert "-c conda-forge" in text, (explanation.id, text)


def test_pip_and_uv_fixes_name_real_pytorch_indexes() -> None:
    for explanation in all_explanations():
        for _, text in explanation.fixes:
            for url in re.findall(r"https://download\.pytorch\.org/\S*", text):
                assert re.match(r"https://download\.pytorch\.org/whl/(cu\d+|cuXYZ|cpu)`?", url), (
                    explanation.id,
                    url,
                )


def test_render_explanation_has_the_sections() -> None:
    lines = Lines()
    found = lookup_rule("driver-too-old-for-build")
    assert found.info is not None
    render_explanation(lines, found.info, found.explanation)
    text = lines.text
    first = "".join(t for t, _ in lines.lines[0])
    assert first.startswith("driver-too-old-for-build") and "error" in first
    assert found.info.summary in text
    for heading in ("What it means", "How torchenv detects it", "How to fix it", "Sources"):
        assert f"\n{heading}\n" in text
    assert "  pip:" in text and "  any installer:" in text
    assert "failure-catalog.md §4 A3" in text
    severity = next(seg for seg in lines.lines[0] if seg[0] == "error")
    assert severity[1] == "bold red"


def test_render_explanation_marks_deep_rules() -> None:
    lines = Lines()
    found = lookup_rule("cuda-op-failed")
    assert found.info is not None and found.info.needs == "deep"
    render_explanation(lines, found.info, found.explanation)
    assert "(--deep)" in "".join(t for t, _ in lines.lines[0])


def test_render_explanation_without_text() -> None:
    lines = Lines()
    info = rule_info("no-c-compiler")
    assert info is not None
    render_explanation(lines, info, None)
    assert "no explanation" in lines.text


def test_wrap_keeps_code_spans_whole() -> None:
    text = "run `pip install --force-reinstall torch==2.8.0+cu126` then reboot the machine now"
    lines = wrap(text, 30, "  ", "    ")
    assert lines[0] == "  run"
    assert "`pip install --force-reinstall torch==2.8.0+cu126`" in lines[1]
    assert all(len(line) <= 30 for line in lines if "`" not in line)
    assert " ".join(line.strip() for line in lines) == text


def test_rule_listing_covers_the_registry_by_family() -> None:
    groups = rule_listing()
    assert [i.id for g in groups for i in g.rules] == IDS
    assert groups[0].family == "environment" and groups[-1].family == "runtime"
    assert all(g.title for g in groups)


def test_render_rule_listing() -> None:
    lines = Lines()
    render_rule_listing(lines, rule_listing())
    text = lines.text
    assert "Driver, torch build and GPUs" in text
    row = next(line for line in text.splitlines() if "driver-too-old-for-build" in line)
    assert "error" in row and "A3" in row and "minimum for the build's CUDA" in row
    deep_row = next(line for line in text.splitlines() if "runtime-check-failed" in line)
    assert deep_row.endswith("(--deep)")
    assert f"{len(IDS)} rules" in text
    styles = {s for line in lines.lines for _, s in line}
    assert {"bold red", "yellow", "cyan"} <= styles


def test_lookup_finds_a_rule_forgiving_case_and_underscores() -> None:
    found = lookup_rule("  Driver_Too_Old_For_Build ")
    assert found.info is not None and found.info.id == "driver-too-old-for-build"
    assert found.explanation is explanation_for("driver-too-old-for-build")
    assert found.info.severity is Severity.ERROR


def test_lookup_of_an_unknown_id_offers_close_matches() -> None:
    typo = lookup_rule("driver-to-old-for-bild")
    assert typo.info is None and typo.suggestions[0] == "driver-too-old-for-build"
    message = unknown_rule_message(typo)
    assert message == "no rule 'driver-to-old-for-bild'; did you mean driver-too-old-for-build?"
    assert lookup_rule("shm").suggestions == ("container-shm-too-small",)
    by_case = lookup_rule("a3").suggestions
    assert by_case == ("driver-too-old-for-build", "driver-below-build-release")
    assert "did you mean one of" in unknown_rule_message(lookup_rule("A3"))
    nothing = lookup_rule("xyzzy")
    assert nothing.suggestions == () and "--list-rules" in unknown_rule_message(nothing)


def test_markdown_escapes_prose_but_not_code() -> None:
    text = "run `pip install <pkg>` in <prefix>, cudnn* | x"
    assert explain_docs.md_text(text) == r"run `pip install <pkg>` in &lt;prefix>, cudnn\* \| x"
    issue = "https://github.com/pytorch/pytorch/issues/138506"
    assert explain_docs.source_line(issue) == f"[pytorch/pytorch#138506]({issue})"
    pr = "https://github.com/pytorch/pytorch/pull/174320"
    assert explain_docs.source_line(pr) == f"[pytorch/pytorch PR #174320]({pr})"
    assert explain_docs.source_line("https://x.org/a") == "<https://x.org/a>"


def test_generated_pages_have_every_section() -> None:
    files = explain_docs.generate()
    assert set(files) == {f"{i}.md" for i in IDS} | {explain_docs.INDEX}
    page = files["conda-cpu-variant.md"]
    assert page.startswith(explain_docs.MARKER + "\n")
    for heading in ("What it means", "How torchenv detects it", "How to fix it", "Sources"):
        assert f"\n## {heading}\n" in page
    assert "- **conda:**" in page and "Failure catalog: E3" in page
    index = files[explain_docs.INDEX]
    for rule_id in IDS:
        assert f"[`{rule_id}`]({rule_id}.md)" in index
    assert files == explain_docs.generate()  # deterministic


def test_committed_docs_match_the_generator(tmp_path: Path) -> None:
    explain_docs.write_docs(tmp_path)
    want = {p.name: p.read_bytes() for p in sorted((tmp_path / explain_docs.SUBDIR).iterdir())}
    have = {p.name: p.read_bytes() for p in sorted(DOCS.glob("*.md"))} if DOCS.is_dir() else {}
    stale = sorted(set(have) - set(want))
    missing = sorted(set(want) - set(have))
    changed = sorted(n for n in set(want) & set(have) if want[n] != have[n])
    assert not (stale or missing or changed), (
        f"docs/rules/ is out of date (missing {missing}, changed {changed}, stale {stale}); "
        f"run `{explain_docs.COMMAND}`"
    )


def test_write_docs_removes_only_its_own_stale_pages(tmp_path: Path) -> None:
    folder = tmp_path / explain_docs.SUBDIR
    folder.mkdir()
    (folder / "retired-rule.md").write_text(explain_docs.MARKER + "\n\nold\n")
    (folder / "notes.md").write_text("# hand-written\n")
    (folder / "README.md").write_text(explain_docs.MARKER + "\nstale index\n")
    written, removed = explain_docs.write_docs(tmp_path)
    assert removed == [folder / "retired-rule.md"]
    assert (folder / "notes.md").read_text() == "# hand-written\n"
    assert folder / "README.md" in written
    again_written, again_removed = explain_docs.write_docs(tmp_path)
    assert again_written == [] and again_removed == []


def test_docs_main_writes_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert explain_docs.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "rules" / "README.md").is_file()
    assert f"{len(IDS) + 1} files" in capsys.readouterr().out
