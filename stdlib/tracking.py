"""Tracked links and the open pixel, put into an email's HTML when it is rendered.

Every http(s) link of the HTML becomes `<public>/c/<token>`, where the token names the
message (its run and step) and the link's position, signed with the secret; the real
URLs are stored with the message, so the click endpoint redirects only to a URL that
was in that message when it was sent (no open redirect). An invisible image
`<public>/o/<token>` counts opens. The unsubscribe and preferences links are left as they
are: they must work even when tracking is blocked. The plain-text part keeps the real URLs.
"""

from __future__ import annotations

import base64
import hmac
import re

from ..interpreter.runtime.settings import Settings

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def token(settings: Settings, kind: str, key: str, index: int = 0) -> str:
    """`<message key>.<link index>.<signature>`; ``kind`` is "c" (click) or "o" (open)."""
    return f"{_b64(key)}.{index}.{settings.sign(kind, key, str(index))}"


def read_token(settings: Settings, kind: str, value: str) -> tuple[str, int] | None:
    """(message key, link index) of a genuine token; None for anything forged or broken."""
    try:
        encoded, index_text, signature = value.split(".")
        key, index = _unb64(encoded), int(index_text)
    except (ValueError, UnicodeDecodeError):
        return None
    if index < 0 or not hmac.compare_digest(settings.sign(kind, key, str(index)), signature):
        return None
    return key, index


def message_key(run_id: int, step: str) -> str:
    """What names a message in tracking tokens: its run and step (unique in the outbox)."""
    return f"{run_id}:{step}"


def track_html(html: str, key: str, settings: Settings, keep: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """The HTML with tracked links and an open pixel, and the real URLs in link order."""
    base = settings.public_url.rstrip("/")
    links: list[str] = []

    def replace(match: re.Match[str]) -> str:
        url = match.group(3)
        if url in keep or url.startswith((base + "/unsubscribe/", base + "/preferences/")):
            return match.group(0)
        links.append(url)
        return f"{match.group(1)}{match.group(2)}{base}/c/{token(settings, 'c', key, len(links) - 1)}{match.group(2)}"

    tracked = _HREF.sub(replace, html)
    pixel = f'<img src="{base}/o/{token(settings, "o", key)}" width="1" height="1" alt="" style="display:none">'
    if _BODY_END.search(tracked):
        tracked = _BODY_END.sub(lambda m: pixel + m.group(0), tracked, count=1)
    else:
        tracked += pixel
    return tracked, links
