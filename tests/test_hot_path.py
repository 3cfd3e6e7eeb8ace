"""The path every email takes (event in, mail out) does each piece of work once: a batch
of events reads its records in bulk, and what is made for a message is made once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.settings import Settings
from scn.stdlib.messages import html_to_text
from scn.stdlib.tracking import read_token, token, track_html

from .conftest import ROOT
from .harness import Harness

EXAMPLES = ROOT / "examples"

THANKS = """
template thanks email
  from "Shop" <shop@example.com>
  subject "Thank you, {{ contact.first_name }}!"
  html "thanks.html"
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  send email thanks
end
"""
THANKS_HTML = (
    "<p>Order {{ order.number }}: {{ order.total|money }}</p>"
    '{% for item in purchased %}{% if item.url %}<a href="{{ item.url }}">{{ item.name }}</a>{% endif %}{% endfor %}'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
)


def order_paid(h: Harness, n: int, number: str | None = None) -> Any:
    """Contact c<n> paid order o<n>."""
    items = [{"product_id": "mug", "name": "Mug", "quantity": 2, "price": "75.00", "url": "https://shop.example/mug"}]
    return h.event("order.paid", f"c{n}", person={"first_name": f"N{n}"},
                   order={"id": f"o{n}", "number": number or f"N{n}", "total": "150.00", "currency": "UAH",
                          "items": items})  # fmt: skip


def test_a_batch_of_events_reads_their_orders_in_one_query(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with Harness(THANKS, resources={"thanks.html": THANKS_HTML}) as h:
            asked: list[set[str]] = []
            orders = h.store.orders

            async def counted(ids: Collection[str]) -> dict[str, dict[str, Any]]:
                asked.append(set(ids))
                return await orders(ids)

            monkeypatch.setattr(h.store, "orders", counted)
            # Forty orders, and a second event about the first one, in one batch.
            await h.engine.accept([h.engine.event_in(order_paid(h, n)) for n in range(40)])
            await h.engine.accept([h.engine.event_in(order_paid(h, 0, number="N0b"))])
            assert await h.engine.process_events() == 41
            assert asked == [{f"o{n}" for n in range(40)}]
            sent = await h.rows("SELECT contact_id FROM outbox WHERE status = 'pending' ORDER BY id")
            assert [c for (c,) in sent] == [f"c{n}" for n in range(40)]  # o0 paid twice: one mail
            # The second event about o0 saw what the first one made of it.
            assert await h.rows("SELECT number, paid_at IS NOT NULL FROM orders WHERE id = 'o0'") == [("N0b", 1)]
            assert await h.rows("SELECT orders_count FROM contacts WHERE id = 'c0'") == [(1,)]

    asyncio.run(main())


# ---------------------------------------------------------------- the text part of an email

_OLD_BREAKS = frozenset({"br", "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "table"})
_OLD_HIDDEN = frozenset({"head", "style", "script", "title"})
_OLD_PIECE = re.compile(r"<[^<>]*>|[^<]+|<")
_OLD_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
_OLD_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def old_html_to_text(markup: str) -> str:
    """stdlib.messages.html_to_text as it was before it was made faster (a token at a
    time): what the new one must give for every input."""
    out: list[str] = []
    hidden = 0
    link: str | None = None
    link_text: list[str] = []
    markup = markup.replace("\x1f", " ")
    position, size = 0, len(markup)
    while position < size:
        if markup.startswith("<!--", position):
            end = markup.find("-->", position + 4)
            position = size if end < 0 else end + 3
            continue
        piece = _OLD_PIECE.match(markup, position)
        assert piece is not None
        token, position = piece.group(), piece.end()
        tag = _OLD_TAG_NAME.match(token) if len(token) > 2 and token.endswith(">") else None
        if tag is None and len(token) > 2 and token.endswith(">") and token[1] in "!?":
            continue  # `<!DOCTYPE html>`, `<?xml ...?>`: not shown (since the faster version)
        if tag is not None and not tag.group(1) and tag.group(2).lower() in ("td", "th"):
            if not hidden:  # since the faster version: a cell starts, like text
                (link_text if link is not None else out).append("\x1f")
            continue
        if tag is None:
            if not hidden:
                (link_text if link is not None else out).append(html.unescape(token))
            continue
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name in _OLD_HIDDEN:
            hidden = max(hidden - 1, 0) if closing else hidden + 1
        elif name == "a" and not closing:
            found = _OLD_HREF.search(token)
            link = html.unescape(next((g for g in found.groups() if g is not None), "")) if found else ""
            link_text = []
        elif name == "a" and link is not None:
            text = " ".join("".join(link_text).split())
            out.append(f"{text} ({link})" if link else text)
            link = None
        elif name in _OLD_BREAKS:
            out.append("\n")

    if link is not None:
        out.append("".join(link_text))
    lines = [" | ".join(c for c in (" ".join(cell.split()) for cell in line.split("\x1f")) if c)
             for line in "".join(out).splitlines()]  # fmt: skip
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip() + "\n"


#: Pieces of markup, well and badly formed, that the text version treats differently.
MARKUP = [
    "<", ">", "<>", "< >", "<!--", "-->", "<!-->", "<!--->", "<!DOCTYPE html>", "<?xml?>", "<![CDATA[x]]>",
    "<a href='https://x.example/?a=1&amp;b=2'>", '<a href="y&amp;z">', "<A HREF=q>", "<a\n href='q'>", "<a>",
    "</a>", "</a", "< / a >", "<a1>", "<1>", "<b>", "</b>", "<td>", "<span class='x'>", "<img src='i.png'>",
    "<p>", "</P >", "</ p>", "<br/>", "<BR>", "<li/>", "<TABLE>", "<h1>", "<h6>", "<h7>", "<div\tclass=x>",
    "<head>", "</head>", "<style>", "</style>", "<script>", "</script>", "<title>", "<scriptx>", "<ſcript>",
    "&amp;", "&", "&am", "p;", "&nbsp;", "&#60;", "&#x3C;p>", "&lt;", "&ampx", "&notin;", "&am<b>p;", "&#6<i>0;",
    "</TD>", "<th>", "<tdx>", "\x1f",
    " ", "  ", "\n", "\r\n", "\r", "\t", "\x0b", "\x0c", "\u2028", "\u00a0", "text", "Ціна", "Zażółć", "K", "ß",
]  # fmt: skip


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(MARKUP), max_size=40) | st.text(max_size=80))
def test_the_text_version_of_an_email_is_what_it_was(pieces: list[str] | str) -> None:
    markup = "".join(pieces)
    assert html_to_text(markup) == old_html_to_text(markup)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("templates/*.html")), ids=lambda p: p.name)
def test_the_text_version_of_each_example_template_is_what_it_was(path: Path) -> None:
    markup = path.read_text(encoding="utf-8")
    assert html_to_text(markup) == old_html_to_text(markup)


# ---------------------------------------------------------------- tracked links

LINKS_HTML = (
    "<html><body><a href=\"https://shop.example/\">Shop</a> <a href='https://shop.example/p/mug?a=1&amp;b=2'>Mug</a>"
    '<a href="https://x.example/unsubscribe/email/Yw/abc">Unsubscribe</a> <a href="mailto:a@b.c">Mail</a>'
    '<A HREF="http://shop.example/sale">Sale</A><a href="https://shop.example/">Shop again</a></body></html>'
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(secret=st.text(min_size=1, max_size=100), parts=st.lists(st.text(max_size=20), min_size=1, max_size=3),
       last=st.text(max_size=10))  # fmt: skip
def test_a_signer_signs_as_sign_does(secret: str, parts: list[str], last: str) -> None:
    """What is shared by several signatures is hashed once; the signatures are the same
    (secrets longer than a SHA-256 block too: the key is hashed first)."""
    keys = Settings(secret=secret)
    assert keys.signer(*parts)(last) == keys.sign(*parts, last)
    assert keys.verify(keys.signer(*parts)(last), *parts, last)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(secret=st.text(min_size=1, max_size=100), parts=st.lists(st.text(max_size=20), min_size=1, max_size=3))
def test_a_signature_is_the_hmac_of_its_parts(secret: str, parts: list[str]) -> None:
    """Links already sent must keep working: `sign` (which reuses the keyed HMAC) gives
    exactly HMAC-SHA256 of the parts joined by \\x1f, its first 18 bytes in URL-safe
    base64 without padding, whatever the secret's length or script."""
    digest = hmac.new(secret.encode(), "\x1f".join(parts).encode(), hashlib.sha256).digest()
    assert Settings(secret=secret).sign(*parts) == base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def test_tracked_links_are_signed_as_one_at_a_time() -> None:
    keys = Settings(secret="a secret", public_url="https://x.example/")
    tracked, links = track_html(LINKS_HTML, "41:s3", keys)
    assert links == ["https://shop.example/", "https://shop.example/p/mug?a=1&amp;b=2", "http://shop.example/sale",
                     "https://shop.example/"]  # fmt: skip
    expected = [f"https://x.example/c/{token(keys, 'c', '41:s3', i)}" for i in range(len(links))]
    assert re.findall(r"https://x\.example/c/[^\"']+", tracked) == expected
    assert f'<img src="https://x.example/o/{token(keys, "o", "41:s3")}"' in tracked
    assert [read_token(keys, "c", t.rsplit("/", 1)[1]) for t in expected] == [("41:s3", i) for i in range(4)]
    assert "https://x.example/unsubscribe/email/Yw/abc" in tracked and "mailto:a@b.c" in tracked


def test_the_outbox_json_reads_back_as_the_standard_library_wrote_it() -> None:
    """The message's JSON is msgspec's now: the same values come back, Markup included."""
    from markupsafe import Markup

    from scn.interpreter.runtime.sending import _encode_json

    message = {"subject": "Dzień dobry, Анна, ā", "html": Markup("<b>x</b>"), "links": ["https://x.example/?a=1&b=2"],
               "reply_to": None, "plain": "line\u2028break\x00end"}  # fmt: skip
    assert json.loads(_encode_json(message)) == json.loads(json.dumps(message, ensure_ascii=False))
