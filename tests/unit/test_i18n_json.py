"""The --json documents are the same in every language: each command runs here in the C locale
and in Chinese (in this process, on the fakes test_json_outputs.py uses) and prints the same
bytes; only what goes to stderr may be translated."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from builders import FakeRunner, probe_context
from torchenv import cli, i18n
from torchenv.cli import common
from unit.commands.test_lock_check import make
from unit.test_json_outputs import H100, H100_NODE, PASCAL_NODE, host, shipped  # noqa: F401

Run = tuple[int, str, str]  # exit code, stdout, stderr
Twice = Callable[..., tuple[Run, Run]]


@pytest.fixture
def twice(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Twice]:
    """``twice(*args)``: the command run in English and in Chinese, and the two runs' results
    (English first). It runs in English once before, so that a command that writes files sees
    the same files in both runs compared."""

    def run(lang: str, args: tuple[str, ...]) -> Run:
        with monkeypatch.context() as patch:
            for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
                patch.delenv(variable, raising=False)
            patch.setenv("LANG", lang)
            i18n.reset()
            try:
                assert i18n.language() == ("zh_CN" if lang.startswith("zh") else None)
                code = cli.main(list(args))
            finally:
                i18n.reset()
        out, err = capsys.readouterr()
        return code, out, err

    def both(*args: str) -> tuple[Run, Run]:
        run("C.UTF-8", args)
        chinese = run("zh_CN.UTF-8", args)
        return run("C.UTF-8", args), chinese

    yield both
    i18n.reset()


def same(runs: tuple[Run, Run]) -> None:
    (code, out, _), (zh_code, zh_out, _) = runs
    assert out.startswith("{"), out[:200]
    assert zh_code == code
    assert zh_out == out  # byte for byte


def test_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, twice: Twice) -> None:
    env = host(tmp_path, monkeypatch, cuda=False)  # doctor finds the CPU build on GPUs
    prefix = str(env.prefix)
    for args in (
        ("inspect", "--json", "--prefix", prefix),
        ("doctor", "--json", "--prefix", prefix),
        ("doctor", "--deep", "--json", "--prefix", prefix),
        ("doctor", "--list-rules", "--json"),
    ):
        same(twice(*args))


@pytest.mark.parametrize(
    "args",
    [
        H100,
        ("--for", H100_NODE, "--for", PASCAL_NODE),
        ("--gpu", "H100", "--driver", "418.67"),  # nothing fits: exit 3
        ("--gpu", "RTX 5090", "--driver", "570.133.07", "--installer", "conda"),
    ],
    ids=["h100", "fleet", "no-stack", "conda"],
)
def test_plan_and_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, twice: Twice, args: tuple[str, ...]
) -> None:
    ctx, _ = probe_context(tmp_path, FakeRunner())
    monkeypatch.setattr(common, "context", lambda: ctx)
    monkeypatch.chdir(tmp_path)
    same(twice("plan", "--json", *args))
    same(twice("init", "--json", "--force", *args))


def test_projects(shipped: Path, twice: Twice) -> None:  # noqa: F811
    for args in (
        ("image", "--ssh", "--json"),
        ("deploy", "--to", "k8s", "--json"),
        ("deploy", "--to", "compose", "--nodes", "1", "--json"),
        ("export", "--format", "pixi.toml", "--json"),
        ("ci", "--to", "github", "--gpu-runner", "h1", "--json"),
        ("diff", H100_NODE, PASCAL_NODE, "--json"),
        ("matrix", "--torch", ">=2.13", "--json"),
        ("list", "--json"),
    ):
        same(twice(*args))


def test_lock_check(tmp_path: Path, twice: Twice) -> None:
    spec = make(tmp_path) / "torchenv.toml"
    same(twice("lock", "--check", "--json", str(spec)))
    spec.write_text(spec.read_text().replace('python = "3.11"', 'python = "3.12"'))
    same(twice("lock", "--check", "--json", str(spec)))


def test_only_stderr_is_translated(tmp_path: Path, twice: Twice) -> None:
    """An error under --json: nothing on stdout in either language, the message in each."""
    english, chinese = twice("diff", "--json", str(tmp_path / "a"), str(tmp_path / "b"))
    assert english[:2] == chinese[:2] == (2, "")
    assert english[2].startswith("torchenv: error: ")
    assert chinese[2] != english[2] and not chinese[2].startswith("torchenv: error: ")
