"""The pages a contact opens from a message (unsubscribe, preferences) speak the contact's
language, over real HTTP against the real app; and the catalogue behind them is whole."""

from __future__ import annotations

import html
import re
import sqlite3
import string
from pathlib import Path
from typing import Any

import httpx
import pytest

from scn.interpreter.views import CHANNELS
from scn.server.contact_words import CHANNEL_MESSAGES, CHANNEL_NAMES, FALLBACK, TEXTS, language_for

from .server_harness import Served, serving
from .test_server import FILES, is_problem


def fields(text: str) -> set[str]:
    """The `{name}` slots a text is formatted with."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_language_has_every_text_and_channel_that_english_has() -> None:
    english = TEXTS[FALLBACK]
    assert set(CHANNEL_NAMES[FALLBACK]) == set(CHANNEL_MESSAGES[FALLBACK]) == set(CHANNELS)
    assert set(TEXTS) == set(CHANNEL_NAMES) == set(CHANNEL_MESSAGES)
    assert {"en", "uk", "ru", "pl", "lv"} <= set(TEXTS)
    for language, texts in TEXTS.items():
        assert set(texts) == set(english), f"{language}: {set(english) ^ set(texts)}"
        for key, text in texts.items():
            assert text.strip() == text and text, (language, key)
            assert fields(text) == fields(english[key]), (language, key, "takes other values than English")
        for catalogue in (CHANNEL_NAMES, CHANNEL_MESSAGES):
            assert set(catalogue[language]) == set(CHANNELS), language
            assert all(word.strip() for word in catalogue[language].values()), language


@pytest.mark.parametrize(
    "tag, language",
    [("uk", "uk"), ("uk-UA", "uk"), ("uk_UA", "uk"), ("UK", "uk"), ("pl-PL", "pl"), ("lv", "lv"), ("ru", "ru"),
     ("de-AT", "de"), ("en-GB", "en"), ("xx", "en"), ("xx-UA", "en"), ("", "en"), ("-", "en"), (None, "en"),
     (42, "en")],
)  # fmt: skip
def test_the_language_is_the_tag_then_its_base_then_english(tag: object, language: str) -> None:
    assert language_for(tag) == language


async def add_contacts(s: Served, *contacts: dict[str, Any]) -> None:
    for contact in contacts:
        answer = await s.client.post("/api/contacts", json=contact)
        assert answer.status_code == 202, answer.text
    await s.settle()


def lang_of(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    found = re.search(r'<html lang="([^"]*)">', page.text)
    assert found is not None, page.text
    return found.group(1)


def shown(page: httpx.Response) -> str:
    """The page's text as a reader sees it (tags dropped, entities read)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


async def subscribed(s: Served, contact: str) -> dict[str, bool]:
    await s.settle()
    found = (await s.client.get(f"/api/contacts/{contact}")).json()["subscriptions"]
    return {channel: state["subscribed"] for channel, state in found.items()}


