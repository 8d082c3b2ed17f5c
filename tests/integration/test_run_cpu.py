"""`torchenv run` with the real CPU torch venv: the no-CUDA path end to end, and the
--memory-snapshot bootstrap (verify/scripts/memory_snapshot.py as sitecustomize) in the venv's
own Python: with a fake `torch` whose CUDA is "available" (no GPU here) it installs the hooks,
registers the OOM observer, dumps at exit and still runs the environment's own sitecustomize;
with the real CPU torch it changes nothing; torch's viewer renders a snapshot to HTML."""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path

import pytest

from integration.conftest import run_torchenv
from torchenv import cli
from torchenv.commands import host_context
from torchenv.commands import run as run_module

pytestmark = pytest.mark.integration

FAKE_TORCH = {
    "torch/__init__.py": (
        "import os\n"
        "from torch import _C, cuda\n"
        "def mark(text):\n"
        "    with open(os.path.join(os.environ['FAKE_OUT'], 'markers'), 'a') as f:\n"
        "        f.write(text + '\\n')\n"
        "mark('torch imported')\n"
    ),
    "torch/_C.py": (
        "observers = []\n"
        "def _cuda_attach_out_of_memory_observer(fn):\n"
        "    import torch; torch.mark('oom observer attached'); observers.append(fn)\n"
        "def fire_oom():\n"
        "    for fn in observers: fn(0, 1 << 30, 0, 0)\n"
    ),
    # torch.cuda.init() stands for torch's _lazy_init: it runs what _lazy_call queued
    "torch/cuda/__init__.py": (
        "import os\n"
        "from torch.cuda import memory\n"
        "_initialized, _queued = False, []\n"
        "def is_available():\n"
        "    return 'FAKE_NO_CUDA' not in os.environ\n"
        "def _lazy_call(fn):\n"
        "    _queued.append(fn) if not _initialized else fn()\n"
        "def init():\n"
        "    global _initialized\n"
        "    for fn in _queued: fn()\n"
        "    _initialized = True\n"
        "if 'FAKE_NO_LAZY_CALL' in os.environ: del _lazy_call\n"
    ),
    "torch/cuda/memory.py": (
        "import os, pickle\n"
        "def _record_memory_history(enabled='all', max_entries=None):\n"
        "    import torch\n"
        "    if 'FAKE_RECORD_FAILS' in os.environ: raise RuntimeError('CUDA error: busy')\n"
        "    torch.mark(f'recording max_entries={max_entries}')\n"
        "def _dump_snapshot(filename):\n"
        "    with open(filename, 'wb') as f:\n"
        "        pickle.dump({'segments': [], 'device_traces': [[]], 'pid': os.getpid()}, f)\n"
    ),
}


def write_tree(root: Path, tree: dict[str, str]) -> Path:
    for rel, text in tree.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def boot(tmp_path: Path) -> dict[str, Path]:
    """The hook as torchenv installs it, a fake torch, an environment's own sitecustomize."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_bytes(run_module.HOOK_SCRIPT.read_bytes())
    out, snaps = tmp_path / "out", tmp_path / "snaps"
    out.mkdir()
    snaps.mkdir(mode=0o700)
    user = write_tree(
        tmp_path / "user-site",
        {
            "sitecustomize.py": (
                "import os, sys\n"
                "with open(os.path.join(os.environ['FAKE_OUT'], 'markers'), 'a') as f:\n"
                "    f.write(f'user sitecustomize {__name__} {__file__}\\n')\n"
                "if 'FAKE_USER_FAILS' in os.environ: raise ValueError('broken site')\n"
            )
        },
    )
    fake = write_tree(tmp_path / "fake-torch", FAKE_TORCH)
    return {"hook": hook, "out": out, "snaps": snaps, "user": user, "fake": fake}


def run_in_venv(
    venv: Path, paths: dict[str, Path], program: str, torch: str = "fake", **extra: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``program`` in the venv's python with the hook first on PYTHONPATH, then the
    environment's own sitecustomize, then (torch="fake") the fake torch."""
    entries = [paths["hook"], paths["user"]] + ([paths["fake"]] if torch == "fake" else [])
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(map(str, entries)),
        run_module.DIR_VAR: str(paths["snaps"]),
        run_module.MAX_ENTRIES_VAR: "1234",
        "FAKE_OUT": str(paths["out"]),
        **extra,
    }
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    markers = paths["out"] / "markers"
    return done, markers.read_text().splitlines() if markers.exists() else []


