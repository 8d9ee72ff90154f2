"""The language people read: gettext catalogs, chosen by ``--lang``, the config or the environment.

Text a person reads is wrapped in ``_()`` (``ngettext`` where a count changes it) where it is shown;
text defined at import time (key descriptions, column titles) is marked with ``N_()`` and translated with
``_()`` when it is shown, so a language chosen later still applies. Machine output (``--json``, exports'
field names, metrics, exit codes) is never translated.

Catalogs: ``holysheep_tui/locale/<lang>/LC_MESSAGES/holysheep.po``, compiled to ``.mo`` beside it by
``scripts/i18n.py`` (Babel extracts the messages from the source); both ship in the wheel. English is the
source language and the fallback for any message a catalog lacks.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "_",
    "current",
    "from_environment",
    "ngettext",
    "normalise",
    "resolve",
    "sentences",
    "use",
]

DOMAIN = "holysheep"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "zh-CN": "简体中文"}
"""The languages the interface speaks, by the name the config and ``--lang`` take."""
_GETTEXT_NAMES = {"zh-CN": "zh_CN"}

_state: dict[str, gettext.NullTranslations | str] = {"translation": gettext.NullTranslations(), "lang": "en"}


def normalise(value: str | None) -> str | None:
    """``zh_CN.UTF-8``, ``zh-cn``, ``zh_TW``, ``zh`` -> ``zh-CN`` (the one Chinese catalog); ``en_US``,
    ``C``, ``POSIX`` -> ``en``; empty -> None; anything else -> ``en``."""
    if not value:
        return None
    tag = value.split(".")[0].split("@")[0].replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    return "en"


def from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The language of the environment, as POSIX orders it: ``LC_ALL``, then ``LC_MESSAGES``, then
    ``LANG``; the first that is set decides. ``LANGUAGE`` (GNU's priority list) counts when it names
    Chinese first and the locale is not C/POSIX."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            if value in ("C", "POSIX") or value.startswith("C."):
                return "en"
            first = env.get("LANGUAGE", "").split(":")[0]
            return normalise(first) if first else normalise(value)
    return None


def resolve(
    cli: str | None = None, configured: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The language to use: ``--lang``, else the config's ``ui.language``, else the environment, else
    English."""
    return normalise(cli) or normalise(configured) or from_environment(environ) or "en"


def use(language: str) -> str:
    """Speak ``language`` from now on (``en`` or ``zh-CN``; others fall back to English); returns the
    language in force."""
    lang = normalise(language) or "en"
    if lang == "en":
        translation: gettext.NullTranslations = gettext.NullTranslations()
    else:
        translation = gettext.translation(
            DOMAIN, localedir=LOCALE_DIR, languages=[_GETTEXT_NAMES.get(lang, lang)], fallback=True
        )
    _state["translation"], _state["lang"] = translation, lang
    return lang


def current() -> str:
    """The language in force (``en`` or ``zh-CN``)."""
    return str(_state["lang"])


def _translation() -> gettext.NullTranslations:
    found = _state["translation"]
    assert isinstance(found, gettext.NullTranslations)
    return found


def _(message: str) -> str:
    """``message`` in the language in force (itself when the catalog lacks it)."""
    return _translation().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message that goes with the count ``n``."""
    return _translation().ngettext(singular, plural, n)


def sentences(*parts: str) -> str:
    """Sentences run together as the language writes them: a space between them in English, none in
    Chinese (whose full stops already end them). Empty parts are left out."""
    return ("" if current() == "zh-CN" else " ").join(part for part in parts if part)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (it is translated when shown)."""
    return message
