"""`scn backtest` and `POST /api/scenarios/{name}/backtest`: a history made by the real
engine on a real SQLite file, replayed through a candidate that waits an hour instead of
30 minutes; the result checked against the count by hand, the live file unchanged and
nothing sent."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from scn.cli import main
from scn.interpreter.checker import check_workspace
from scn.interpreter.clock import VirtualClock
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime import Engine, Settings
from scn.interpreter.runtime.events import read_event
from scn.interpreter.simulate import play
from scn.interpreter.store import SqliteStore
from scn.interpreter.versions.backtest import BacktestError, backtest
from scn.interpreter.workspace import load_workspace

from .conftest import EXAMPLES
from .server_harness import serving
from .test_server import is_problem
from .test_versions_move import HandClock

EXAMPLE = (EXAMPLES / "unpaid_recovery.scn").read_text(encoding="utf-8")
CANDIDATE = EXAMPLE.replace("wait 30m", "wait 1h")
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
#: When each contact pays, in minutes after `order.unpaid` (None: never), two of each.
#: A payment at the very moment of a wake-up comes after it: due runs go first, then the
#: events of the moment, in the live engine and in the replay alike.
PAYS = [10, 30, 45, 60, 90, None] * 2
#: By hand. Live (`wait 30m`): everyone who has not paid before minute 30 gets the reminder
#: (30, 45, 60, 90, never): 10. Candidate (`wait 1h`): 60, 90, never: 6, each 30 minutes
#: later; those who pay at 30 and 45 get none: 4 removed. Each reminder gives UNPAID10.
LIVE, BACKTEST, MOVED, REMOVED = 10, 6, 6, 4
PERIOD = ["--since", "2026-11-01", "--until", "2026-11-05"]
TABLES = ("events", "runs", "outbox", "contacts", "orders", "coupon_codes", "step_log", "list_members")


def workspace(folder: Path, text: str) -> Path:
    folder.mkdir()
    shutil.copytree(EXAMPLES / "templates", folder / "templates")
    (folder / "unpaid_recovery.scn").write_text(text, encoding="utf-8")
    return folder


def history() -> list[dict[str, Any]]:
    """One `order.unpaid` an hour per contact, and its `order.paid` as `PAYS` says."""
    events: list[dict[str, Any]] = []
    for i, pays in enumerate(PAYS):
        at, contact = T0 + dt.timedelta(hours=i), f"c{i}"
        person = {"id": contact, "email": f"{contact}@example.com", "first_name": "Олена", "language": "uk"}
        order = {"id": f"o{i}", "offer": "course-a", "total": "120.00", "currency": "EUR"}
        events.append({"type": "order.unpaid", "key": f"unpaid-{i}", "at": at.isoformat(), "contact": person,
                       "order": order})  # fmt: skip
        if pays is not None:
            events.append({"type": "order.paid", "key": f"paid-{i}", "contact": {"id": contact},
                           "at": (at + dt.timedelta(minutes=pays)).isoformat(), "order": {"id": f"o{i}"}})  # fmt: skip
    return sorted(events, key=lambda e: str(e["at"]))


async def make_history(db: Path, folder: Path) -> None:
    """The live store: the example scenario run by the engine over `history()` and 3 days on."""
    checked = check_workspace(load_workspace([str(folder)]))
    assert checked.ok
    store = SqliteStore(str(db))
    await store.open()
    clock = VirtualClock(T0)
    engine = Engine(store, clock, Settings(code_seed=1, secret="live"))
    await engine.install(compile_workspace(checked))
    await play(engine, clock, [read_event(json.dumps(e)) for e in history()], T0 + dt.timedelta(days=3))
    await store.close()


def fingerprint(db: Path) -> tuple[str, dict[str, int]]:
    """The file's bytes (and its WAL's, if any) and the rows of each table."""
    import sqlite3

    digest = hashlib.sha256()
    for part in (db, db.with_name(db.name + "-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts = {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        connection.close()
    return digest.hexdigest(), counts


@pytest.fixture
def live(tmp_path: Path) -> Path:
    db = tmp_path / "live.db"
    asyncio.run(make_history(db, workspace(tmp_path / "live", EXAMPLE)))
    return db


def test_the_backtest_finds_the_messages_counted_by_hand(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = workspace(tmp_path / "candidate", CANDIDATE)
    before = fingerprint(live)
    assert before[1]["outbox"] == LIVE
    assert main(["backtest", str(candidate), "--db", str(live), *PERIOD, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    c = result["comparison"]
    assert (result["events"], result["contacts"]) == (len(history()), len(PAYS))
    assert (c["live"], c["backtest"], c["same"], c["moved"], c["added"], c["removed"]) == (
        LIVE, BACKTEST, 0, MOVED, 0, REMOVED,
    )  # fmt: skip
    assert c["templates"] == [{"scenario": "unpaid_recovery", "channel": "email", "template": "unpaid_reminder",
                               "live": LIVE, "backtest": BACKTEST, "same": 0, "moved": MOVED, "added": 0,
                               "removed": REMOVED}]  # fmt: skip
    assert c["steps"] == [{"scenario": "unpaid_recovery", "step": "@reminder", "live": LIVE, "backtest": BACKTEST,
                           "moved": MOVED, "added": 0, "removed": REMOVED}]  # fmt: skip
    assert c["coupons"] == [{"scenario": "unpaid_recovery", "coupon": "UNPAID10", "live": LIVE, "backtest": BACKTEST}]
    removed = sorted(m["contact"] for m in c["changes"] if m["change"] == "removed")
    assert removed == sorted(f"c{i}" for i, pays in enumerate(PAYS) if pays in (30, 45))
    for m in c["changes"]:
        if m["change"] == "moved":
            live_at, at = dt.datetime.fromisoformat(m["live_at"]), dt.datetime.fromisoformat(m["at"])
            assert at - live_at == dt.timedelta(minutes=30), m
    assert c["changes_total"] == MOVED + REMOVED
    assert fingerprint(live) == before  # byte for byte, and by rows


def test_the_same_version_changes_nothing_and_the_text_shows_the_tables(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = workspace(tmp_path / "same", EXAMPLE)
    assert main(["backtest", str(same), "--db", str(live), *PERIOD, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"messages: live {LIVE}, backtest {LIVE}: {LIVE} the same, 0 moved, 0 added, 0 removed" in out
    assert "per template" in out and "coupons issued" in out and "UNPAID10" in out


def test_a_stored_version_is_a_candidate_and_limit_cuts_the_list(
    live: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backtest", "--db", str(live), "--scenario", "unpaid_recovery", "--version", "1", *PERIOD]
    assert main([*argv, "--format", "json", "--limit", "0"]) == 0
    c = json.loads(capsys.readouterr().out)["comparison"]
    assert (c["live"], c["backtest"], c["changes"], c["changes_total"]) == (LIVE, LIVE, [], 0)
    assert main([*argv[:-6], "--version", "7", *PERIOD]) == 2
    assert "scenario unpaid_recovery has no version 7; it has 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a duration before now such as 30d"),
        (["--since", "2026-11-06", "--until", "2026-11-05"], "must be before until"),
        (["--scenario", "nope"], "the candidate has no scenario nope; it has unpaid_recovery"),
    ],
)
def test_bad_input_is_a_clear_error(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    candidate = workspace(tmp_path / "candidate", CANDIDATE)
    assert main(["backtest", str(candidate), "--db", str(live), *argv]) == 2
    err = capsys.readouterr().err
    assert error in err and "Traceback" not in err


def test_a_candidate_that_fails_check_is_refused_with_its_diagnostics(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = workspace(tmp_path / "broken", CANDIDATE.replace("wait 1h", "wait 1 hour"))
    assert main(["backtest", str(broken), "--db", str(live), *PERIOD]) == 2
    err = capsys.readouterr().err
    assert "unpaid_recovery.scn:" in err and "the workspace has errors; fix them first" in err


def test_no_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    candidate = workspace(tmp_path / "candidate", CANDIDATE)
    assert main(["backtest", str(candidate), "--db", str(tmp_path / "none.db")]) == 2
    assert "none.db: no such database" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


async def test_a_period_without_events_compares_nothing(live: Path, tmp_path: Path) -> None:
    checked = check_workspace(load_workspace([str(workspace(tmp_path / "c", CANDIDATE))]))
    later = T0 + dt.timedelta(days=30)
    result = await backtest(str(live), compile_workspace(checked), ["unpaid_recovery"], later,
                            later + dt.timedelta(days=1), Settings(secret="x"))  # fmt: skip
    assert (result.events, result.comparison.live, result.comparison.backtest) == (0, 0, 0)
    with pytest.raises(BacktestError, match="need a time zone"):
        await backtest(str(live), compile_workspace(checked), [], later.replace(tzinfo=None), later, Settings())


async def test_the_api_backtests_a_draft_over_http_and_sends_nothing(live: Path, tmp_path: Path) -> None:
    files = {"unpaid_recovery.scn": EXAMPLE}
    files.update({f"templates/{p.name}": p.read_text(encoding="utf-8") for p in (EXAMPLES / "templates").iterdir()})
    shutil.move(live, tmp_path / "scn.db")  # where the harness's server keeps its store
    clock = HandClock(T0 + dt.timedelta(days=3))
    async with serving(tmp_path, files, clock=clock, dev_sink=True) as s:
        sink = s.app.state.mail_sink
        for _ in range(500):  # the history's reminders, delivered now that a sender runs
            if len(sink.mails) == LIVE:
                break
            await asyncio.sleep(0.02)
        assert len(sink.mails) == LIVE
        r = await s.client.post("/api/scenarios?draft=true", json={"files": {"unpaid_recovery.scn": CANDIDATE}})
        assert r.json()["versions"] == {"unpaid_recovery": 2}, r.text
        counts = {t: await s.count(f"SELECT count(*) FROM {t}") for t in TABLES}
        body = {"since": "2026-11-01", "until": "2026-11-05T00:00:00Z", "limit": 3}
        r = await s.client.post("/api/scenarios/unpaid_recovery/backtest", json=body)
        assert r.status_code == 200, r.text
        c = r.json()["comparison"]
        assert (c["live"], c["backtest"], c["moved"], c["removed"], c["changes_total"]) == (
            LIVE, BACKTEST, MOVED, REMOVED, MOVED + REMOVED,
        )  # fmt: skip
        assert len(c["changes"]) == 3
        r = await s.client.post("/api/scenarios/unpaid_recovery/backtest", json={**body, "version": 1})
        assert r.json()["comparison"]["same"] == LIVE
        r = await s.client.post("/api/scenarios/unpaid_recovery/backtest",
                                json={**body, "files": {"unpaid_recovery.scn": CANDIDATE}})  # fmt: skip
        assert r.json()["comparison"]["removed"] == REMOVED, r.text
        await asyncio.sleep(0.2)
        assert len(sink.mails) == LIVE  # nothing sent
        assert {t: await s.count(f"SELECT count(*) FROM {t}") for t in TABLES} == counts
        assert (await s.client.get("/api/scenarios/unpaid_recovery")).json()["version"] == 1  # the draft stays one


async def test_the_api_refuses_bad_input_with_problems(live: Path, tmp_path: Path) -> None:
    shutil.move(live, tmp_path / "scn.db")
    files = {"unpaid_recovery.scn": EXAMPLE}
    files.update({f"templates/{p.name}": p.read_text(encoding="utf-8") for p in (EXAMPLES / "templates").iterdir()})
    async with serving(tmp_path, files, clock=HandClock(T0 + dt.timedelta(days=3))) as s:
        url = "/api/scenarios/unpaid_recovery/backtest"
        is_problem(await s.client.post("/api/scenarios/nope/backtest", json={}), 404)
        body = is_problem(await s.client.post(url, json={"since": "last week"}), 422)
        assert body["detail"].startswith("since: 'last week' is not")
        body = is_problem(await s.client.post(url, json={"since": "2026-11-05", "until": "2026-11-01"}), 422)
        assert "must come before until" in body["detail"]
        body = is_problem(await s.client.post(url, json={"version": 9}), 422)
        assert body["detail"] == "version: scenario unpaid_recovery has no version 9; it has 1"
        body = is_problem(await s.client.post(url, json={"files": {"unpaid_recovery.scn": "scenario x\n"}}), 422)
        assert body["type"].endswith("workspace-has-errors") and body["diagnostics"]
        body = is_problem(await s.client.post(url, json={"limit": -1}), 400)
        assert "limit" in body["detail"]
        is_problem(await s.client.post(url, json={"bogus": 1}), 400)


def test_the_progress_bar_counts_the_events_on_standard_error(live: Path, tmp_path: Path) -> None:
    candidate = workspace(tmp_path / "candidate", CANDIDATE)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["backtest", str(candidate), "--db", str(live), *PERIOD, "--progress", "--format", "json"]) == 1
    total = len(history())
    assert "replaying events" in err.getvalue() and f"{total}/{total}" in err.getvalue(), err.getvalue()
    assert json.loads(out.getvalue())["events"] == total  # the output alone on standard output


def test_a_backtest_of_a_postgresql_store_says_it_is_not_built_yet() -> None:
    from scn.interpreter.store import StoreError
    from scn.interpreter.store.sqlite_history import open_read_only

    with pytest.raises(StoreError, match="on PostgreSQL it is not built yet"):
        open_read_only("postgresql://scn@db.internal/scn")


#: What a backtest of a PostgreSQL store answers until it is built.
NOT_ON_POSTGRESQL = "a backtest reads an SQLite store's history; on PostgreSQL it is not built yet"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_real_postgresql_store_is_refused_by_the_command_and_the_api_and_left_alone(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = workspace(tmp_path / "candidate", CANDIDATE)
    for argv in ([str(candidate)], ["--scenario", "unpaid_recovery", "--version", "1"]):
        assert await asyncio.to_thread(main, ["backtest", *argv, "--db", db, *PERIOD]) == 2
        assert capsys.readouterr().err == f"scn backtest: {NOT_ON_POSTGRESQL}\n"
    files = {"unpaid_recovery.scn": EXAMPLE}
    files.update({f"templates/{p.name}": p.read_text(encoding="utf-8") for p in (EXAMPLES / "templates").iterdir()})
    async with serving(tmp_path, files, clock=HandClock(T0), db=db) as s:
        counts = {t: await s.count(f"SELECT count(*) FROM {t}") for t in TABLES}
        body = is_problem(await s.client.post("/api/scenarios/unpaid_recovery/backtest", json={}), 409)
        assert body["detail"] == NOT_ON_POSTGRESQL
        assert {t: await s.count(f"SELECT count(*) FROM {t}") for t in TABLES} == counts
