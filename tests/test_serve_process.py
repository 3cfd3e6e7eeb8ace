"""`scn serve` as a real process, with a real SMTP server: upload the five examples over
HTTP, post events, see the mail arrive, follow its tracked link and open pixel."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import EXAMPLES
from .server_harness import free_port
from .smtp_server import SmtpServer


def workspace_files() -> dict[str, str]:
    files = {}
    for path in sorted(EXAMPLES.rglob("*")):
        if path.is_file() and path.suffix in (".scn", ".html", ".csv", ".txt") and ".expected" not in path.name:
            files[path.relative_to(EXAMPLES).as_posix()] = path.read_text(encoding="utf-8")
    return files


def test_serve_uploads_examples_sends_mail_and_tracks_it(db: str, tmp_path: Path) -> None:
    """On each backend: the API and the engine as two processes on one SQLite file, or on
    one PostgreSQL database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SmtpServer() as smtp:
        env = {**os.environ, "SCN_SECRET": "e2e", "SCN_API_KEY": "k"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = (tmp_path / "serve.log").open("w", encoding="utf-8")  # a file: a pipe could fill up
        process = subprocess.Popen(
            # An hour of scenario time per 36 ms: the two days before Ewa's mail take 1.7 s.
            [sys.executable, "-m", "scn", "serve", "--db", db, "--port", str(port),
             "--clock-speed", "100000", "--smtp", smtp.url, "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=log, env=env,
        )  # fmt: skip
        try:
            with httpx.Client(base_url=base, headers={"X-API-Key": "k"}, timeout=10) as client:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
                uploaded = client.post("/api/scenarios", json={"files": workspace_files()})
                assert uploaded.status_code == 201, uploaded.text
                assert len(uploaded.json()["versions"]) == 12  # five cases in nine, birthdays, a broadcast
                # Oleh orders and never pays: the reminder with a coupon goes after 30 minutes.
                # Ewa pays 350 PLN: the middle band's thank-you goes two days later.
                unpaid = {
                    "type": "order.unpaid",
                    "key": "u1",
                    "contact": {
                        "id": "oleh",
                        "email": "oleh@example.ua",
                        "language": "uk",
                        "timezone": "Europe/Kyiv",
                        "first_name": "Олег",
                    },
                    "order": {"id": "o1", "offer": "course-a", "total": "49.00", "currency": "EUR"},
                }
                paid = {"type": "order.paid", "key": "p1",
                        "contact": {"id": "ewa", "email": "ewa@example.pl", "language": "pl", "first_name": "Ewa",
                                    "timezone": "Europe/Warsaw"},
                        "order": {"id": "p1", "total": "350.00", "currency": "PLN",
                                  "items": [{"product_id": "mug", "name": "Kubek", "price": "350.00",
                                             "url": "https://shop.example/mug"}]}}  # fmt: skip
                accepted = client.post("/api/events", json=[unpaid, paid], headers={"X-Request-ID": "req-42"})
                assert accepted.status_code == 202 and len(accepted.json()["accepted"]) == 2
                assert accepted.headers["x-request-id"] == "req-42"
                assert len(client.get("/healthz").headers["x-request-id"]) == 32, "a new id when none is given"
                deadline = time.monotonic() + 30
                while len(smtp.handler.received) < 2 and time.monotonic() < deadline:
                    time.sleep(0.1)
                mails = {m["To"]: m for _, m in smtp.handler.received}
                assert set(mails) == {"oleh@example.ua", "ewa@example.pl"}, [m["To"] for _, m in smtp.handler.received]
                assert mails["oleh@example.ua"]["Subject"] == "Ваше замовлення чекає: знижка 10% на 24 години"
                body = mails["ewa@example.pl"].get_body(("html",))
                assert body is not None
                html = body.get_content()
                link = re.search(r'href="(http[^"]+/c/[^"]+)"', html)  # the first product's link
                pixel = re.search(r'src="(http[^"]+/o/[^"]+)"', html)
                assert link is not None and pixel is not None
                with httpx.Client(timeout=10) as public:
                    assert public.get(pixel.group(1)).headers["content-type"] == "image/gif"
                    redirect = public.get(link.group(1))
                    assert redirect.status_code == 302 and redirect.headers["location"].startswith("https://")

                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    metrics = client.get("/metrics").text
                    if 'scn_events{state="pending"}' not in metrics and "scn_messages{" in metrics:
                        break
                    time.sleep(0.1)
                runs = client.get("/api/runs", params={"contact": "oleh", "scenario": "unpaid_recovery"}).json()
                (run,) = runs["items"]
                trace = client.get(f"/api/runs/{run['id']}").json()["trace"]
                # 30 minutes of scenario time are 18 ms here: an event that took longer to reach
                # the engine (PostgreSQL's round trips, a loaded machine) finds its wait over ("waited").
                outcomes = [t["outcome"] for t in trace][:4]
                assert outcomes[0] == "started" and outcomes[1] in ("waiting", "waited"), trace
                assert outcomes[2:] == ["passed", "done"], trace
                report = client.get("/api/reports/post_purchase").json()
                assert (report["totals"]["sent"], report["totals"]["opened"], report["totals"]["clicked"]) == (1, 1, 1)
                assert report["totals"]["ctr"] == 1.0
                sent = client.get("/api/messages", params={"status": "sent"}).json()["items"]
                assert {m["recipient"] for m in sent} >= {"oleh@example.ua", "ewa@example.pl"}
                assert_metrics(metrics)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
            log.close()
        logged = (tmp_path / "serve.log").read_text(encoding="utf-8")
        assert process.returncode == 0, output.decode() + logged
    assert "serving 0 scenario(s)" in output.decode()
    assert_json_log(logged)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics read with prometheus_client's own parser: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def assert_metrics(text: str) -> None:
    found = samples(text)

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    assert value("scn_up") == 1
    # The two posted, the tracked open and click, and what the runtime raised on the way.
    processed = value("scn_events", state="processed")
    assert processed >= 4 and value("scn_events", state="pending") == 0
    assert value("scn_events_accepted_total") == processed
    assert value("scn_runs_started_total", scenario="unpaid_recovery") == 1
    assert value("scn_messages_total", channel="email", status="sent") >= 2
    # Observed in both processes and added up: the engine's (events, wake-ups), the API's (sends, requests).
    assert value("scn_event_lag_seconds_count") == processed
    assert value("scn_wakeup_lateness_seconds_count") >= 1
    assert value("scn_send_latency_seconds_count", channel="email") >= 2
    assert value("scn_http_request_duration_seconds_count", method="POST", route="/api/events", status="202") == 1
    assert value("scn_http_request_duration_seconds_count", method="POST", route="/api/scenarios", status="201") == 1


def assert_json_log(logged: str) -> None:
    lines = [json.loads(line) for line in logged.splitlines()]  # every line one JSON object
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    (events,) = [line for line in lines if line.get("path") == "/api/events"]
    assert (events["logger"], events["method"], events["status"], events["request_id"]) == (
        "scn.access", "POST", 202, "req-42"
    ), events  # fmt: skip
    assert events["duration_ms"] >= 0 and events["message"].startswith("POST /api/events 202 ")


def test_serve_refuses_a_workspace_with_errors_before_starting(tmp_path: Path) -> None:
    (tmp_path / "a.scn").write_text('scenario x "X"\n  on order.paid\n  send email nope\nend\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "scn", "serve", str(tmp_path), "--db", str(tmp_path / "scn.db"), "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "a.scn:3:14: SCN101 unknown template `nope`" in done.stderr
    assert not (tmp_path / "scn.db").exists(), "nothing was started"
