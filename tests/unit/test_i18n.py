"""The language of torchenv's messages (torchenv/i18n.py): chosen from the locale as gettext
chooses it, Chinese for every Chinese locale, English otherwise; the help of the real entry
point in each; a damaged catalog falls back to English. The tests themselves run in English
(tests/conftest.py); each Chinese run here is a subprocess, or resets the choice after it."""

from __future__ import annotations

import gettext
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchenv import i18n
from torchenv.cli import common, translate
from torchenv.cli.examples import EXAMPLES

ZH = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["zh_CN"])
CLICK_ZH = gettext.translation(i18n.CLICK_DOMAIN, i18n.LOCALE_DIR, languages=["zh_CN"])
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_CN.GB18030"}, "zh_CN"),
        ({"LANG": "zh_SG.UTF-8"}, "zh_CN"),
        ({"LC_ALL": "zh_Hans"}, "zh_CN"),
        ({"LANG": "zh"}, "zh_CN"),
        # Traditional Chinese: the Simplified catalog until a Traditional one exists
        ({"LANGUAGE": "zh_TW"}, "zh_CN"),
        ({"LANG": "zh_HK.UTF-8"}, "zh_CN"),
        ({"LC_MESSAGES": "zh-Hant"}, "zh_CN"),
        ({"LANG": "C"}, None),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LANG": "en_US.UTF-8"}, None),
        ({"LANG": "fr_FR.UTF-8"}, None),  # no French catalog: English
        ({}, None),
        ({"LANG": ""}, None),
        # the first variable set wins, as in gettext
        # GNU gettext: LANGUAGE is ignored in the C locale (LC_ALL=C is how scripts ask for
        # English); C.UTF-8 is a locale of its own, where LANGUAGE counts
        ({"LANGUAGE": "zh_CN", "LC_ALL": "C"}, None),
        ({"LANGUAGE": "zh_CN", "LANG": "POSIX"}, None),
        ({"LANGUAGE": "zh_CN", "LANG": "C.UTF-8"}, "zh_CN"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, None),
        ({"LC_MESSAGES": "en_GB", "LANG": "zh_CN.UTF-8"}, None),
        ({"LANGUAGE": "", "LANG": "zh_CN.UTF-8"}, "zh_CN"),
        # LANGUAGE is a list of preferences: the first one with a catalog (or English) wins
        ({"LANGUAGE": "fr:de:zh_CN"}, "zh_CN"),
        ({"LANGUAGE": "en:zh_CN"}, None),
        ({"LANGUAGE": "fr:de", "LANG": "zh_CN.UTF-8"}, None),
        ({"LANG": "zh_CN.UTF-8@latin"}, "zh_CN"),
    ],
)
def test_the_language_comes_from_the_locale(environ: dict[str, str], expected: str | None) -> None:
    assert i18n.choose_language(environ) == expected


