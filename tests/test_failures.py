"""Failed sends in plain sight: a `failed` message with a readable reason and a class,
listed by the API, counted in /metrics, the report and `scn simulate`'s summary.

The failures here stay run-time failures whatever the checker learns: a pool that runs
out of codes, a contact's address that is not one (stored before the door checked
addresses: the door now refuses it), a contact's name that would add a header, a
provider or mail server refusing."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest

from scn.interpreter.runtime.events import EventError, convert_event
from scn.interpreter.store import PENDING, UNDELIVERED, Changes, ContactUpdate
from scn.stdlib.delivery import RetryPolicy, Sender
from scn.stdlib.delivery.email import SmtpChannel, SmtpConfig
from scn.stdlib.delivery.http import HttpChannel, HttpProviderConfig
from scn.stdlib.failures import plain_reason, template_reason
from scn.stdlib.templates import environment

from .conftest import check_texts
from .harness import Harness
from .http_stub import HttpStub
from .server_harness import Served, serving
from .smtp_server import SmtpServer, free_port
from .test_client import scn

GIFT = """
coupon GIFT discount 10% from pool "codes.csv"
list thanked "Thanked"

template gift email
  from "Shop" <shop@example.com>
  subject "A gift for you, {{ contact.first_name }}"
  html "gift.html"
end

scenario gift "Gift"
  on contact.registered
  entry once per contact
  send email gift with coupon GIFT
  add to list thanked
end
"""
RESOURCES = {"codes.csv": "code\nG-1\n", "gift.html": "<p>{{ contact.first_name }}: {{ coupon.code }}</p>"}
FILES = {"gift.scn": GIFT, **RESOURCES}
#: Whatever a marketer reads must never show Python's insides.
PYTHON_TEXT = re.compile(r"<class |Traceback|\[Errno|Error:|Exception")


def registered(contact: str, email: str | None = None, name: str = "Ann") -> dict[str, Any]:
    person = {"id": contact, "email": email or f"{contact}@example.com", "first_name": name}
    return {"type": "contact.registered", "key": f"r-{contact}", "contact": person}


def readable(reason: str | None) -> str:
    assert reason, "a failed message says why"
    assert not PYTHON_TEXT.search(reason), reason
    return reason


async def outbox(h: Harness) -> list[tuple[Any, ...]]:
    return await h.rows("SELECT contact_id, status, error, failure, coupon_code, attempts FROM outbox ORDER BY id")


async def test_a_pool_with_no_code_left_fails_the_send_visibly_and_the_run_goes_on() -> None:
    async with Harness(GIFT, resources=RESOURCES) as h:
        await h.play([h.event("contact.registered", "ann", person={"first_name": "Ann"})])
        await h.play([h.event("contact.registered", "bob", person={"first_name": "Bob"})])
        rows = await outbox(h)
        log = await h.rows(
            "SELECT r.contact_id, l.name, l.outcome, l.detail FROM step_log l JOIN runs r ON r.id = l.run_id "
            "WHERE r.contact_id = 'bob' ORDER BY l.id"
        )
        members = await h.rows("SELECT contact_id FROM list_members ORDER BY contact_id")
    assert rows[0][:2] == ("ann", PENDING) and rows[0][4] == "G-1"
    bob = rows[1]
    assert bob[:2] == ("bob", UNDELIVERED) and bob[3] == "coupon" and bob[5] == 0
    assert readable(bob[2]) == "no code left for coupon GIFT: its pool is used up; import more codes"
    assert [(name, outcome) for _, name, outcome, _ in log] == [
        ("on contact.registered", "started"), ("send email gift with coupon GIFT", "failed"),
        ("add to list thanked", "done"), ("end", "done"),
    ]  # fmt: skip
    assert log[1][3] == bob[2]
    assert members == [("ann",), ("bob",)], "a failed send does not stop the run"


async def stored_before_the_door_checked(h: Harness, contact: str, email: str) -> None:
    """A contact's email from before the door checked addresses as the sender does."""
    await h.store.commit(Changes(contacts=[ContactUpdate(id=contact, at=0, fields={"email": email})]))


#: The contact's stored email stays as it is.
KEEP = {"email": None}


