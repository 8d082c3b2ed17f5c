"""`torchenv matrix`: the knowledge base as a table and as torchenv.matrix/1 JSON."""

from __future__ import annotations

import json

import pytest

from torchenv import cli
from torchenv.commands.matrix import run_matrix
from torchenv.models import from_data
from torchenv.models.matrix import MatrixReport
from torchenv.report.render_matrix import compact_archs, compact_python, render_matrix


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["matrix", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    doc = json.loads(out)
    assert code == 0 and next(iter(doc)) == "schema" and doc["schema"] == "torchenv.matrix/1"
    versions = [row["torch"] for row in doc["rows"]]
    assert versions[0] == "2.15.0" and versions[-1] == "1.13.0"  # newest first
    assert len(versions) == len(set(versions)) == 30
    row = next(r for r in doc["rows"] if r["torch"] == "2.13.0")
    assert row["released"] == "2026-07-08" and row["pypi_variant"] == "cu130"
    assert row["cuda"] == "13.0" and row["driver_floor"] == "580.65.06"
    assert row["archs"][0] == "sm_75" and row["index_variants"][-1] == "cpu"
    assert row["torchvision"] == "0.28.0" and row["torchaudio"] == "2.11.1"
    assert set(row["source"].split(",")) >= {"S1", "S3", "S4", "S10a"}
    assert doc["origin"] == "packaged data retrieved 2026-11-23"
    ids = [s["id"] for s in doc["sources"]]
    assert {"S1", "S3", "S4", "S10a"} <= set(ids) and ids.index("S4") < ids.index("S10a")
    report = from_data(MatrixReport, doc)
    assert report.rows[0].torch == "2.15.0"


def test_filter_with_a_specifier(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--torch", ">=2.14", "--json")
    doc = json.loads(out)
    assert [r["torch"] for r in doc["rows"]] == ["2.15.0", "2.14.1", "2.14.0"]
    assert doc["torch_spec"] == ">=2.14"
    _, out, _ = run(capsys, "--torch", "==2.13.*", "--json")
    assert [r["torch"] for r in json.loads(out)["rows"]] == ["2.13.0"]


@pytest.mark.parametrize("spec", ["foo", ">>2.8", "2.x", "==2.6.0 extra", "2.13.0+foo"])
def test_malformed_specifier_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    code, out, err = run(capsys, "--torch", spec)
    assert code == 2 and out == ""
    # the message of plan --torch: one parser for both commands
    assert f'--torch "{spec}" is not a version or a version specifier.' in err
    assert ">=2.8" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "versions"),
    [
        ("2.12", ["2.12.1", "2.12.0"]),  # any 2.12.x, as plan reads it (PEP 440 "==2.12": 2.12.0)
        ("2.12.0", ["2.12.0"]),
        ("==2.12", ["2.12.0"]),  # an explicit PEP 440 specifier keeps its meaning
        ("torch>=2.14", ["2.15.0", "2.14.1", "2.14.0"]),  # as in a requirements file
        ("torch==2.6.0", ["2.6.0"]),
        ("2.13.0+cu126", ["2.13.0"]),  # a build's release (a row shows every variant)
        (">=2.4,<2.5", ["2.4.1", "2.4.0"]),
        ("  ", None),
    ],
)
def test_torch_is_read_as_plan_reads_it(spec: str, versions: list[str] | None) -> None:
    rows = [row.torch for row in run_matrix(spec).rows]
    if versions is None:
        assert len(rows) == 30
    else:
        assert rows == versions
    assert run_matrix(spec).torch_spec == spec


def test_text_table_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--torch", ">=2.12,<2.14")
    assert code == 0 and "\x1b[" not in out
    lines = out.splitlines()
    header, first, second = lines[0], lines[1], lines[2]
    assert header.split()[:3] == ["torch", "released", "Python"]
    assert first.startswith("2.13.0  2026-07-08") and second.startswith("2.12.1  2026-06-17")
    # columns are aligned: each header starts where its values start
    assert first.index("cu130") == header.index("PyPI") == second.index("cu130")
    assert first.index("sm_75-sm_120") == header.index("GPU code")
    assert first.index("580.65.06") == header.index("driver>=")
    assert "cu126 cu129 cu130 cu132 rocm7.1 rocm7.2 xpu cpu" in first
    assert any(line.startswith("2.12.1: ") and "torchaudio" in line for line in lines)
    assert "Data: packaged data retrieved 2026-11-23" in out
    assert any(line.startswith("Sources: S1 S2 S3") for line in lines)


def test_unverified_variant_lists_are_marked(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--torch", "2.15.0")
    assert "cu132 cpu *" in out and "* variant list inferred" in out


def test_no_matching_release(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--torch", "==9.9")
    assert code == 0 and "No torch release in the knowledge base matches '==9.9'" in out


def test_renderer_emits_styled_segments() -> None:
    lines: list[list[tuple[str, str | None]]] = []
    render_matrix(lines.append, run_matrix("2.0.0"))
    assert lines[0][:3] == [("torch", "bold"), ("  ", None), ("released  ", "bold")]
    assert lines[1][0][0].startswith("2.0.0") and lines[1][0][1] == "bold"
    notes = [
        "".join(text for text, _ in line) for line in lines if line and line[0][0] == "2.0.0: "
    ]
    assert any("0.15.0 is yanked" in note for note in notes)


def test_compact_helpers() -> None:
    assert compact_archs(("sm_75", "sm_80", "sm_120")) == "sm_75-sm_120"
    assert compact_archs(("sm_80", "sm_90", "sm_100", "sm_120", "compute_120")) == (
        "sm_80-sm_120+PTX"
    )
    assert compact_archs(("sm_90",)) == "sm_90" and compact_archs(()) == "-"
    assert compact_archs(("compute_87",)) == "PTX only"
    assert compact_python(("3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t")) == (
        "3.10-3.14 +3.13t,3.14t"
    )
    assert compact_python(("3.9", "3.10")) == "3.9-3.10" and compact_python(()) == "-"
