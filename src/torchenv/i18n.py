"""The language of torchenv's messages: English, or Chinese through the gettext catalogs in
``torchenv/locale`` (``scripts/i18n`` extracts, updates and compiles them with Babel).

The language is chosen as GNU gettext and Python's ``gettext`` module choose it: the first of
``LANGUAGE`` (a colon-separated list of preferences), ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``
that is set and not empty names it; ``C``, ``POSIX`` and ``en*`` mean English. Every Chinese
locale (zh_CN, zh_SG, zh_Hans, zh, and zh_TW, zh_HK, zh_MO, zh_Hant too) gets the Simplified
Chinese catalog, ``zh_CN``: there is no Traditional catalog yet, and Simplified reads better to
a Traditional reader than English does. Any other language gets the English text.

The choice is made once per process, when the first message is translated; with English no
catalog is read and ``gettext`` is not even imported. ``reset`` forgets it (tests).

Mark messages with ``_`` (translated where it runs), ``ngettext`` (with a plural) and ``N_``
(a constant defined before the language is known: marked for extraction, translated later by
passing it to ``_``). Placeholders are named, ``_("wrote {path}").format(path=...)``, so that a
translation can put them in another order. Nothing that goes into a ``--json`` document may
pass through these functions: the documents are the same in every language.

A bottom layer: the standard library only, and every layer may import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gettext import NullTranslations

DOMAIN = "torchenv"
# the translations of click's own words ("Usage:", "Options", its error messages), kept in a
# catalog of their own: cli/translate.py hands them to click
CLICK_DOMAIN = "click"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_UNSET = object()
_language: object = _UNSET  # None (English), a catalog ("zh_CN"), or _UNSET: not chosen yet
_catalogs: dict[str, NullTranslations] = {}


def catalog_for(name: str) -> str | None:
    """The catalog of one locale name (``zh_TW.UTF-8``, ``zh-Hant``, ``en_US``): ``"zh_CN"``
    for every Chinese locale, ``"en"`` for English and the C locale, None for a language that
    has no catalog."""
    base = name.split(".", maxsplit=1)[0].split("@", maxsplit=1)[0].strip()
    if base in ("", "C", "POSIX"):
        return "en"
    language = base.replace("-", "_").split("_")[0].lower()
    if language == "en":
        return "en"
    if language == "zh":
        # zh_CN, zh_SG, zh_Hans and plain zh are Simplified Chinese; zh_TW, zh_HK, zh_MO and
        # zh_Hant are Traditional, and get the Simplified catalog until a Traditional one is
        # written (docs: README, "Language")
        return "zh_CN"
    return None


def choose_language(environ: Mapping[str, str]) -> str | None:
    """The catalog ``environ`` asks for, None for English. As GNU gettext: the locale of the
    messages is the first of LC_ALL, LC_MESSAGES and LANG that is set and not empty; when it is
    "C" or "POSIX", the messages are English whatever LANGUAGE says (``LC_ALL=C torchenv ...``
    is how scripts ask for the untranslated text); else LANGUAGE, a colon-separated list of
    preferences, comes first when set: its first language that has a catalog (or is English)
    wins; else the locale names the language."""
    locale = next((environ[v] for v in ENVIRONMENT[1:] if environ.get(v)), "")
    if locale in ("C", "POSIX"):
        return None
    for variable in ENVIRONMENT:
        value = environ.get(variable, "")
        if not value:
            continue
        for name in value.split(":"):
            found = catalog_for(name)
            if found is not None:
                return None if found == "en" else found
        return None
    return None


def language() -> str | None:
    """The catalog of this process, None for English: chosen from the environment on the first
    call."""
    global _language  # noqa: PLW0603  (chosen once per process, lazily)
    if _language is _UNSET:
        _language = choose_language(os.environ)
    return _language if isinstance(_language, str) else None


def translation(domain: str = DOMAIN) -> NullTranslations | None:
    """The catalog of ``domain`` in this process's language; None for English. A catalog that
    is missing or cannot be read gives the English text (no error: the messages are the same
    with or without it)."""
    chosen = language()
    if chosen is None:
        return None
    found = _catalogs.get(domain)
    if found is None:
        import gettext  # noqa: PLC0415  (not imported at all in English)

        try:
            found = gettext.translation(
                domain, localedir=LOCALE_DIR, languages=[chosen], fallback=True
            )
        except Exception:  # noqa: BLE001  (a damaged .mo: struct, Unicode, OS errors alike)
            found = gettext.NullTranslations()
        _catalogs[domain] = found
    return found


def _(message: str) -> str:
    """``message`` in this process's language."""
    catalog = translation()
    return message if catalog is None else catalog.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural`` (by ``count``), in this process's language."""
    catalog = translation()
    if catalog is None:
        return singular if count == 1 else plural
    return catalog.ngettext(singular, plural, count)


def N_(message: str) -> str:  # gettext's name for it, which Babel extracts
    """Marks ``message`` for extraction and returns it untranslated: for constants defined at
    import, translated by ``_`` where they are shown."""
    return message


class Msg(str):
    """English text that remembers the message it was made from, for results that are both
    shown and written as JSON (a finding's title, evidence and fixes): as a ``str`` it is the
    English text, so the JSON documents never change with the language; ``shown`` gives it in
    the language of the process. ``Msg("torch {version} is a CPU build", version=v)``: the
    template is the msgid (Babel extracts it as it extracts ``_``), the fields are filled in
    after translation; a field that is itself a ``Msg`` is translated too."""

    __slots__ = ("fields", "template")
    template: str
    fields: dict[str, object]

    def __new__(cls, template: str, /, **fields: object) -> Msg:
        text = super().__new__(cls, template.format(**fields) if fields else template)
        text.template, text.fields = template, fields
        return text


def joined(separator: str, parts: Sequence[str]) -> str:
    """``separator.join(parts)`` that stays translatable: a ``Msg`` when a part or the
    separator is one, whose English is exactly the plain join and whose parts (and separator)
    are shown translated, so a list of problems can be a field of a message. Its template
    ("{p0}{sep}{p1}") is in no catalog: gettext gives it back as it is."""
    if not any(isinstance(part, Msg) for part in (separator, *parts)):
        return separator.join(parts)
    if not parts:
        return ""
    template = "{sep}".join(f"{{p{i}}}" for i in range(len(parts)))
    fields: dict[str, object] = {"p" + str(i): part for i, part in enumerate(parts)}
    return Msg(template, sep=separator, **fields)


def shown(text: str) -> str:
    """``text`` as it is shown: a ``Msg`` in this process's language, any other text as it is
    (names, paths and versions read from the machine are never looked up in a catalog)."""
    if not isinstance(text, Msg) or translation() is None:
        return str(text)
    fields = {k: shown(v) if isinstance(v, Msg) else v for k, v in text.fields.items()}
    return _(text.template).format(**fields) if fields else _(text.template)


def reset() -> None:
    """Forget the language and the catalogs: the next message chooses again (tests)."""
    global _language  # noqa: PLW0603
    _language = _UNSET
    _catalogs.clear()