def test_no_cuda_in_the_cpu_venv(
    torch_venv: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    snaps = tmp_path / "snaps"
    done = run_torchenv(
        "run",
        "--prefix",
        str(torch_venv),
        "--memory-snapshot",
        str(snaps),
        "--",
        "python",
        "-c",
        "import torch, sys; sys.exit(5)",
        cwd=tmp_path,
        env=clean_env,
        timeout=300,
    )
    assert done.returncode == 5, done.stderr
    assert (
        f"torchenv: no CUDA in {torch_venv} (CPU build): --memory-snapshot records nothing; "
        "running the command unchanged"
    ) in done.stderr.splitlines()
    assert snaps.is_dir() and not list(snaps.glob("*.pickle"))


def test_bootstrap_records_and_dumps(torch_venv: Path, boot: dict[str, Path]) -> None:
    program = (
        "import os, sys, torch\n"
        "assert not any('hook' == os.path.basename(p) for p in sys.path), sys.path\n"
        "assert type(torch.__loader__).__name__ == 'SourceFileLoader', torch.__loader__\n"
        "assert torch.__spec__.loader is torch.__loader__\n"
        "torch.cuda.init()\n"
        "torch._C.fire_oom()\n"
        "print(os.getpid())\n"
    )
    done, markers = run_in_venv(torch_venv, boot, program)
    assert done.returncode == 0, done.stderr
    assert "torchenv:" not in done.stderr
    pid = int(done.stdout.strip())
    user_site = boot["user"] / "sitecustomize.py"
    assert markers == [
        f"user sitecustomize sitecustomize {user_site}",
        "torch imported",
        "recording max_entries=1234",
        "oom observer attached",
    ]
    names = sorted(p.name for p in boot["snaps"].iterdir())
    assert names == [f"oom-{pid}-1.pickle", f"snapshot-{pid}.pickle"]
    snapshot = pickle.loads((boot["snaps"] / f"snapshot-{pid}.pickle").read_bytes())  # noqa: S301
    assert snapshot["pid"] == pid


def test_bootstrap_without_torch_imports_nothing(torch_venv: Path, boot: dict[str, Path]) -> None:
    program = "import sys; print('torch' in sys.modules, sys.modules['sitecustomize'].__file__)"
    done, markers = run_in_venv(torch_venv, boot, program)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.split() == ["False", str(boot["user"] / "sitecustomize.py")]
    assert markers == [f"user sitecustomize sitecustomize {boot['user'] / 'sitecustomize.py'}"]
    assert list(boot["snaps"].iterdir()) == []


def test_bootstrap_where_torch_never_initialises_cuda(
    torch_venv: Path, boot: dict[str, Path]
) -> None:
    done, markers = run_in_venv(torch_venv, boot, "import torch")
    assert done.returncode == 0 and done.stderr == ""
    assert markers[1:] == ["torch imported"]  # queued, never run: no recording, no dump
    assert list(boot["snaps"].iterdir()) == []


def test_bootstrap_without_lazy_call_records_at_import(
    torch_venv: Path, boot: dict[str, Path]
) -> None:
    done, markers = run_in_venv(
        torch_venv, boot, "import os, torch; print(os.getpid())", FAKE_NO_LAZY_CALL="1"
    )
    assert done.returncode == 0, done.stderr
    assert markers[2:] == ["recording max_entries=1234", "oom observer attached"]
    assert [p.name for p in boot["snaps"].iterdir()] == [f"snapshot-{done.stdout.strip()}.pickle"]


def test_bootstrap_with_no_cuda_changes_nothing(torch_venv: Path, boot: dict[str, Path]) -> None:
    done, markers = run_in_venv(
        torch_venv, boot, "import torch; torch.cuda.init()", FAKE_NO_CUDA="1"
    )
    assert done.returncode == 0 and done.stderr == ""
    assert markers[1:] == ["torch imported"]
    assert list(boot["snaps"].iterdir()) == []


def test_bootstrap_failures_are_one_line_and_the_program_goes_on(
    torch_venv: Path, boot: dict[str, Path]
) -> None:
    done, _ = run_in_venv(
        torch_venv,
        boot,
        "import sys, torch; torch.cuda.init(); sys.exit(3)",
        FAKE_RECORD_FAILS="1",
        FAKE_USER_FAILS="1",
    )
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("torchenv:") for line in lines)
    assert "ValueError: broken site" in lines[0]
    assert "could not start recording" in lines[1] and "CUDA error: busy" in lines[1]
    assert list(boot["snaps"].iterdir()) == []


