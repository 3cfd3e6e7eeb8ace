"""The suppression list: addresses in normal form, CSV in and out, the gate in front of every
send (over real SMTP), and the API over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from scn.interpreter.clock import WallClock
from scn.interpreter.store import Claim, OutboxRow
from scn.interpreter.store.suppressions import QUERY_KEYS, Claimed, Suppression, SuppressionStore, erased_key
from scn.stdlib.delivery.base import Outcome, Ready
from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings, build_sender
from scn.stdlib.delivery.email import SmtpChannel, SmtpConfig
from scn.stdlib.suppression import SuppressionError, SuppressionGate, csv_lines, entry, normal_address, read_csv

from .backends import execute
from .harness import Harness
from .server_harness import serving
from .smtp_server import SmtpServer

WORKSPACE = """
template hello email
  subject "Hello"
  html "hello.html"
end

scenario hello "Hello"
  on contact.registered
  send email hello
end
"""
FILES = {"hello.scn": WORKSPACE, "hello.html": "<p>Hello {{ contact.first_name }}</p>"}
AT = 1_740_787_200_000  # 2025-03-01T00:00:00Z


@pytest.mark.parametrize(
    ("channel", "given", "normal"),
    [
        ("email", " Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("email", "Вася@Пример.рф", "вася@xn--e1afmkfd.xn--p1ai"),
        ("email", "vasya@xn--e1afmkfd.xn--p1ai", "vasya@xn--e1afmkfd.xn--p1ai"),
        ("sms", "+380 (50) 123-45-67", "+380501234567"),
        ("viber", "371.2000.0000", "37120000000"),
        ("push", "tok:EN_1", "tok:EN_1"),
    ],
)
def test_addresses_are_compared_in_normal_form(channel: str, given: str, normal: str) -> None:
    assert normal_address(channel, given) == normal


@pytest.mark.parametrize(
    ("channel", "given", "field", "says"),
    [
        ("email", "ann@", "address", "is not an email address (there is nothing after the @)"),
        ("email", "", "address", "is not an email address"),
        ("sms", "call me", "address", "is not a phone number"),
        ("sms", "+123", "address", "is not a phone number"),
        ("push", "", "address", "token has 1 to 4096 characters"),
        ("push", "x" * 4097, "address", "token has 1 to 4096 characters"),
        ("webhook", "https://x.example", "channel", "has no suppression list"),
    ],
)
def test_an_address_that_is_not_one_is_refused_naming_the_field(
    channel: str, given: str, field: str, says: str
) -> None:
    with pytest.raises(SuppressionError) as refused:
        normal_address(channel, given)
    assert refused.value.field == field and says in refused.value.message


def test_an_entry_checks_reason_source_and_detail() -> None:
    assert entry("email", "a@b.example", at=AT).reason == "manual"
    for field, kwargs in (("reason", {"reason": "spam"}), ("source", {"source": ""}),
                          ("source", {"source": "x" * 65}), ("detail", {"detail": "two\nlines"})):  # fmt: skip
        with pytest.raises(SuppressionError) as refused:
            entry("email", "a@b.example", at=AT, **kwargs)
        assert refused.value.field == field
    assert entry("email", "a@b.example", source="x" * 64, detail="d" * 1000, at=AT).source == "x" * 64


def test_csv_round_trip_and_errors_by_line_and_field() -> None:
    text = (
        "address,reason,source,detail,created_at\r\n"
        'Ann@Example.com,hard_bounce,sendgrid,"550 5.1.1, no such user",2025-03-01T10:00:00+02:00\r\n'
        "jānis@example.lv,,,,\r\n"
    )
    entries, errors = read_csv("email", text, AT)
    assert errors == []
    assert [(e.address, e.reason, e.source, e.detail, e.created_at) for e in entries] == [
        ("ann@example.com", "hard_bounce", "sendgrid", "550 5.1.1, no such user", AT + 8 * 3_600_000),
        ("jānis@example.lv", "manual", "csv", None, AT),
    ]
    written = "".join(csv_lines(entries, header=True))
    row = 'ann@example.com,hard_bounce,sendgrid,"550 5.1.1, no such user",2025-03-01T08:00:00Z'
    assert written.splitlines()[1] == row
    assert read_csv("email", written, 0) == (entries, [])

    bad = (
        "address,reason,created_at\nok@example.com,manual,\nnot-an-address,,\nx@example.com,spam,\n"
        "y@example.com,,soon\n"
    )
    entries, errors = read_csv("email", bad, AT)
    assert [(e["line"], e["field"]) for e in errors] == [(3, "address"), (4, "reason"), (5, "created_at")]
    assert read_csv("email", "", AT)[1][0]["message"].startswith("the first line must be a header")
    assert read_csv("email", "address,colour\n", AT)[1] == [
        {
            "line": 1,
            "field": "colour",
            "message": "unknown column 'colour': the columns are address, reason, source, detail, created_at",
        }  # fmt: skip
    ]
    assert read_csv("email", "address\n", AT) == ([], [])  # a header and nothing else: nothing to do


async def test_the_gate_keeps_every_send_from_a_suppressed_address(db: str) -> None:
    """The sender `scn serve` and `scn worker` build consults the list before each send:
    the suppressed contact's mail fails as `suppressed` with why, the other one arrives."""
    with SmtpServer() as smtp:
        async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
            await h.store.add_suppressions([entry("email", "GONE@example.com", reason="hard_bounce",
                                                  source="sendgrid", detail="550 5.1.1", at=AT)])  # fmt: skip
            sender = build_sender(h.store, WallClock(), DeliveryConfig(email=EmailSettings(url=smtp.url)), "s")
            await h.play([h.event("contact.registered", "gone", person={"email": "gone@Example.com"}),
                          h.event("contact.registered", "fine")])  # fmt: skip
            assert await sender.deliver_all() == 2
            await sender.close()
            rows = await h.rows("SELECT recipient, status, failure, error FROM outbox ORDER BY id")
    assert [m["To"] for _, m in smtp.handler.received] == ["fine@example.com"]
    assert rows[0][:3] == ("gone@Example.com", "failed", "suppressed")
    assert rows[0][3] == (
        "gone@example.com is on the email suppression list since 2025-03-01 (hard bounce from sendgrid: 550 5.1.1); "
        "not sent. Take it off the list (DELETE /api/suppressions/...) to send to it again"
    )
    assert rows[1][:2] == ("fine@example.com", "sent")