async def test_an_address_that_is_not_one_fails_before_it_leaves_and_spends_no_code() -> None:
    async with Harness(GIFT, resources=RESOURCES) as h:
        with pytest.raises(EventError, match="contact.email: 'eve,x@example.com' is not an email address"):
            h.engine.event_in(h.event("contact.registered", "eve", person={"email": "eve,x@example.com"}))
        await stored_before_the_door_checked(h, "eve", "eve,x@example.com")
        await h.play([h.event("contact.registered", "eve", person=KEEP)])
        await h.play([h.event("contact.registered", "ann")])
        rows = await outbox(h)
    assert rows[0][:2] == ("eve", UNDELIVERED) and rows[0][3] == "address" and rows[0][4] is None
    assert readable(rows[0][2]) == (
        "\"eve,x@example.com\" is not an email address (the part before the @ has ',', which an address cannot "
        "have): correct the contact's email"
    )
    assert rows[1][:2] == ("ann", PENDING) and rows[1][4] == "G-1", "the code went to the next contact"


async def test_a_template_that_fails_for_this_contact_is_a_failed_message_naming_the_part() -> None:
    """What checks runs, but not without limit: a contact with many tags makes this
    template loop past a message's budget, and only that contact's message fails."""
    loops = (
        "{% for t in contact.tags %}{% for a in range(1000) %}{% for b in range(100) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    line = "<p>" + loops + "</p>"
    resources = {"codes.csv": "code\nG-1\nG-2\n", "gift.html": "<p>{{ coupon.code }}</p>\n" + line}
    async with Harness(GIFT, resources=resources) as h:
        many = {"first_name": "Mal", "tags": ["a", "b", "c"]}
        await h.play([h.event("contact.registered", "mal", person=many), h.event("contact.registered", "ann")])
        rows = await outbox(h)
    assert rows[0][:2] == ("mal", UNDELIVERED) and rows[0][3] == "template"
    assert readable(rows[0][2]) == (
        f"template gift (default), html from gift.html, line 2: {line[:80]}: the template loops more than "
        "100000 times for one message"
    )
    assert rows[1][:2] == ("ann", PENDING)


def test_template_reasons_say_where_and_what_in_words() -> None:
    text = "Hello {{ contact }}\nYour share: {{ total / parts }}\n"
    try:  # Jinja's own environment: ours gives unset for a division by zero
        jinja2.Environment().from_string(text).render(contact="Ann", total=10, parts=0)
    except ZeroDivisionError as error:
        reason = template_reason("share", "uk", "text", "share.uk.txt", text, error)
    assert (
        reason
        == "template share (uk), text from share.uk.txt, line 2: Your share: {{ total / parts }}: a division by zero"
    )
    try:
        decimal.Decimal("10%")
    except decimal.InvalidOperation as error:
        assert str(error) == "[<class 'decimal.ConversionSyntax'>]"
        assert plain_reason(error) == "a value that is not a number was used as a number"
    try:
        environment(html=False).from_string("{{ coupon.code }}").render()
    except Exception as error:  # jinja2's UndefinedError
        assert readable(plain_reason(error)) == "'coupon' is undefined (the variable or field does not exist here)"


FREQUENCY = """
template hello email
  subject "Hello"
  html "hello.html"
end

scenario hello "Hello"
  on contact.active
  frequency at most 1 per 1d
  send email hello
end
"""


async def test_a_failed_message_does_not_count_against_the_frequency_cap() -> None:
    async with Harness(FREQUENCY) as h:
        await stored_before_the_door_checked(h, "eve", "eve,x@example.com")
        await h.play([h.event("contact.active", "eve", person=KEEP)])
        await h.play([h.event("contact.updated", "eve"), h.event("contact.active", "eve")])
        rows = await outbox(h)
    assert [(r[1], r[3]) for r in rows] == [(UNDELIVERED, "address"), (PENDING, None)]


# ---------------------------------------------------------------- on delivery

SMS = """
template hello_sms sms
  text "Hello, {{ contact.first_name }}!"
end
scenario hello "Hello"
  on contact.registered
  send sms hello_sms
end
"""
POLICY = RetryPolicy(first_delay_ms=60_000, max_delay_ms=60_000, max_age_ms=90_000)


async def test_delivery_failures_have_a_class_and_a_readable_reason() -> None:
    closed = free_port()
    with HttpStub() as stub:
        stub.replies["/sms"] = [(400, '{"error": "invalid number"}', 0.0)]
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person={"phone": "+3712"})])
            await Sender(h.store, h.clock, {"sms": HttpChannel("sms", HttpProviderConfig(url=f"{stub.base}/sms"))},
                         policy=POLICY).deliver_due()  # fmt: skip
            await h.play([h.event("contact.registered", "b", person={"phone": "+3713"})])
            await Sender(h.store, h.clock, {}, policy=POLICY).deliver_due()
            await h.play([h.event("contact.registered", "c", person={"phone": "+3714"})])
            unreachable = HttpChannel("sms", HttpProviderConfig(url=f"http://127.0.0.1:{closed}/sms"))
            sender = Sender(h.store, h.clock, {"sms": unreachable}, policy=POLICY)
            await sender.deliver_due()
            (waiting,) = await h.rows("SELECT status, error, failure FROM outbox WHERE contact_id = 'c'")
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.deliver_due()
            await unreachable.close()
            rows = await h.rows("SELECT contact_id, status, error, failure FROM outbox ORDER BY id")
    assert waiting[0] == PENDING and waiting[2] is None
    assert readable(waiting[1]) == f"cannot reach the provider at http://127.0.0.1:{closed}/sms: connection refused"
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("a", UNDELIVERED, "refused"), ("b", UNDELIVERED, "configuration"), ("c", UNDELIVERED, "gave_up"),
    ]  # fmt: skip
    assert readable(rows[0][2]) == 'the provider refused the message: HTTP 400: {"error": "invalid number"}'
    assert readable(rows[1][2]) == "no provider is configured for sms: add one to the delivery settings"
    assert readable(rows[2][2]).startswith("gave up after 2 attempts over 1m: cannot reach the provider")


