"""Small HTML pages the server answers with (unsubscribe, preferences, problem types)."""

from __future__ import annotations

import html


def page(title: str, body: str, language: str = "en") -> str:
    """A whole HTML document in ``language`` around ``body`` (already HTML); ``title`` and
    ``language`` are escaped here."""
    return (
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">{body}</body></html>'
    )