class _SuppressingOnFirstSend(SmtpChannel):
    """Real SMTP; the first send puts ``addresses`` on the list as it goes (a webhook's
    suppression arriving after that message's claim)."""

    def __init__(self, url: str, store: SuppressionStore, addresses: list[str]) -> None:
        super().__init__(SmtpConfig.from_url(url, connections=1))
        self.store = store
        self.addresses = addresses

    async def send_after(self, message: OutboxRow, ready: Ready) -> Outcome:
        addresses, self.addresses = self.addresses, []
        if addresses:
            await self.store.add_suppressions([entry("email", a, reason="complaint", at=AT) for a in addresses])
        return await super().send_after(message, ready)


async def test_a_claim_is_screened_in_its_own_transaction_and_a_later_suppression_stops_the_next_claim(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store reads the list with each claim, in the claim's transaction: the gate
    asks nothing of its own. One lane claims two messages at a time: a suppression
    committed while the first claim's mail goes lets that claim's second mail go
    (docs/delivery.md: at most one claim's worth), and stops every message of the claims
    after it."""
    contacts = ["c1", "c2", "c3", "c4"]
    with SmtpServer() as smtp:
        async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
            asked: list[list[str]] = []
            alone: list[str] = []
            many, one = h.store.suppressions_of, h.store.suppression

            async def suppressions_of(channel: str, addresses: Sequence[str]) -> dict[str, Suppression]:
                asked.append(list(addresses))
                return await many(channel, addresses)

            async def suppression(channel: str, address: str) -> Suppression | None:
                alone.append(address)
                return await one(channel, address)

            monkeypatch.setattr(h.store, "suppressions_of", suppressions_of)
            monkeypatch.setattr(h.store, "suppression", suppression)
            channel = _SuppressingOnFirstSend(smtp.url, h.store, [f"{c}@example.com" for c in contacts])
            config = DeliveryConfig(email=EmailSettings(url=smtp.url))
            sender = build_sender(h.store, WallClock(), config, "s", channels={"email": channel})
            await h.play([h.event("contact.registered", c) for c in contacts])
            assert await sender.deliver_all() == 4
            await sender.close()
            rows = await h.rows("SELECT recipient, status, failure FROM outbox ORDER BY id")
    assert asked == []  # every claim was screened by the store, in the claim's transaction
    assert alone == []  # and every message with its claim
    assert [m["To"] for _, m in smtp.handler.received] == ["c1@example.com", "c2@example.com"]
    assert rows == [("c1@example.com", "sent", None), ("c2@example.com", "sent", None),
                    ("c3@example.com", "failed", "suppressed"), ("c4@example.com", "failed", "suppressed")]  # fmt: skip


async def test_a_screened_claim_comes_with_the_entries_of_its_addresses(db: str) -> None:
    """A claim with a screen is read against the list in its transaction: an address's
    own entry, an erased contact's digest for another, nothing for the rest or for a
    recipient the list cannot hold; a claim without a screen, or of nothing, reads none."""
    async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
        await h.play([h.event("contact.registered", c) for c in ("c1", "c2", "c3", "c4")])
        await h.store.add_suppressions([
            entry("email", "c1@example.com", reason="manual", at=AT),
            Suppression(channel="email", address=erased_key("c2@example.com"), reason="complaint", source="api",
                        created_at=AT),
            entry("sms", "+380501234567", reason="manual", at=AT),
        ])  # fmt: skip
        gate = SuppressionGate("email", SmtpChannel(SmtpConfig()), h.store)
        unlisted = {"c3@example.com"}

        def listed_as(message: OutboxRow) -> str | None:
            return None if message.recipient in unlisted else gate.listed_as(message)

        screened, plain, empty = await h.store.exchange_outbox(
            [], [], [Claim(limit=3, channel="email", screen=listed_as), Claim(limit=9, channel="email"),
                     Claim(limit=9, channel="sms", screen=listed_as)], now=AT * 2, lease_ms=1000, owner="me",
        )  # fmt: skip
    assert [r.recipient for r in screened] == ["c1@example.com", "c2@example.com", "c3@example.com"]
    assert {a: (e.address, e.reason) for a, e in screened.suppressed.items()} == {
        "c1@example.com": ("c1@example.com", "manual"),
        "c2@example.com": (erased_key("c2@example.com"), "complaint"),
    }
    assert ([r.recipient for r in plain], plain.suppressed) == (["c4@example.com"], {})
    assert (empty, empty.suppressed) == ([], {})


async def test_the_gate_takes_each_claims_answers_and_looks_up_alone_what_no_claim_answered(db: str) -> None:
    """What the sender does with each claim (`Claim.screen` is the gate's `listed_as`, the
    claim's entries go to `screened`): a claim of nothing leaves the gate nothing; an
    address that is not one is left to the channel; a message screened before a
    suppression goes; one whose answer was taken, or claimed again without a screen (one
    more attempt), is looked up as it goes and sees a suppression committed since;
    claimed again with a screen, it takes that claim's answer."""
    async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
        gate = SuppressionGate("email", SmtpChannel(SmtpConfig()), h.store)

        async def claim(at: int, owner: str, screen: bool = True) -> Claimed:
            (rows,) = await h.store.exchange_outbox(
                [], [], [Claim(limit=9, channel="email", screen=gate.listed_as if screen else None)], now=at,
                lease_ms=1000, owner=owner,
            )  # fmt: skip
            if screen and rows:  # as the sender does
                gate.screened(rows, rows.suppressed)
            return rows

        empty = await claim(AT * 2, "first")
        assert (empty, empty.suppressed, gate._screened) == ([], {}, {})
        await h.play([h.event("contact.registered", "ann", person={"email": "Ann@Example.com"}),
                      h.event("contact.registered", "bad")])  # fmt: skip
        execute(db, "UPDATE outbox SET recipient = 'not an address' WHERE contact_id = 'bad'")
        ann, bad = await claim(AT * 2, "first")
        assert (ann.recipient, bad.recipient, ann.attempts) == ("Ann@Example.com", "not an address", 1)
        await h.store.add_suppressions([entry("email", "ann@example.com", reason="manual", at=AT)])
        assert await gate.refusal(bad) is None
        # The lease over, another sender claims them again (one more attempt), without a
        # screen: the first claim's answer, still kept, is not this message's.
        (again,) = [r for r in await claim(AT * 2 + 1001, "second", screen=False) if r.id == ann.id]
        assert again.attempts == 2 and (ann.id, 1) in gate._screened
        refused = await gate.refusal(again)  # looked up alone
        assert refused is not None and refused.failure == "suppressed"
        assert await gate.refusal(ann) is None  # screened before the suppression: its claim goes
        refused = await gate.refusal(ann)  # its answer was taken: looked up alone
        assert refused is not None and refused.failure == "suppressed"
        (third,) = [r for r in await claim(AT * 2 + 2002, "third") if r.id == ann.id]
        await h.store.remove_suppression("email", "ann@example.com")
        refused = await gate.refusal(third)  # the answer read with its claim, before the removal
        assert refused is not None and refused.failure == "suppressed"
        assert await gate.refusal(third) is None, "its answer taken, looked up alone: off the list now"


async def test_suppressions_of_finds_addresses_and_erased_digests_over_several_queries(db: str) -> None:
    """One answer per suppressed address, past the bound of one query's keys; an erased
    contact's entry (the digest) counts for its address, its own entry first."""
    async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
        addresses = [f"a{i}@x.example" for i in range(QUERY_KEYS + 1)]
        own = [Suppression(channel="email", address=a, reason="manual", source="api", created_at=AT)
               for a in (addresses[0], addresses[-1], "both@x.example")]  # fmt: skip
        erased = [Suppression(channel="email", address=erased_key(a), reason="complaint", source="ses",
                              created_at=AT) for a in (addresses[QUERY_KEYS // 2], "both@x.example")]  # fmt: skip
        other = Suppression(channel="sms", address=addresses[1], reason="manual", source="api", created_at=AT)
        await h.store.add_suppressions([*own, *erased, other])
        assert await h.store.suppressions_of("email", []) == {}
        found = await h.store.suppressions_of("email", [*addresses, "both@x.example"])
    assert sorted(found) == sorted([addresses[0], addresses[-1], addresses[QUERY_KEYS // 2], "both@x.example"])
    assert found[addresses[QUERY_KEYS // 2]].address == erased_key(addresses[QUERY_KEYS // 2])
    assert found["both@x.example"].reason == "manual"


async def test_adding_again_replaces_the_reason_and_keeps_the_date(db: str) -> None:
    async with Harness(WORKSPACE, db, resources={"hello.html": "<p>hi</p>"}) as h:
        first = Suppression(channel="email", address="a@x.example", reason="manual", source="api", created_at=AT)
        assert await h.store.add_suppressions([first]) == (1, 0)
        again = Suppression(channel="email", address="a@x.example", reason="complaint", source="ses",
                            created_at=AT + 1)  # fmt: skip
        other = Suppression(channel="sms", address="a@x.example", reason="manual", source="api", created_at=AT)
        assert await h.store.add_suppressions([again, other]) == (1, 1)
        found = await h.store.suppression("email", "a@x.example")
        assert found is not None and (found.reason, found.source, found.created_at) == ("complaint", "ses", AT)
        assert await h.store.count_soft_bounce("email", "b@x.example", AT) == 1
        assert await h.store.count_soft_bounce("email", "b@x.example", AT + 5) == 2
        assert await h.store.remove_suppression("email", "a@x.example") is True
        assert await h.store.remove_suppression("email", "a@x.example") is False
        assert await h.store.suppression("email", "a@x.example") is None


async def test_the_api_lists_adds_removes_imports_and_exports(tmp_path: Path, db: str) -> None:
    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url))
        async with serving(tmp_path, FILES, delivery=delivery, db=db) as s:
            one = {"address": "C@example.com", "reason": "complaint", "source": "support", "detail": "asked by phone"}
            r = await s.client.post("/api/suppressions/email", json=one)
            assert r.status_code == 200 and r.json() == {"added": 1, "updated": 0}
            many = [{"address": "a@example.com"}, {"address": "b@example.com", "created_at": "2025-03-01T00:00:00Z"}]
            assert (await s.client.post("/api/suppressions/email", json=many)).json() == {"added": 2, "updated": 0}

            first = (await s.client.get("/api/suppressions/email", params={"limit": 2})).json()
            assert [i["address"] for i in first["items"]] == ["a@example.com", "b@example.com"]
            assert first["next"] == "b@example.com" and first["items"][1]["created_at"] == "2025-03-01T00:00:00Z"
            rest = (await s.client.get("/api/suppressions/email", params={"limit": 2, "after": first["next"]})).json()
            assert [i["address"] for i in rest["items"]] == ["c@example.com"] and rest["next"] is None
            assert rest["items"][0] | {"created_at": None} == {
                "channel": "email", "address": "c@example.com", "reason": "complaint", "source": "support",
                "detail": "asked by phone", "created_at": None,
            }  # fmt: skip
            exactly = (await s.client.get("/api/suppressions/email", params={"limit": 3})).json()
            assert len(exactly["items"]) == 3 and exactly["next"] is None
            found = (await s.client.get("/api/suppressions/email", params={"address": "A@EXAMPLE.com"})).json()
            assert [i["address"] for i in found["items"]] == ["a@example.com"]
            assert (await s.client.get("/api/suppressions/sms")).json() == {"items": [], "next": None}

            exported = await s.client.get("/api/suppressions/email/export")
            assert exported.headers["content-type"].startswith("text/csv")
            lines = exported.text.splitlines()
            assert lines[0] == "address,reason,source,detail,created_at" and len(lines) == 4
            assert lines[3].startswith("c@example.com,complaint,support,asked by phone,")

            r = await s.client.delete("/api/suppressions/email", params={"address": "a@example.com"})
            assert r.status_code == 204
            r = await s.client.delete("/api/suppressions/email", params={"address": "a@example.com"})
            assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"

            # Importing the export back: the same entries, nothing new.
            r = await s.client.post("/api/suppressions/email/import", content=exported.content,
                                    headers={"Content-Type": "text/csv"})  # fmt: skip
            assert r.status_code == 200 and r.json() == {"added": 1, "updated": 2}
            assert len((await s.client.get("/api/suppressions/email")).json()["items"]) == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/api/suppressions/email", [{"address": "ok@example.com"}, {"address": "nope"}], 422, "[1].address"),
        ("post", "/api/suppressions/email", {"address": "ok@example.com", "reason": "spam"}, 400, "reason"),
        ("post", "/api/suppressions/email", {"address": "ok@example.com", "source": " "}, 422, "source"),
        ("post", "/api/suppressions/sms", {"address": "ok@example.com"}, 422, "address"),
        ("post", "/api/suppressions/email", [], 400, None),
        ("post", "/api/suppressions/email", {"address": "ok@example.com", "colour": "red"}, 400, "colour"),
        ("get", "/api/suppressions/fax", None, 400, "channel"),
        ("get", "/api/suppressions/email?address=nope", None, 422, "address"),
        ("get", "/api/suppressions/email?limit=0", None, 400, "limit"),
        ("delete", "/api/suppressions/email", None, 400, "address"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    tmp_path: Path, method: str, path: str, body: object, status: int, field: str | None
) -> None:
    async with serving(tmp_path, FILES) as s:
        kwargs = {"json": body} if body is not None else {}
        r = await s.client.request(method.upper(), path, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == status, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        if field is not None:
            named = [e.get("field") or e.get("key") for e in problem.get("errors", [])]
            assert field in named or field in problem["detail"], problem
        assert (await s.client.get("/api/suppressions/email")).json()["items"] == [], "nothing was added"


async def test_a_bad_import_imports_nothing_and_says_where(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        text = "address,reason\nok@example.com,manual\nbad,manual\nz@example.com,spam\n"
        r = await s.client.post("/api/suppressions/email/import", content=text.encode(),
                                headers={"Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 422
        problem = r.json()
        assert problem["detail"].startswith("line 3, address: 'bad' is not an email address")
        assert [(e["line"], e["field"]) for e in problem["errors"]] == [(3, "address"), (4, "reason")]
        r = await s.client.post("/api/suppressions/email/import", content=b"\xff\xfe",
                                headers={"Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 400 and "not UTF-8" in r.json()["detail"]
        assert (await s.client.get("/api/suppressions/email")).json()["items"] == []


async def test_a_suppressed_send_is_in_plain_sight_over_the_api(tmp_path: Path, db: str) -> None:
    """Never dropped silently: /api/messages shows the failure with its reason, and so does
    the run (its messages beside its trace)."""
    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url))
        async with serving(tmp_path, FILES, delivery=delivery, db=db) as s:
            await s.client.post("/api/suppressions/email", json={"address": "ann@example.com", "reason": "manual"})
            event = {"type": "contact.registered", "contact": {"id": "ann", "email": "ann@example.com"}}
            assert (await s.client.post("/api/events", json=event)).status_code == 202
            await s.settle()
            for _ in range(200):
                failed = (await s.client.get("/api/messages", params={"status": "failed"})).json()["items"]
                if failed:
                    break
                await asyncio.sleep(0.02)
            assert [(m["contact_id"], m["failure"]) for m in failed] == [("ann", "suppressed")]
            assert "is on the email suppression list" in failed[0]["error"]
            run = (await s.client.get(f"/api/runs/{failed[0]['run_id']}")).json()
            assert [(m["status"], m["failure"]) for m in run["messages"]] == [("failed", "suppressed")]
            assert smtp.handler.received == []