EMAIL = """
template hello email
  subject "Hello"
  html "hello.html"
end
scenario hello "Hello"
  on contact.registered
  send email hello
end
"""


async def test_smtp_failures_have_a_class_and_a_readable_reason() -> None:
    with SmtpServer() as server:
        server.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 No such user here"]
        server.handler.data_replies["spam@example.com"] = ["554 5.7.1 Message rejected as spam"]
        async with Harness(EMAIL) as h:
            await h.play([h.event("contact.registered", c, person={"email": f"{c}@example.com"}) for c in
                          ("gone", "spam")])  # fmt: skip
            channel = SmtpChannel(SmtpConfig.from_url(server.url))
            await Sender(h.store, h.clock, {"email": channel}, policy=POLICY).deliver_due()
            await channel.close()
            rows = await h.rows("SELECT contact_id, status, error, failure FROM outbox ORDER BY id")
    assert [(r[0], r[1], r[3]) for r in rows] == [("gone", UNDELIVERED, "address"), ("spam", UNDELIVERED, "refused")]
    assert readable(rows[0][2]) == "the mail server refused the address: 550 5.1.1 No such user here"
    assert readable(rows[1][2]) == "the mail server refused the message: 554 5.7.1 Message rejected as spam"


async def test_an_smtp_server_that_is_down_gives_a_reason_in_words() -> None:
    port = free_port()
    async with Harness(EMAIL) as h:
        await h.play([h.event("contact.registered", "ann")])
        channel = SmtpChannel(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?timeout=2"))
        await Sender(h.store, h.clock, {"email": channel}, policy=POLICY).deliver_due()
        await channel.close()
        ((status, error),) = await h.rows("SELECT status, error FROM outbox")
    assert status == PENDING and readable(error).startswith(f"cannot reach the mail server at 127.0.0.1:{port}")


# ---------------------------------------------------------------- seen from the API, /metrics and reports


async def gift_failures(s: Served) -> None:
    """ann gets the pool's only code; eve's address (stored before the door checked
    addresses) is not one; bob finds no code left."""
    refused = await s.client.post("/api/events", json=registered("eve", email="eve,x@example.com"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "contact.email"
    await s.core.store.commit(Changes(contacts=[ContactUpdate(id="eve", at=0, fields={"email": "eve,x@example.com"})]))
    eve = registered("eve")
    del eve["contact"]["email"]
    for event in (registered("ann"), eve, registered("bob")):
        assert (await s.client.post("/api/events", json=event)).status_code == 202
        await s.settle()


async def test_failed_messages_are_listed_counted_in_metrics_and_in_the_report(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        await gift_failures(s)
        failed = (await s.client.get("/api/messages", params={"status": "failed"})).json()
        assert [(m["contact_id"], m["status"], m["failure"]) for m in failed["items"]] == [
            ("eve", "failed", "address"), ("bob", "failed", "coupon"),
        ]  # fmt: skip
        assert failed["next"] is None and all(readable(m["error"]) for m in failed["items"])
        metrics = (await s.public.get("/metrics")).text
        assert "# TYPE scn_messages_failed_total counter" in metrics
        assert 'scn_messages_failed_total{channel="email",reason="address"} 1' in metrics
        assert 'scn_messages_failed_total{channel="email",reason="coupon"} 1' in metrics
        report = (await s.client.get("/api/reports/gift")).json()
        code, out, err = await scn(s.base, "report", "gift")
    assert code == 0, err
    header, *_, total = out.splitlines()[1:]
    assert header.split()[2:6] == ["sent", "deliv.", "bounced", "failed"]
    assert total.split()[:5] == ["total", "3", "0", "0", "2"]
    totals = report["totals"]
    assert (totals["sent"], totals["failed"], totals["bounced"]) == (3, 2, 0)
    assert totals["failures"] == {"address": 1, "coupon": 1}
    (row,) = report["rows"]
    assert (row["step"], row["variant"], row["failed"], row["failures"]) == ("s1", None, 2, totals["failures"])


# ---------------------------------------------------------------- scn simulate


def simulate(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scn", "simulate", str(folder), "--events", str(folder / "events.jsonl"), *extra],
        capture_output=True, text=True, encoding="utf-8",
    )  # fmt: skip


@pytest.fixture
def gift_folder(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    events = [{**registered(c), "at": f"2025-03-03T10:0{n}:00+00:00"} for n, c in enumerate(("ann", "bob"))]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return tmp_path


def test_simulate_counts_failed_messages_and_strict_exits_1(gift_folder: Path) -> None:
    out = simulate(gift_folder)
    assert out.returncode == 0, out.stderr
    summary = out.stdout.split("\n\n")[-1]
    assert "failed:\n     1  gift: email gift: coupon\n" in summary, summary
    document = json.loads(simulate(gift_folder, "--format", "json").stdout)
    assert document["summary"]["failed"] == {"gift: email gift: coupon": 1}
    strict = simulate(gift_folder, "--strict")
    assert strict.returncode == 1 and strict.stdout == out.stdout
    assert "1 message(s) failed" in strict.stderr


def test_simulate_refuses_an_email_that_is_not_an_address_in_events_and_contacts(gift_folder: Path) -> None:
    """As the API does: what is refused is never a message that fails later."""
    eve = {**registered("eve", email="eve,x@example.com"), "at": "2025-03-03T10:05:00+00:00"}
    with (gift_folder / "events.jsonl").open("a", encoding="utf-8") as events:
        events.write(json.dumps(eve) + "\n")
    out = simulate(gift_folder)
    assert out.returncode != 0 and "contact.email: 'eve,x@example.com' is not an email address" in out.stderr
    (gift_folder / "events.jsonl").write_text(
        "\n".join((gift_folder / "events.jsonl").read_text(encoding="utf-8").splitlines()[:2]) + "\n", encoding="utf-8"
    )
    (gift_folder / "contacts.jsonl").write_text('{"id": "zed", "email": "zed@exa_mple.com"}\n', encoding="utf-8")
    out = simulate(gift_folder, "--contacts", str(gift_folder / "contacts.jsonl"))
    assert out.returncode != 0
    assert "contacts.jsonl:1: contact.email: 'zed@exa_mple.com' is not an email address" in out.stderr


def test_simulate_checks_the_contacts_file_as_the_api_checks_a_contact(gift_folder: Path) -> None:
    """`--contacts` took a time zone and a language the API refuses, and a date attribute
    that is no date: the run then went its way as if the date were unset (checked: no),
    where the server would have refused the contact."""
    (gift_folder / "extra.scn").write_text("attribute born: date\n", encoding="utf-8")
    (gift_folder / "contacts.jsonl").write_text(
        '{"id": "zed", "email": "zed@example.com"}\n'
        '{"id": "xia", "language": "LV"}\n'
        '{"id": "yan", "timezone": "Mars/Olympus", "attributes": {"born": "1990-02-30"}}\n',
        encoding="utf-8",
    )
    contacts = gift_folder / "contacts.jsonl"

    def refused() -> list[tuple[str, str, str]]:
        out = simulate(gift_folder, "--contacts", str(contacts))
        assert out.returncode == 2, out.stdout
        lines = [line.removeprefix("scn simulate: ").split(": ", 2) for line in out.stderr.splitlines()]
        return [(where.rsplit("/", 1)[-1], field, message) for where, field, message in lines]

    # As for the timeline: first what no workspace takes, then what this one does not.
    assert refused() == [("contacts.jsonl:2", "contact.language", "expected a language code such as uk, lv or pl-PL")]
    contacts.write_text(contacts.read_text(encoding="utf-8").replace('"LV"', '"lv"'), encoding="utf-8")
    assert [(where, field) for where, field, _ in refused()] == [
        ("contacts.jsonl:3", "contact.timezone"),
        ("contacts.jsonl:3", "contact.attributes.born"),
    ]
    contacts.write_text('{"id": "yan", "attributes": {"born": "1990-02-28"}}\n', encoding="utf-8")
    assert simulate(gift_folder, "--contacts", str(contacts)).returncode == 0


def test_simulate_strict_exits_0_when_nothing_failed(gift_folder: Path) -> None:
    events = (gift_folder / "events.jsonl").read_text(encoding="utf-8").splitlines()[:1]
    (gift_folder / "events.jsonl").write_text(events[0] + "\n", encoding="utf-8")
    out = simulate(gift_folder, "--strict")
    assert out.returncode == 0 and "failed:" not in out.stdout, out.stdout + out.stderr


def test_simulate_counts_events_set_aside_and_strict_exits_1(
    gift_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An event that an error in scn sets aside starts no run: that is never a quiet exit 0."""
    from scn.cli import main
    from scn.interpreter.runtime.engine import Engine

    async def broken(self: Engine, events: Any) -> None:
        raise RuntimeError("a fault put in by the test")

    monkeypatch.setattr(Engine, "_process", broken)
    code = main(["simulate", str(gift_folder), "--events", str(gift_folder / "events.jsonl"), "--strict"])
    out, err = capsys.readouterr()
    assert "set aside:\n     2  events (an error in scn" in out, out
    assert code == 1 and "2 event(s) were set aside" in err, err
    code = main(["simulate", str(gift_folder), "--events", str(gift_folder / "events.jsonl"), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["summary"]["set_aside"] == 2


EMPTY = """
template hello sms
  text "{{ contact.first_name }}"
end
template note email
  subject "{{ contact.first_name }}"
  html "note.html"
end
scenario hello "Hello"
  on contact.registered
  entry once per contact
  send sms hello
  send email note
end
"""


async def test_a_message_that_renders_to_nothing_fails_with_a_reason_and_is_not_sent() -> None:
    """An SMS text or email subject made only of unset values is no message: the provider
    would refuse it (or the contact get a blank one)."""
    resources = {"note.html": '<p>Hi {{ contact.first_name }}</p><a href="{{ unsubscribe_url }}">u</a>'}
    async with Harness(EMPTY, resources=resources) as h:
        person = {"phone": "+48500100200"}
        await h.play([h.event("contact.registered", "ann", person={**person, "first_name": "Ann"})])
        await h.play([h.event("contact.registered", "bob", person=person)])
        rows = await h.rows("SELECT contact_id, channel, status, failure, error FROM outbox ORDER BY id")
    assert [r[:4] for r in rows] == [
        ("ann", "sms", PENDING, None), ("ann", "email", PENDING, None),
        ("bob", "sms", UNDELIVERED, "template"), ("bob", "email", UNDELIVERED, "template"),
    ]  # fmt: skip
    assert readable(rows[2][4]).startswith("template hello (default): the text is empty for this contact")
    assert readable(rows[3][4]).startswith("template note (default): the subject is empty for this contact")


MIXED_CURRENCIES = """
template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario big "Big orders"
  on order.paid
  stop if order.total < 5 PLN
  if order.total > 100 PLN
    send email hi
  end
end
"""


@pytest.mark.parametrize(("currency", "status", "sent"), [("PLN", "done", 1), ("EUR", "failed", 0)])
async def test_a_condition_on_money_of_another_currency_fails_the_run_with_the_reason(
    currency: str, status: str, sent: int
) -> None:
    """Without a workspace `currency`, an order's total may come in any currency. A condition
    comparing an EUR total with PLN was silently false: the run went on as if the order were
    small, and nothing said why. As docs/runtime.md says, the run fails, with the reason."""
    async with Harness(MIXED_CURRENCIES, resources={"hi.html": "<p>{{ unsubscribe_url }}</p>"}) as h:
        await h.play([h.event("order.paid", "ann", order={"id": "o1", "total": "750.00", "currency": currency})])
        runs = await h.rows("SELECT status, reason FROM runs")
        assert [r[0] for r in runs] == [status]
        assert len(await h.rows("SELECT id FROM outbox")) == sent
        if status == "failed":
            reason = readable(runs[0][1])
            assert "EUR" in reason and "PLN" in reason, reason
            logged = await h.rows("SELECT outcome, detail FROM step_log WHERE outcome = 'failed'")
            assert len(logged) == 1 and "EUR" in logged[0][1], logged


BANDED = """
template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario banded "Banded"
  on order.paid
  bands order.total
    from 0 PLN to 200 PLN
      send email hi
    from 200 PLN
      send email hi
  end
end
"""


@pytest.mark.parametrize(
    ("total", "currency", "status", "sent"),
    [("750.00", "PLN", "done", 1), ("0", "PLN", "done", 1), ("750.00", "EUR", "failed", 0)],
)
async def test_bands_of_money_fail_the_run_for_an_amount_of_another_currency(
    total: str, currency: str, status: str, sent: int
) -> None:
    """An EUR order against bands in PLN took the no-band way ("no band for 750.00 EUR"), as
    if the amount were outside every band: which band it is in, nobody knows."""
    async with Harness(BANDED, resources={"hi.html": "<p>{{ unsubscribe_url }}</p>"}) as h:
        await h.play([h.event("order.paid", "ann", order={"id": "o1", "total": total, "currency": currency})])
        runs = await h.rows("SELECT status, reason FROM runs")
        assert [r[0] for r in runs] == [status], runs
        assert len(await h.rows("SELECT id FROM outbox")) == sent
        if status == "failed":
            assert "EUR" in readable(runs[0][1]) and "PLN" in runs[0][1]


async def test_simulate_shows_only_what_was_committed_when_a_batch_is_redone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One event that breaks its batch makes the engine redo the batch one event at a time.
    The steps the undone batch traced stayed in `scn simulate`'s timeline (two `start`
    lines for one contact, under run ids that never existed), while the server's step log
    rolled back: now a batch's trace is told only once its commit is made."""
    from scn.interpreter.runtime.engine import Engine
    from scn.interpreter.simulate import simulate

    source = 'template hi sms\n  text "Hi"\nend\n\nscenario hi "Hi"\n  on contact.registered\n  send sms hi\nend\n'
    handle = Engine._handle

    async def breaks_on_bob(self: Engine, batch: Any, event: Any, payload: Any) -> None:
        await handle(self, batch, event, payload)
        if event.contact_id == "bob":
            raise RuntimeError("a fault put in by the test")

    monkeypatch.setattr(Engine, "_handle", breaks_on_bob)
    at = "2025-03-03T08:00:00+00:00"
    events = [
        convert_event({"type": "contact.registered", "contact": {"id": c, "phone": "+48500100200"}, "at": at})
        for c in ("ann", "bob", "cyd")
    ]
    result = await simulate(check_texts({"t.scn": source}, {}), events)
    starts = [e.contact for e in result.timeline if e.step == "start"]
    assert sorted(starts) == ["ann", "cyd"], [(e.contact, e.step, e.name, e.outcome) for e in result.timeline]
    assert result.summary.set_aside == 1
