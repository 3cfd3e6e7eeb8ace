"""Signed public links (open pixel, tracked click, unsubscribe, preferences) accept the
token exactly as it was issued and nothing else: every other spelling, whatever its
characters, is a 404 problem like any forged link (never a 500)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from .server_harness import API_KEY, items, served_in_thread
from .test_server import paid

LINKS = """
template thanks email
  from "Магазин" <shop@example.com>
  subject "Дякуємо!"
  html "thanks.html"
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  send email thanks
end
"""
HTML = (
    '<p><a href="https://shop.example/new">new</a> <a href="https://shop.example/sale">sale</a></p>'
    '<p><a href="{{ unsubscribe_url }}">unsubscribe</a> <a href="{{ preferences_url }}">preferences</a></p>'
)
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


class Issued:
    """The links of one sent message, as the server wrote them."""

    def __init__(self, base: str, html: str) -> None:
        tracked = {kind: re.search(rf"{base}/{kind}/([^\"]+)\"", html) for kind in ("c", "o")}
        signed = {kind: re.search(rf"{base}/{kind}/(\w+)/([^/\"]+)/([^/\"]+)\"", html)
                  for kind in ("unsubscribe", "preferences")}  # fmt: skip
        #: The first tracked link's token ("c") and the open pixel's ("o").
        self.tracked = {kind: match.group(1) for kind, match in tracked.items() if match is not None}
        #: (channel, contact, token) of the unsubscribe and preferences links.
        self.signed = {kind: match.groups() for kind, match in signed.items() if match is not None}
        assert len(self.tracked) == 2 and len(self.signed) == 2, html

    def token(self, kind: str) -> str:
        return self.tracked[kind]


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Issued]]:
    files = {"shop.scn": LINKS, "thanks.html": HTML}
    with served_in_thread(tmp_path_factory.mktemp("links"), files) as base:
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=10) as client:
            assert client.post("/api/events", json=paid("олена", "o1", email="olena@example.com")).status_code == 202
            deadline = time.monotonic() + 10
            while not (listed := items(client.get("/api/messages").json())):
                assert time.monotonic() < deadline, "no message was written"
                time.sleep(0.02)
            html = client.get(f"/api/messages/{listed[0]['id']}").json()["content"]["html"]
        with httpx.Client(base_url=base, timeout=10) as public:
            yield public, Issued(base, html)


def is_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, (response.request.url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")


def segment(text: str) -> str:
    return quote(text, safe="")


def non_canonical_base64(encoded: str) -> str | None:
    """The same bytes in base64 with unused trailing bits set (decoders accept it)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 0b1111, 3: 0b11}.get(len(encoded) % 4)
    if unused is None:
        return None
    last = alphabet.index(encoded[-1])
    return encoded[:-1] + alphabet[(last & ~unused) | ((last + 1) & unused)]


def spellings(issued_token: str) -> list[str]:
    """Known ways to write a tracking token that decode to the same values."""
    encoded, index, signature = issued_token.split(".")
    out = [f"{encoded}.{i}.{signature}" for i in ("+0", " 0", "0_0", "٠", "00", "-0", "0 ", "\u00a00")]
    padded = encoded + "=" * (-len(encoded) % 4 or 4)
    out += [f"{padded}.{index}.{signature}", f"{encoded}.{index}.{signature}=", f"{encoded}.{index}.{signature}=="]
    out += [f"{encoded}.{index}.{signature[:-1]}é", f"{encoded}.{index}.{signature}é", f"{encoded}.{index}.ß"]
    if (other := non_canonical_base64(encoded)) is not None:
        out.append(f"{other}.{index}.{signature}")
    if (other := non_canonical_base64(signature)) is not None:
        out.append(f"{encoded}.{index}.{other}")
    return out


def edited(genuine: str) -> st.SearchStrategy[str]:
    """``genuine`` with a few characters cut and others (any Unicode) put in their place, or any text."""
    edits = st.tuples(st.integers(0, len(genuine)), st.integers(0, 3), st.text(max_size=3))
    near = edits.map(lambda e: genuine[: e[0]] + e[2] + genuine[e[0] + e[1] :])
    return st.one_of(near, st.text(max_size=60), st.sampled_from(spellings(genuine) if "." in genuine else [genuine]))


def test_the_issued_links_work(issued: tuple[httpx.Client, Issued]) -> None:
    public, links = issued
    assert public.get(f"/o/{links.token('o')}").status_code == 200
    assert public.get(f"/c/{links.token('c')}").headers["location"] == "https://shop.example/new"
    for kind, (channel, contact, token) in links.signed.items():
        assert public.get(f"/{kind}/{channel}/{contact}/{token}").status_code == 200, kind


def test_other_spellings_of_a_tracking_token_are_not_found(issued: tuple[httpx.Client, Issued]) -> None:
    public, links = issued
    for kind in ("o", "c"):
        for other in spellings(links.token(kind)):
            is_not_found(public.get(f"/{kind}/{segment(other)}"))


def test_other_spellings_of_an_unsubscribe_or_preferences_link_are_not_found(
    issued: tuple[httpx.Client, Issued],
) -> None:
    public, links = issued
    for kind, (channel, contact, token) in links.signed.items():
        padded = contact + "=" * (-len(contact) % 4 or 4)
        others = [(padded, token), (contact, token + "="), (contact, token[:-1] + "é"), (contact, "ß")]
        others += [(contact + "=", token), (contact, f" {token}"), (contact.upper(), token)]
        if (other := non_canonical_base64(contact)) is not None:
            others.append((other, token))
        if (other := non_canonical_base64(token)) is not None:
            others.append((contact, other))
        for c, t in others:
            is_not_found(public.get(f"/{kind}/{channel}/{segment(c)}/{segment(t)}"))
            is_not_found(public.post(f"/{kind}/{channel}/{segment(c)}/{segment(t)}"))


@PROPERTY
@given(data=st.data())
def test_any_tracking_token_but_the_issued_one_is_not_found(
    issued: tuple[httpx.Client, Issued], data: st.DataObject
) -> None:
    public, links = issued
    kind = data.draw(st.sampled_from(["o", "c"]))
    genuine = links.token(kind)
    candidate = data.draw(edited(genuine))
    assume(candidate != genuine and candidate not in ("", ".", ".."))
    is_not_found(public.get(f"/{kind}/{segment(candidate)}"))


@PROPERTY
@given(data=st.data())
def test_any_link_but_the_issued_one_is_not_found(issued: tuple[httpx.Client, Issued], data: st.DataObject) -> None:
    public, links = issued
    kind = data.draw(st.sampled_from(sorted(links.signed)))
    channel, contact, token = links.signed[kind]
    which = data.draw(st.sampled_from(["contact", "token"]))
    if which == "contact":
        contact = data.draw(edited(contact).filter(lambda c: c != links.signed[kind][1]))
    else:
        token = data.draw(edited(token).filter(lambda t: t != links.signed[kind][2]))
    assume(all(part not in ("", ".", "..") for part in (contact, token)))
    is_not_found(public.get(f"/{kind}/{channel}/{segment(contact)}/{segment(token)}"))
