"""The translation catalogs (src/torchenv/locale) are complete and compiled: every message
marked in src/torchenv has a Chinese translation, click's words that torchenv's help and errors
show have one, each translation keeps its message's placeholders, and each committed .mo is
what its .po compiles to. A failure says what to do: run scripts/i18n, translate, run it
again."""

from __future__ import annotations

import io
import os
import re
import string
import zipfile
from pathlib import Path

import click
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from torchenv import i18n

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "torchenv"
LOCALE = Path(i18n.LOCALE_DIR)
KEYWORDS = {"_": None, "N_": None, "Msg": None, "ngettext": (1, 2)}  # scripts/i18n's -k options
FIX = "run scripts/i18n, translate the empty and fuzzy entries of {po}, then run it again"
# click's words on torchenv's help and in its usage errors: each must be in the installed click
# (a click that renamed one would show it in English) and translated. Other click messages are
# translated as far as the catalog goes; a newer click's new ones stay English until
# scripts/i18n picks them up.
CLICK_WORDS = (
    "Usage:",
    "Options",
    "Commands",
    "Show this message and exit.",
    "Show the version and exit.",
    "Error: {message}",
    "Try '{command} {option}' for help.",
    "Invalid value for {param_hint}: {message}",
    "Missing argument",
    "No such option {name!r}.",
    "No such command {name!r}.",
    "default: {default}",
    "required",
    "Aborted!",
)


def catalog(domain: str, language: str = "zh_CN") -> Catalog:
    with (LOCALE / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        return read_po(po)


def torchenv_messages() -> dict[str, str]:
    """msgid -> the file that marks it, extracted as scripts/i18n extracts them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        SRC, method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, filename)
    return found


def click_messages() -> set[str]:
    found = set()
    click_dir = os.path.dirname(click.__file__)
    for _file, _line, message, _comments, _context in extract_from_dir(
        click_dir, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    words = ROOT / "scripts" / "i18n_click_words.py"
    for _line, message, _comments, _context in extract_from_file("python", words, KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def untranslated(po: Catalog, msgids: set[str] | dict[str, str]) -> list[str]:
    missing = []
    for msgid in sorted(msgids):
        entry = po.get(msgid)
        strings = [] if entry is None else entry.string
        strings = [strings] if isinstance(strings, str) else list(strings)
        if entry is None or not strings or not all(strings) or entry.fuzzy:
            missing.append(msgid)
    return missing


def test_every_message_of_torchenv_has_its_translation() -> None:
    marked = torchenv_messages()
    assert len(marked) > 200  # the CLI's help and messages, at least
    po = catalog(i18n.DOMAIN)
    missing = untranslated(po, marked)
    assert not missing, (
        f"{len(missing)} message(s) without a Chinese translation: "
        + "; ".join(f"{marked[m]}: {m!r}" for m in missing)
        + f"\n{FIX.format(po='src/torchenv/locale/zh_CN/LC_MESSAGES/torchenv.po')}"
    )
    stale = sorted(m.id for m in po if m.id and (m.id[0] if m.pluralizable else m.id) not in marked)
    assert not stale, f"translations of messages no longer in the code: {stale}; run scripts/i18n"
    with (LOCALE / "torchenv.pot").open("rb") as pot:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    assert template == set(marked), "src/torchenv/locale/torchenv.pot is stale: run scripts/i18n"


def test_click_s_words_on_torchenv_s_help_are_translated() -> None:
    installed = click_messages()
    gone = [word for word in CLICK_WORDS if word not in installed]
    assert not gone, (
        f"the installed click no longer has {gone}: update CLICK_WORDS and run scripts/i18n"
    )
    missing = untranslated(catalog(i18n.CLICK_DOMAIN), set(CLICK_WORDS))
    assert not missing, f"click's words without a translation: {missing}\n" + FIX.format(
        po="src/torchenv/locale/zh_CN/LC_MESSAGES/click.po"
    )


@pytest.mark.parametrize("domain", [i18n.DOMAIN, i18n.CLICK_DOMAIN])
def test_no_translation_is_empty_or_fuzzy(domain: str) -> None:
    po = catalog(domain)
    missing = untranslated(po, {m.id if isinstance(m.id, str) else m.id[0] for m in po if m.id})
    assert not missing, f"{missing}\n" + FIX.format(po=f"locale/zh_CN/LC_MESSAGES/{domain}.po")
    assert po.plural_forms == "nplurals=1; plural=0;"


def placeholders(text: str) -> list[str]:
    """``{name}`` fields (with their conversion and format) and ``%`` formats, sorted."""
    fields = [
        f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    ]
    return sorted(fields + re.findall(r"%\(\w+\)[sdifr]|%[sdifr]", text))


@pytest.mark.parametrize("domain", [i18n.DOMAIN, i18n.CLICK_DOMAIN])
def test_translations_keep_the_placeholders(domain: str) -> None:
    wrong = []
    for entry in catalog(domain):
        if not entry.id:
            continue
        if isinstance(entry.id, str):
            pairs = [(entry.id, entry.string)]
        else:  # one form in Chinese: the plural's fields (click passes every field to both)
            pairs = [(entry.id[1], form) for form in entry.string]
        for msgid, msgstr in pairs:
            if set(placeholders(msgid)) != set(placeholders(msgstr)):
                wrong.append(f"{msgid!r} -> {msgstr!r}")
    assert not wrong, "translations whose placeholders differ from the message's:\n" + "\n".join(
        wrong
    )


@pytest.mark.parametrize("domain", [i18n.DOMAIN, i18n.CLICK_DOMAIN])
def test_the_committed_mo_is_the_compiled_po(domain: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, catalog(domain))  # as pybabel compile writes it (fuzzy entries left out)
    committed = LOCALE / "zh_CN" / "LC_MESSAGES" / f"{domain}.mo"
    assert committed.is_file(), f"{committed} is missing: run scripts/i18n compile"
    assert committed.read_bytes() == compiled.getvalue(), (
        f"{committed.name} is older than its .po: run scripts/i18n compile"
    )


def test_help_strings_are_translated_where_the_options_are_not() -> None:
    """Option names, metavars and choices are what users type: no msgid starts with one, and
    no translation changes one that appears in its message."""
    po = catalog(i18n.DOMAIN)
    for entry in po:
        if not entry.id or not isinstance(entry.id, str):
            continue
        for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", entry.id):
            assert option in entry.string, (entry.id, entry.string, option)
        for code in re.findall(r"`[^`]+`", entry.id):  # commands and file contents stay as they are
            assert code in entry.string, (entry.id, entry.string, code)


def test_the_catalogs_ship_in_torchenv_s_wheel(tmp_path: Path) -> None:
    from torchenv.backends.selfwheel import write_tool_wheel

    name = write_tool_wheel(tmp_path)
    with zipfile.ZipFile(tmp_path / name) as wheel:
        names = set(wheel.namelist())
    for domain in (i18n.DOMAIN, i18n.CLICK_DOMAIN):
        assert f"torchenv/locale/zh_CN/LC_MESSAGES/{domain}.mo" in names
