"""The console's words: every text a page shows comes through `_` (gettext), in the page
templates as in the code, so that a translation is a catalogue and no code changes.

English is written in the source. Another language is a `console.mo` catalogue under
``<locales>/<language>/LC_MESSAGES/`` (docs/console.md says how to extract and compile
one with Babel); the console speaks the language it is started with (`SCN_CONSOLE_LANGUAGE`).
"""

from __future__ import annotations

import gettext
from pathlib import Path

#: The gettext domain of the console's catalogues.
DOMAIN = "console"
#: Where catalogues are looked for unless told otherwise.
LOCALES = Path(__file__).resolve().parent / "locale"

_active: gettext.NullTranslations = gettext.NullTranslations()


def install(language: str | None, locales: Path | None = None) -> gettext.NullTranslations:
    """Speak ``language`` from now on (English, the source's, when None or without a catalogue)."""
    global _active
    if language:
        _active = gettext.translation(DOMAIN, str(locales or LOCALES), [language], fallback=True)
    else:
        _active = gettext.NullTranslations()
    return _active


def translations() -> gettext.NullTranslations:
    return _active


def _(message: str) -> str:
    """``message`` in the console's language."""
    return _active.gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is written; `_` translates it where it is shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    return _active.ngettext(singular, plural, count)