@pytest.fixture
def chinese(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process in Chinese for one test, English again after it."""
    for variable in LOCALE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    i18n.reset()
    yield
    i18n.reset()


def test_english_reads_no_catalog() -> None:
    assert i18n.language() is None
    assert i18n._("wrote {path}") == "wrote {path}"
    assert i18n.ngettext("a file", "{n} files", 2) == "{n} files"
    assert i18n.ngettext("a file", "{n} files", 1) == "a file"
    assert i18n.translation() is None and not i18n._catalogs


def test_chinese_translates_and_reads_each_catalog_once(chinese: None) -> None:
    assert i18n._("wrote {path}") == ZH.gettext("wrote {path}") != "wrote {path}"
    first = i18n.translation()
    assert first is not None and i18n.translation() is first
    # a message without a translation stays as it is
    assert i18n._("a message nobody marked") == "a message nobody marked"
    assert i18n.N_("wrote {path}") == "wrote {path}"  # marked, not translated


def test_a_damaged_catalog_gives_english(
    chinese: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = tmp_path / "zh_CN" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "torchenv.mo").write_bytes(b"\xde\x12\x04\x95 not a catalog")
    monkeypatch.setattr(i18n, "LOCALE_DIR", str(tmp_path))
    assert i18n._("wrote {path}") == "wrote {path}"
    missing = i18n.translation(i18n.CLICK_DOMAIN)  # no click.mo there: English as well
    assert missing is not None and missing.gettext("Usage:") == "Usage:"


def test_styled_fills_fields_in_the_translation_s_order() -> None:
    segments = common.styled(
        "{b} then {a:>3}", "dim", a=("x", "bold"), b=7
    )  # a translation may reorder
    assert segments == [("7", None), (" then ", "dim"), ("  x", "bold")]
    assert common.styled("wrote {path}", path=("a{b}", "bold")) == [
        ("wrote ", None),
        ("a{b}", "bold"),  # a value is never read as a template
    ]


def test_labels_are_padded_by_columns() -> None:
    assert common.display_width("abc") == 3
    assert common.display_width("新增") == 4
    assert common.padded("新增", 8) == "新增    "
    assert common.padded("changed", 8) == "changed "


def test_chinese_help_is_wrapped_by_columns() -> None:
    text = ZH.gettext(
        "Bring an environment made by hand (pip, uv, conda) under torchenv: write a spec "
        "(torchenv.toml) and a lock that rebuild it as closely as the package indexes allow, and "
        "list every package that cannot be pinned, with the reason. The environment is read from "
        "its files, without importing torch, and is left as it is. When the lock cannot be made, "
        "the spec stays for you to edit, and the exit code is 2."
    )
    lines = translate.wrap(text, 60, "  ", "  ")
    assert len(lines) > 3
    assert all(common.display_width(line) <= 60 for line in lines), lines
    assert all(line.startswith("  ") and not line.startswith("   ") for line in lines)
    assert not any(line.strip()[0] in translate._NO_LINE_START for line in lines)
    assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")
    # English words are never split; one longer than the width stands alone
    assert translate.wrap("a " + "x" * 30 + " b", 10) == ["a", "x" * 30, "b"]


def torchenv(
    *args: str, env: dict[str, str] | None = None, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point (``python -m torchenv``), or ``code``, in a clean locale plus
    ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
    environ.update(env or {})
    argv = (
        [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "torchenv", *args]
    )
    return subprocess.run(
        argv, check=False, capture_output=True, text=True, env=environ, timeout=60
    )


def test_plan_help_in_chinese() -> None:
    done = torchenv("plan", "--help", env={"LANG": "zh_CN.UTF-8"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(CLICK_ZH.gettext("Usage:") + "torchenv plan [OPTIONS]")
    assert ZH.gettext("List every rejected candidate.") in out
    assert ZH.gettext("Print one JSON document ({schema}).").format(schema="torchenv.plan/1") in out
    assert CLICK_ZH.gettext("Show this message and exit.") in out
    assert CLICK_ZH.gettext("Options") in out and "Options:" not in out
    assert ZH.gettext("Examples:") in out and "Examples:" not in out
    for what, line in EXAMPLES["plan"]:
        # the comment translated, the command line as it is
        assert f"    # {ZH.gettext(what)}\n    {line}\n" in out
        assert ZH.gettext(what) != what
    assert all(common.display_width(line) <= 80 for line in out.splitlines())
    # the options, metavars and choices are what users type: never translated
    assert "--installer [uv|pip|conda|pixi]" in out and "--for MACHINE.json" in out


@pytest.mark.parametrize(
    "env",
    [{"LANGUAGE": "zh_TW"}, {"LC_ALL": "zh_HK.UTF-8"}, {"LANG": "zh_CN.UTF-8"}],
    ids=["LANGUAGE=zh_TW", "LC_ALL=zh_HK", "LANG=zh_CN"],
)
def test_every_chinese_locale_gets_chinese(env: dict[str, str]) -> None:
    done = torchenv("--help", env=env)
    assert done.returncode == 0, done.stderr
    summary = "PyTorch + CUDA environments that work, prove that they work, and can be rebuilt."
    assert ZH.gettext(summary) in done.stdout and summary not in done.stdout


@pytest.mark.parametrize(
    "env",
    [{"LANG": "C"}, {"LANG": "fr_FR.UTF-8"}, {}, {"LANGUAGE": "en", "LANG": "zh_CN.UTF-8"}],
    ids=["C", "unknown", "unset", "LANGUAGE=en"],
)
def test_other_locales_get_english(env: dict[str, str]) -> None:
    done = torchenv("plan", "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: torchenv plan [OPTIONS]")
    assert "  Examples:\n    # which build fits this machine\n" in done.stdout
    assert "List every rejected candidate." in done.stdout


def test_errors_are_framed_in_chinese() -> None:
    done = torchenv("plan", "--no-such-option", env={"LANG": "zh_CN.UTF-8"})
    assert done.returncode == 2
    assert CLICK_ZH.gettext("Usage:") + "torchenv plan [OPTIONS]" in done.stderr
    assert CLICK_ZH.gettext("Error: {message}").split("{")[0] in done.stderr
    done = torchenv("diff", "/nonexistent/a", "/nonexistent/b", env={"LANG": "zh_CN.UTF-8"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(ZH.gettext("torchenv: error: {message}").split("{")[0])


def test_the_version_line_is_the_same_in_every_language() -> None:
    english = torchenv("--version", env={"LANG": "C"})
    chinese = torchenv("--version", env={"LANG": "zh_CN.UTF-8"})
    assert english.stdout == chinese.stdout and english.stdout.startswith("torchenv, version ")


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_a_damaged_or_missing_catalog_falls_back_to_english(tmp_path: Path, damage: str) -> None:
    if damage == "garbage":
        messages = tmp_path / "zh_CN" / "LC_MESSAGES"
        messages.mkdir(parents=True)
        for domain in (i18n.DOMAIN, i18n.CLICK_DOMAIN):
            (messages / f"{domain}.mo").write_bytes(b"\x95\x04\x12\xde\0\0\0\0truncated")
    code = (
        "import sys\nfrom torchenv import i18n\ni18n.LOCALE_DIR = sys.argv[1]\n"
        "from torchenv.cli import main\nsys.exit(main(['plan', '--help']))"
    )
    done = torchenv(str(tmp_path), env={"LANG": "zh_CN.UTF-8"}, code=code)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("Usage: torchenv plan [OPTIONS]")
    assert "List every rejected candidate." in done.stdout


def test_every_help_page_in_chinese() -> None:
    """Every command's help, in one process: click's words and torchenv's translated, the
    lines within 80 columns (but for the examples' command lines, which are never rewrapped)."""
    code = (
        "import sys\nfrom torchenv.cli import main\n"
        "for path in sys.argv[1:]:\n"
        "    print('=====', path, flush=True)\n"
        "    main([*path.split(), '--help'])\n"
    )
    paths = ["", *sorted(EXAMPLES)]
    done = torchenv(*paths, env={"LANG": "zh_CN.UTF-8"}, code=code)
    assert done.returncode == 0 and not done.stderr, done.stderr
    pages = done.stdout.split("===== ")[1:]
    assert len(pages) == len(paths)
    for page in pages:
        for english in ("Usage:", "Options:", "Commands:", "Examples:", "Show this message"):
            assert english not in page, page
        for line in page.splitlines()[1:]:
            command_line = line.startswith("    torchenv ")
            assert common.display_width(line) <= 80 or command_line, line


def test_a_msg_is_english_as_a_str_and_translated_when_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchenv.i18n import Msg, shown

    title = Msg("wrote {path}", path="/tmp/x")
    assert title == "wrote /tmp/x" and isinstance(title, str)
    assert json.dumps({"t": title}) == '{"t": "wrote /tmp/x"}'  # what JSON documents get
    assert shown(title) == "wrote /tmp/x" and shown("plain") == "plain"
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    i18n.reset()
    try:
        assert shown(title) != "wrote /tmp/x" and "/tmp/x" in shown(title)
        assert shown("wrote /tmp/x") == "wrote /tmp/x"  # data is never looked up
    finally:
        monkeypatch.delenv("LANGUAGE")
        i18n.reset()


def test_joined_is_the_plain_join_in_english_and_translates_its_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchenv.i18n import Msg, joined, shown

    assert joined("; ", ["a", "b"]) == "a; b" and not isinstance(joined("; ", ["a"]), Msg)
    assert joined(Msg("; "), []) == ""
    parts = [Msg("timed out"), "exit code 1 {not a field}"]
    together = joined(Msg("; "), parts)
    assert together == "timed out; exit code 1 {not a field}" and isinstance(together, Msg)
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    i18n.reset()
    try:
        assert shown(together) == "超时；exit code 1 {not a field}"  # noqa: RUF001
    finally:
        monkeypatch.delenv("LANGUAGE")
        i18n.reset()
