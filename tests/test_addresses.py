"""Email addresses: the door and the sender agree on what one is (`stdlib.addresses`).

Internationalised addresses are taken (Cyrillic, full-width letters, IDN domains); text
that cannot be an address is refused at the door with the reason, never accepted there
to fail at the send."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.runtime.events import Door, EventError, normalise, read_event
from scn.stdlib.addresses import address_error, mailbox
from scn.stdlib.failures import address_problem, is_email_address

from .server_harness import serving

GOOD = [
    ("Вася@пример.рф", "Вася@xn--e1afmkfd.xn--p1ai"),
    ("ｖａｓｙａ@ｅｘａｍｐｌｅ．ｃｏｍ", "ｖａｓｙａ@example.com"),  # full-width: the domain maps to ASCII
    ("user@пример.рф", "user@xn--e1afmkfd.xn--p1ai"),
    ("zofia@straße.de", "zofia@xn--strae-oqa.de"),  # IDNA 2008: ß stays ß
    ("o'brien+tag@example.co.uk", "o'brien+tag@example.co.uk"),
    ("jānis.bērziņš@example.lv", "jānis.bērziņš@example.lv"),
    ("scn@localhost", "scn@localhost"),
    ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
]
NOT_A_DOMAIN = "after the @ is not a domain (labels of letters, digits and hyphens, joined by dots)"
BAD = [
    ("eve,x@example.com", "the part before the @ has ',', which an address cannot have"),
    ("a..b@example.com", "the part before the @ cannot start or end with a dot, nor have two dots in a row"),
    (".a@example.com", "the part before the @ cannot start or end with a dot, nor have two dots in a row"),
    ("<a@example.com>", "the part before the @ has '<', which an address cannot have"),
    ('"ab"@example.com', "the part before the @ has '\"', which an address cannot have"),
    ("a\u200b@example.com", "the part before the @ has U+200B, which an address cannot have"),
    ("a\u00ad@example.com", "the part before the @ has U+00AD, which an address cannot have"),
    ("ж" * 33 + "@example.com", "the part before the @ is longer than 64 bytes"),
    ("x@-bad.com", "'-bad.com' " + NOT_A_DOMAIN),
    (
        "x@exa_mple.com",
        "'exa_mple.com' " + NOT_A_DOMAIN,
    ),
    (
        "x@example.com.",
        "'example.com.' " + NOT_A_DOMAIN,
    ),
    (
        "x@[192.0.2.1]",
        "'[192.0.2.1]' " + NOT_A_DOMAIN,
    ),
    ("x@😀.com", "'😀.com' " + NOT_A_DOMAIN),
    (
        "x@" + "b" * 64 + ".com",
        f"'{'b' * 64}.com' " + NOT_A_DOMAIN,
    ),  # fmt: skip
]
#: What the door refuses before looking closer (its outline: one @, no spaces or controls).
OUTLINE = "expected an email address: one `@` with text on both sides, no spaces"
NOT_EVEN_OUTLINED = [
    "test＠example.com",
    '"a b"@example.com',
    "a\u0085@example.com",
    "eve@example.com,bob@example.com",
    "ann",
    "a b@example.com",
    "ann@example.com\n",
    "@example.com",
    "a@",
]


def door_error(email: str) -> str | None:
    """Why the door refuses a contact with this email (None: it accepts it)."""
    text = json.dumps({"type": "contact.updated", "contact": {"id": "c", "email": email}})
    try:
        normalise(read_event(text), dt.datetime.now(dt.UTC), Door(None, {}))
    except EventError as error:
        ((problem,),) = [[e for e in error.errors if e["field"] == "contact.email"]]
        return problem["message"]
    return None


@pytest.mark.parametrize(("address", "envelope"), GOOD)
def test_internationalised_addresses_are_taken_by_the_door_and_the_sender(address: str, envelope: str) -> None:
    assert door_error(address) is None
    assert address_problem("email", address) is None and is_email_address(address)
    box = mailbox(address)
    assert box is not None and box.ascii == envelope
    assert box.needs_smtputf8 == (not box.local.isascii())


@pytest.mark.parametrize(("address", "why"), BAD)
def test_what_cannot_be_an_address_is_refused_by_both_saying_why(address: str, why: str) -> None:
    assert door_error(address) == f"{address!r} is not an email address: {why}"
    assert (
        address_problem("email", address)
        == f'"{address}" is not an email address ({why}): correct the contact\'s email'
    )
    assert mailbox(address) is None


@pytest.mark.parametrize("address", NOT_EVEN_OUTLINED)
def test_what_has_not_even_the_outline_of_an_address_is_refused_by_both(address: str) -> None:
    assert door_error(address) == OUTLINE
    assert address_problem("email", address) is not None and mailbox(address) is None


def test_senders_may_be_written_with_a_name_but_one_address_only() -> None:
    assert is_email_address("Магазин <магазин@пример.рф>") and is_email_address('"Shop, Inc" <shop@example.com>')
    assert not is_email_address("shop@example.com, eve@example.com")
    assert not is_email_address("Shop <eve,x@example.com>") and not is_email_address("Shop <shop@example.com>\nBcc: x")
    # A contact's email is one bare address: no name, no brackets.
    assert is_email_address("<ann@example.com>") and address_problem("email", "<ann@example.com>") is not None
    assert address_problem("email", "Ann <ann@example.com>") is not None


#: Text made of what addresses are made of, and of what breaks them.
PIECES = st.lists(
    st.sampled_from(list("ab.@-_+,;<>\"' ()[]ж＠．ｅ\u200bЖ1ß😀\n") + ["пример", "рф", "xn--", "com"]), max_size=16
).map("".join)
LOCAL = st.lists(st.sampled_from(["ann", "Ж", "ж", ".", "+", "ｖ", "o'b", "ß", "😀", ",", " ", "\u200b", "<"]),
                 min_size=1, max_size=5).map("".join)  # fmt: skip
DOMAIN = st.lists(st.sampled_from(["пример", "рф", "example", "com", ".", "-", "．", "ｅ", "xn--", "_", "😀", "1"]),
                  min_size=1, max_size=6).map("".join)  # fmt: skip
ADDRESSES = st.one_of(PIECES, st.builds("{}@{}".format, LOCAL, DOMAIN))


@settings(max_examples=400, deadline=None)
@given(text=ADDRESSES)
def test_the_door_and_the_send_agree_on_any_text(text: str) -> None:
    door = door_error(text) is None
    send = address_problem("email", text) is None
    assert door == send == (mailbox(text) is not None), (text, door_error(text), address_problem("email", text))
    if send:
        box = mailbox(text)
        assert box is not None and mailbox(box.ascii) is not None, "its envelope form is an address too"
        assert box.ascii.isascii() == box.local.isascii()


#: ASCII addresses at their limits: the local part's 64 bytes, a label's 63 characters, 254 in all.
LONGEST = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61
LIMITS = [
    ("a" * 64 + "@example.com", None),
    ("a" * 65 + "@example.com", "the part before the @ is longer than 64 bytes"),
    ("a." * 32 + "a@example.com", "the part before the @ is longer than 64 bytes"),
    ("x@" + "b" * 63 + ".com", None),
    ("x@" + "b" * 64 + ".com", f"'{'b' * 64}.com' " + NOT_A_DOMAIN),
    (LONGEST, None),
    (LONGEST + "d", "longer than 254 characters"),
    ("x@a-b.c--d.e", None),
    ("x@a.-b", "'a.-b' " + NOT_A_DOMAIN),
    ("x@ab-", "'ab-' " + NOT_A_DOMAIN),
    ("x.@example.com", "the part before the @ cannot start or end with a dot, nor have two dots in a row"),
]


@pytest.mark.parametrize(("address", "why"), LIMITS)
def test_ascii_addresses_at_their_limits(address: str, why: str | None) -> None:
    assert address_error(address) == why
    assert (mailbox(address) is None) == (why is not None)


#: ASCII text near the limits, made of what addresses are made of.
ASCII_PARTS = st.lists(st.sampled_from(["a", "Z", "0", ".", "-", "@", "_", "+", "'", "a" * 30, "b" * 63, ".."]),
                       max_size=12).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(local=ASCII_PARTS, domain=ASCII_PARTS)
def test_the_door_takes_the_ascii_addresses_the_sender_takes_apart(local: str, domain: str) -> None:
    text = f"{local}@{domain}"
    assert (address_error(text) is None) == (mailbox(text) is not None), (text, address_error(text))


async def test_the_api_takes_internationalised_addresses_and_names_the_field_of_one_that_is_not(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, {"t.scn": 'list x "X"\n'}) as s:
        for email in ("Вася@пример.рф", "ｖａｓｙａ@ｅｘａｍｐｌｅ．ｃｏｍ"):
            answer = await s.client.post("/api/contacts", json={"id": "vasya", "email": email})
            assert answer.status_code == 202, answer.text
        refused = await s.client.post("/api/contacts", json={"id": "eve", "email": "eve,x@example.com"})
        assert refused.status_code == 422
        assert refused.json()["errors"] == [{"field": "contact.email", "message": (
            "'eve,x@example.com' is not an email address: the part before the @ has ',', which an address cannot "
            "have")}]  # fmt: skip
