"""Tracked links and the open pixel, put into an email's HTML when it is rendered.

Every http(s) link of the HTML becomes `<public>/c/<token>`, where the token names the
message (its run and step) and the link's position, signed with the secret; the real
URLs are stored with the message, so the click endpoint redirects only to a URL that
was in that message when it was sent (no open redirect). An invisible image
`<public>/o/<token>` counts opens. The unsubscribe and preferences links are left as they
are: they must work even when tracking is blocked. The plain-text part keeps the real URLs.
"""

from __future__ import annotations

import re

from ..interpreter.settings import Settings, link_text, read_link_text

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
#: A link index as `token` writes it: ASCII digits, no sign, no leading zero.
_INDEX = re.compile(r"0|[1-9][0-9]{0,5}")


def token(settings: Settings, kind: str, key: str, index: int = 0) -> str:
    """`<message key>.<link index>.<signature>`; ``kind`` is "c" (click) or "o" (open)."""
    return f"{link_text(key)}.{index}.{settings.sign(kind, key, str(index))}"


def read_token(settings: Settings, kind: str, value: str) -> tuple[str, int] | None:
    """(message key, link index) of a token exactly as `token` wrote it; None for anything
    else (forged, broken, or the same values spelled another way: `+0`, `00`, padding)."""
    parts = value.split(".")
    if len(parts) != 3 or not _INDEX.fullmatch(parts[1]):
        return None
    encoded, index_text, signature = parts
    key = read_link_text(encoded)
    if key is None or not settings.verify(signature, kind, key, index_text):
        return None
    return key, int(index_text)


def message_key(run_id: int, step: str) -> str:
    """What names a message in tracking tokens: its run and step (unique in the outbox)."""
    return f"{run_id}:{step}"


def track_html(html: str, key: str, settings: Settings, keep: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """The HTML with tracked links and an open pixel, and the real URLs in link order."""
    base = settings.public_url.rstrip("/")
    links: list[str] = []
    # The links' tokens as `token` writes them: the key encoded once, and the HMAC of
    # what their signatures share computed once.
    prefix = f"{base}/c/{link_text(key)}."
    sign = settings.signer("c", key)
    untracked = (base + "/unsubscribe/", base + "/preferences/")

    def replace(match: re.Match[str]) -> str:
        url = match.group(3)
        if url in keep or url.startswith(untracked):
            return match.group(0)
        index = str(len(links))
        links.append(url)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{prefix}{index}.{sign(index)}{quote}"

    tracked = _HREF.sub(replace, html)
    pixel = f'<img src="{base}/o/{token(settings, "o", key)}" width="1" height="1" alt="" style="display:none">'
    if _BODY_END.search(tracked):
        tracked = _BODY_END.sub(lambda m: pixel + m.group(0), tracked, count=1)
    else:
        tracked += pixel
    return tracked, links