def test_bootstrap_with_the_real_cpu_torch_changes_nothing(
    torch_venv: Path, boot: dict[str, Path]
) -> None:
    program = (
        "import importlib.resources, torch\n"
        "assert type(torch.__spec__.loader).__name__ == 'SourceFileLoader'\n"
        "assert importlib.resources.files('torch').joinpath('__init__.py').is_file()\n"
        "print(torch.cuda.is_available(), torch.ones(2).sum().item())\n"
    )
    done, markers = run_in_venv(torch_venv, boot, program, torch="real")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "2.0"] and "torchenv:" not in done.stderr
    assert len(markers) == 1 and list(boot["snaps"].iterdir()) == []


def test_torchs_viewer_renders_a_snapshot(torch_venv: Path, tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    snaps.mkdir(mode=0o700)
    source = snaps / "snapshot-42.pickle"
    source.write_bytes(pickle.dumps({"segments": [], "device_traces": [[]]}))
    (tmp_path / "empty").mkdir()
    python = str(torch_venv / "bin" / "python")
    ctx = host_context()
    pages, problems = run_module.render(ctx, python, ctx.env, [source], str(tmp_path / "empty"))
    assert problems == []
    assert pages == [str(snaps / "snapshot-42.html"), str(snaps / "snapshot-42-segments.html")]
    trace, segments = (Path(p).read_text() for p in pages)
    assert "MemoryViz.js" in trace and "'Active Memory Timeline'" in trace
    assert "'Allocator State History'" in segments and "snapshot.pickle" in segments
    assert sorted(p.name for p in snaps.iterdir()) == [
        "snapshot-42-segments.html",
        "snapshot-42.html",
        "snapshot-42.pickle",
    ]


def test_the_whole_run_with_cuda_faked(
    torch_venv: Path,
    tmp_path: Path,
    boot: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """torchenv run in-process, CUDA taken as available: the program puts the fake torch first
    on its sys.path, the hook records and dumps, torch's real viewer renders the pickles."""
    monkeypatch.setattr(run_module, "cuda_absence", lambda ctx, env: None)
    monkeypatch.setenv("FAKE_OUT", str(boot["out"]))
    program = (
        f"import sys; sys.path.insert(0, {str(boot['fake'])!r})\n"
        "import torch; torch.cuda.init(); torch._C.fire_oom(); sys.exit(4)\n"
    )
    snaps = tmp_path / "new-snaps"
    args = ["--prefix", str(torch_venv), "--memory-snapshot", str(snaps), "--"]
    code = cli.main(["run", *args, "python", "-c", program])
    err = capfd.readouterr().err
    assert code == 4, err
    pages = sorted(p.name for p in snaps.glob("*.html"))
    assert len(pages) == 4 and all(f"torchenv: memory snapshot: {snaps}/{p}" in err for p in pages)
    assert {p.split("-")[0] for p in pages} == {"oom", "snapshot"}