async def test_the_unsubscribe_pages_speak_the_contacts_language(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        people = {"olena": "uk", "taras": "uk-UA", "anna": "pl", "ilze": "lv", "ivan": "ru", "hans": "de",
                  "xavi": "lt", "jonas": "lt-LT"}  # fmt: skip
        await add_contacts(
            s,
            {"id": "bob", "email": "bob@example.com"},
            {"id": "zed", "email": "zed@example.com"},
            *({"id": p, "email": f"{p}@example.com", "language": tag} for p, tag in people.items()),
        )
        # The door takes only languages scn knows; a store written another way may hold any tag.
        with sqlite3.connect(tmp_path / "scn.db") as db:
            db.execute("UPDATE contacts SET language = 'xx' WHERE id = 'zed'")
        question = {
            "olena": ("uk", "Відписатися і більше не отримувати від нас листи?"),
            "taras": ("uk", "Відписатися і більше не отримувати від нас листи?"),
            "anna": ("pl", "Czy chcesz przestać otrzymywać od nas wiadomości e-mail?"),
            "ilze": ("lv", "Vai vairs nevēlaties saņemt no mums e-pasta vēstules?"),
            "ivan": ("ru", "Отписаться и больше не получать от нас письма?"),
            "hans": ("de", "Möchten Sie keine E-Mails mehr von uns erhalten?"),
            "xavi": ("en", "Do you want to stop receiving emails from us?"),
            "jonas": ("en", "Do you want to stop receiving emails from us?"),
            "zed": ("en", "Do you want to stop receiving emails from us?"),
            "bob": ("en", "Do you want to stop receiving emails from us?"),
        }  # fmt: skip
        for person, (language, asked) in question.items():
            page = await s.public.get(s.core.settings.link("unsubscribe", person, "email"))
            assert lang_of(page) == language and asked in shown(page), (person, page.text)
            assert '<form method="post">' in page.text
        assert [p for p in question if not (await subscribed(s, p))["email"]] == [], "GET changes nothing"

        sms = await s.public.get(s.core.settings.link("unsubscribe", "olena", "sms"))
        assert "більше не отримувати від нас SMS?" in shown(sms), "each channel by its word, not its code"
        one_click = await s.public.post(
            s.core.settings.link("unsubscribe", "olena", "email"), content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert one_click.status_code == 200 and "location" not in one_click.headers
        assert lang_of(one_click) == "uk"
        assert "Ви відписалися" in shown(one_click) and "Ми більше не надсилатимемо вам листи." in shown(one_click)
        assert (await subscribed(s, "olena"))["email"] is False, "the unsubscribe lands"
        assert (await subscribed(s, "taras"))["email"] is True
        plain = await s.public.post(s.core.settings.link("unsubscribe", "xavi", "email"))
        assert lang_of(plain) == "en" and "You will no longer receive emails from us." in shown(plain)
        assert (await subscribed(s, "xavi"))["email"] is False

        forged = s.core.settings.link("unsubscribe", "olena", "email")[:-3] + "abc"
        is_problem(await s.public.get(forged), 404)
        is_problem(await s.public.post(forged), 404)
        is_problem(await s.public.get(s.core.settings.link("preferences", "olena", "email")[:-3] + "abc"), 404)


async def test_the_preferences_form_and_its_answer_name_the_channels_in_the_contacts_language(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, FILES) as s:
        anna = {"id": "anna", "email": "anna@example.com", "phone": "+48601234567", "push_token": "t-1",
                "language": "pl"}  # fmt: skip
        await add_contacts(s, anna, {**anna, "id": "olena", "language": "uk-UA"})
        link = s.core.settings.link("preferences", "anna", "email")
        form = await s.public.get(link)
        assert lang_of(form) == "pl"
        labels = re.findall(r'<input type="checkbox" name="([a-z]+)" value="on" checked> ([^<]+)</label>', form.text)
        assert labels == [("email", "E-mail"), ("sms", "SMS"), ("viber", "Viber"), ("push", "Powiadomienia push"),
                          ("webpush", "Powiadomienia w przeglądarce")]  # fmt: skip
        assert "Twoje subskrypcje" in shown(form) and "Zapisz" in shown(form)

        saved = await s.public.post(link, data={"email": "on", "webpush": "on"})
        assert lang_of(saved) == "pl"
        assert "Twoje subskrypcje: e-mail, powiadomienia w przeglądarce." in shown(saved), saved.text
        assert await subscribed(s, "anna") == {"email": True, "sms": False, "viber": False, "push": False,
                                               "webpush": True}  # fmt: skip

        nothing = await s.public.post(link, data={})
        assert "Nie będziesz otrzymywać od nas żadnych wiadomości." in shown(nothing), nothing.text
        assert not any((await subscribed(s, "anna")).values()), "the preferences still save"

        olena = s.core.settings.link("preferences", "olena", "sms")
        assert lang_of(await s.public.get(olena)) == "uk"
        saved = await s.public.post(olena, data={"sms": "on", "viber": "on"})
        assert lang_of(saved) == "uk" and "Ваші підписки: SMS, Viber." in shown(saved), saved.text


async def test_a_contact_with_no_language_an_empty_one_or_erased_gets_english_and_no_channel_a_note(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, FILES) as s:
        await add_contacts(
            s, {"id": "blank", "email": "blank@example.com", "language": "uk"}, {"id": "gone", "email": "g@example.com",
            "language": "uk"}, {"id": "nowhere", "language": "uk"}, {"id": "none", "phone": "+380501234567"},
        )  # fmt: skip
        # The door refuses an empty language; a store written another way may still hold one.
        with sqlite3.connect(tmp_path / "scn.db") as db:
            db.execute("UPDATE contacts SET language = '' WHERE id = 'blank'")
        assert (await s.client.post("/api/contacts/gone/erase")).status_code == 200
        for person in ("blank", "gone", "none"):
            for kind in ("unsubscribe", "preferences"):
                page = await s.public.get(s.core.settings.link(kind, person, "email"))
                assert lang_of(page) == "en", (person, kind, page.text)
        none = await s.public.get(s.core.settings.link("preferences", "none", "sms"))
        assert "Choose which messages you would like to receive from us." in shown(none)
        assert "SMS" in shown(none) and "Viber" in shown(none)
        gone = s.core.settings.link("unsubscribe", "gone", "email")
        assert "You will no longer receive emails from us." in shown(await s.public.post(gone))
        gone = s.core.settings.link("preferences", "gone", "email")
        assert "You will not receive any messages from us." in shown(await s.public.post(gone, data={"email": "on"}))

        nowhere = s.core.settings.link("preferences", "nowhere", "email")
        page = await s.public.get(nowhere)
        assert lang_of(page) == "uk" and "У нас немає ваших контактів для розсилки." in shown(page)
        assert "<form" not in page.text and "checkbox" not in page.text
        saved = await s.public.post(nowhere, data={"email": "on"})
        assert "Ви відписалися від усіх наших повідомлень." in shown(saved), "nothing to subscribe to"


async def test_a_link_in_an_old_message_of_an_erased_contact_does_not_make_the_contact_again(tmp_path: Path) -> None:
    """Erasure (GDPR) took the contact away; a click on the unsubscribe or preferences link of
    a message sent before must not put a contact of that id back (it did: the unsubscribe
    became an event about the contact, and the event made it again). The page still answers
    as done: an erased person gets nothing from us."""
    async with serving(tmp_path, FILES) as s:
        await add_contacts(
            s, {"id": "gone", "email": "g@example.com", "language": "uk"}, {"id": "kept", "email": "k@example.com"}
        )
        assert (await s.client.post("/api/contacts/gone/erase")).status_code == 200
        assert (await s.client.get("/api/contacts/gone")).status_code == 404
        unsubscribe = s.core.settings.link("unsubscribe", "gone", "email")
        assert (await s.public.post(unsubscribe, content=b"List-Unsubscribe=One-Click")).status_code == 200
        preferences = s.core.settings.link("preferences", "gone", "email")
        assert (await s.public.post(preferences, data={"email": "on", "sms": "on"})).status_code == 200
        await s.settle()
        assert (await s.client.get("/api/contacts/gone")).status_code == 404
        with sqlite3.connect(tmp_path / "scn.db") as db:
            assert db.execute("SELECT count(*) FROM contacts WHERE id = 'gone'").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM events WHERE contact_id = 'gone'").fetchone() == (0,)
        # A contact that is there is still unsubscribed by the same link.
        kept = s.core.settings.link("unsubscribe", "kept", "email")
        assert (await s.public.post(kept, content=b"List-Unsubscribe=One-Click")).status_code == 200
        await s.settle()
        assert (await s.client.get("/api/contacts/kept")).json()["subscriptions"]["email"]["subscribed"] is False
