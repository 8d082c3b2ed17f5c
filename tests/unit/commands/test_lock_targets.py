"""``[targets] machines`` of a spec mean files beside the spec, wherever torchenv runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchenv.commands.lock import spec_plan
from torchenv.spec import load_spec

MACHINES = Path(__file__).parents[2] / "fixtures" / "machines"


def test_lock_reads_machine_files_beside_the_spec_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / "fleet").mkdir(parents=True)
    (project / "fleet" / "h100.json").write_text((MACHINES / "h100-node.json").read_text())
    (project / "torchenv.toml").write_text(
        'name = "a"\ntorch = "==2.13.0"\n[targets]\nmachines = ["fleet/h100.json"]\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative path resolved against this would not exist
    spec = load_spec(project / "torchenv.toml", elsewhere)
    plan = spec_plan(None, spec, elsewhere)
    assert [t.name for t in plan.targets] == ["h100.json"]
    assert plan.stack is not None
