"""The console over real HTTP: sign-in, CSRF on every form, escaping of what a marketer's
data holds, pages that fail as pages, previews, uploads, and the live numbers agreeing
with the API's step counts."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from litestar.routes import HTTPRoute

from scn.interpreter.clock import WallClock
from scn.server.console import ConsoleSettings

from .console_client import ConsoleUser, token_of
from .server_harness import API_KEY, Served, free_port, serving
from .test_serve_process import workspace_files


def unpaid(contact: str, key: str, **person: object) -> dict[str, object]:
    return {
        "type": "order.unpaid", "key": key,
        "contact": {"id": contact, "email": f"{contact}@example.lv", "language": "lv", **person},
        "order": {"id": f"o-{key}", "offer": "course-a", "total": "49.00", "currency": "EUR"},
    }  # fmt: skip


#: An hour of scenario time in a second: Oleh's reminder goes after half a second, and his
#: run then waits 24 seconds for the payment (long enough for a test to look at it).
SPEED = 3600.0


def fast_clock() -> WallClock:
    return WallClock(SPEED)


async def played(s: Served) -> None:
    """Oleh's unpaid order, until his reminder is sent and his run waits for the payment."""
    answer = await s.client.post("/api/events", json=unpaid("oleh", "u1", first_name="Oleh"))
    assert answer.status_code == 202, answer.text
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        steps = {c["step"]: c for c in (await s.client.get("/api/scenarios/unpaid_recovery/steps")).json()["items"]}
        if steps["s5"]["waiting"] == 1:
            return
        assert loop.time() < deadline, steps
        await asyncio.sleep(0.05)


async def test_pages_ask_for_the_key_and_the_key_signs_in_with_a_safe_cookie(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        first = await user.get("/runs?status=done")
        assert first.status_code == 303 and first.headers["location"] == "/sign-in?next=%2Fruns%3Fstatus%3Ddone"
        # The form's token is matched by a cookie another site's page can neither read nor send.
        form = await user.get("/sign-in")
        cookies = first.headers.get_list("set-cookie") + form.headers.get_list("set-cookie")
        csrf = next(c for c in cookies if c.startswith("scn_csrf="))
        assert {"HttpOnly", "SameSite=strict", "Path=/"} <= {p.strip() for p in csrf.split(";")}
        wrong = await user.sign_in("not-the-key")
        assert wrong.status_code == 401 and "did not match" in wrong.text
        assert "scn_session" not in user.http.cookies
        signed = await user.sign_in()
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("scn_session="))
        assert {"HttpOnly", "SameSite=lax", "Path=/"} <= {p.strip() for p in cookie.split(";")}
        home = await user.get("/")
        assert home.status_code == 200 and "Unpaid order recovery" in home.text
        assert home.headers["content-security-policy"].startswith("default-src 'none'")
        # Signing out ends the session on the server: the old cookie opens nothing.
        old = user.http.cookies["scn_session"]
        out = await user.submit("/", "/sign-out")
        assert out.status_code == 303
        user.http.cookies.set("scn_session", old)
        assert (await user.get("/")).status_code == 303


async def test_the_api_key_in_a_header_opens_pages_too_and_the_api_stays_json(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s:
        page = await s.client.get("/scenarios/unpaid_recovery")  # s.client sends X-API-Key
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert (await s.client.get("/api/scenarios")).headers["content-type"] == "application/json"
        missing = await s.public.get("/api/scenarios")
        assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
        schema = (await s.client.get("/schema/openapi.json")).json()
        public = ("/api", "/o/", "/c/", "/unsubscribe", "/pref", "/healthz", "/metrics", "/dev/", "/problems",
                  "/webhooks")  # fmt: skip
        assert not [p for p in schema["paths"] if not p.startswith(public)]


async def test_a_user_and_password_from_the_settings_sign_in(tmp_path: Path) -> None:
    settings = ConsoleSettings(user="marta", password="s3cret pass")
    async with serving(tmp_path, workspace_files(), console=settings) as s, ConsoleUser(s) as user:
        assert (await user.sign_in("s3cret pass", user="olga")).status_code == 401
        assert (await user.sign_in(API_KEY, user="marta")).status_code == 401
        assert (await user.sign_in("s3cret pass", user="marta")).status_code == 303
        assert (await user.get("/")).status_code == 200
    (tmp_path / "b").mkdir()
    async with serving(tmp_path / "b", workspace_files(), console=settings) as s, ConsoleUser(s) as user:
        assert (await user.sign_in(API_KEY)).status_code == 303  # the key works beside the user


def test_settings_need_both_a_user_and_a_password() -> None:
    assert ConsoleSettings.from_env({"SCN_CONSOLE_USER": "marta"}).problem() is not None
    assert ConsoleSettings.from_env({"SCN_CONSOLE_PASSWORD": "x"}).problem() is not None
    both = ConsoleSettings.from_env({"SCN_CONSOLE_USER": "marta", "SCN_CONSOLE_PASSWORD": "x"})
    assert both.problem() is None and both.user == "marta"
    assert ConsoleSettings.from_env({}).problem() is None


async def test_without_a_key_the_console_is_open_and_says_so(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files(), api_key=None) as s, ConsoleUser(s) as user:
        home = await user.get("/")
        assert home.status_code == 200 and "No API key is set" in home.text
        assert (await user.get("/sign-in")).status_code == 303  # nothing to sign in to


FORMS = [
    ("/scenarios/unpaid_recovery/pause", {}),
    ("/scenarios/unpaid_recovery/resume", {}),
    ("/scenarios/unpaid_recovery/archive", {}),
    ("/runs/1/cancel", {}),
    ("/templates/unpaid_reminder/test", {"contact": "oleh", "to": "me@example.com"}),
    ("/upload", {"path": "x.scn", "text": "list x"}),
    ("/upload/publish", {"path": "x.scn", "text": "list x"}),
    ("/sign-out", {}),
    ("/sign-in", {"password": API_KEY}),
]


@pytest.mark.parametrize(("action", "data"), FORMS)
async def test_every_form_is_refused_without_its_csrf_token(tmp_path: Path, action: str, data: dict[str, str]) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        before = (await s.client.get("/api/scenarios/unpaid_recovery")).json()["state"]
        for token in (None, "forged" * 20):
            sent = {**data, **({"_csrf_token": token} if token else {})}
            refused = await user.http.post(action, data=sent)
            assert refused.status_code == 403, (action, refused.status_code)
            assert refused.headers["content-type"].startswith("text/html") and "form has expired" in refused.text
        assert (await s.client.get("/api/scenarios/unpaid_recovery")).json()["state"] == before


async def test_the_forms_above_are_every_form_of_the_console(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s:
        posts = {r.path_format for r in s.app.routes if isinstance(r, HTTPRoute) and "POST" in r.methods}
        console = {p for p in posts if not p.startswith(("/api/", "/unsubscribe/", "/preferences/", "/webhooks/"))}
        tested = {re.sub(r"/(unpaid_recovery|unpaid_reminder|1)/", "/{}/", action) for action, _data in FORMS}
        assert {re.sub(r"\{[^}]+\}", "{}", p) for p in console} == tested


async def test_pause_resume_and_archive_from_the_scenario_page(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        page = "/scenarios/unpaid_recovery"
        for action, state in (("pause", "paused"), ("resume", "active"), ("archive", "archived")):
            done = await user.submit(page, f"{page}/{action}")
            assert done.status_code == 303 and done.headers["location"] == page
            assert (await s.client.get(f"/api{page}")).json()["state"] == state
            assert f'class="badge {state}"' in (await user.get(page)).text
        refused = await user.submit(page, f"{page}/pause")  # archived: resume before pausing
        assert refused.status_code == 409 and "resume it before pausing" in refused.text


HOSTILE = "<script>alert(1)</script>"
HOSTILE_WORKSPACE = {
    "x.scn": f'''
list vip "{HOSTILE}"

template hello email
  subject "Hi {{{{ contact.first_name }}}} {HOSTILE}"
  html "hello.html"
end

scenario hello "{HOSTILE}"
  on contact.registered
  send email hello
end
''',
    "hello.html": "<p>Hello {{ contact.first_name }}</p><script>alert(2)</script>",
}


async def test_names_contact_data_and_template_text_are_escaped_on_every_page(tmp_path: Path) -> None:
    async with serving(tmp_path, HOSTILE_WORKSPACE) as s, ConsoleUser(s) as user:
        contact = {"id": "ann", "email": "ann@example.com", "first_name": '<img src=x onerror="alert(3)">',
                   "attributes": {"note": HOSTILE}}  # fmt: skip
        assert (await s.client.post("/api/events", json={"type": "contact.registered", "contact": contact})).is_success
        await s.settle()
        await user.sign_in()
        pages = ["/", "/scenarios/hello", "/scenarios/hello/steps/s1", "/runs", "/runs/1", "/contacts/ann",
                 "/contacts?q=a", "/templates", "/templates/hello?contact=ann", "/messages/1", "/reports",
                 "/reports/hello", "/upload", "/live"]  # fmt: skip
        for path in pages:
            answer = await user.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            text = answer.text
            assert "<script>alert" not in text and "<img src=x" not in text, path
            if path != "/live":
                # The only scripts are the console's own file.
                assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/console/console.js" defer>'], path
        message = (await user.get("/messages/1")).text
        # The mail itself, sandboxed in srcdoc (escaped, so it is inert text of the attribute).
        assert 'sandbox=""' in message and "&lt;script&gt;alert(2)&lt;/script&gt;" in message


async def test_a_template_without_languages_says_it_is_one_for_all(tmp_path: Path) -> None:
    """The templates page listed no language at all for a template written once for everyone."""
    async with serving(tmp_path, HOSTILE_WORKSPACE) as s, ConsoleUser(s) as user:
        await user.sign_in()
        row = re.search(r'<tr>\s*<td><a href="/templates/hello">.*?</tr>', (await user.get("/templates")).text, re.S)
        assert row is not None and "the same for every language" in row.group(), row


LINKED = {
    "shop.scn": """
template hello email
  subject "Hello"
  html "hello.html"
end

scenario hello "Hello"
  on contact.registered
  send email hello
end
""",
    "hello.html": '<p>Hi</p><p><a href="https://shop.example/course-a?x=1">Pay</a> '
    '<a href="https://shop.example/help">Help</a></p>',
}


async def test_a_message_in_the_console_has_no_tracking(tmp_path: Path) -> None:
    async with serving(tmp_path, LINKED) as s, ConsoleUser(s) as user:
        contact = {"id": "ann", "email": "ann@example.com"}
        assert (await s.client.post("/api/events", json={"type": "contact.registered", "contact": contact})).is_success
        await s.settle()
        await user.sign_in()
        stored = (await s.client.get("/api/messages/1")).json()["content"]
        assert f"{s.base}/o/" in stored["html"] and stored["html"].count(f"{s.base}/c/") == 2  # as sent: tracked
        shown = (await user.get("/messages/1")).text
        assert "/o/" not in shown and "/c/" not in shown
        # Each link back to where it leads (escaped twice: in the HTML, in the srcdoc attribute).
        assert "https://shop.example/course-a?x=1" in shown.replace("&amp;amp;", "&").replace("&amp;", "&")
        assert "https://shop.example/help" in shown
        assert (await s.client.get("/api/reports/hello")).json()["totals"]["opened"] == 0


async def test_the_live_numbers_are_the_api_step_counts(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files(), clock=fast_clock()) as s, ConsoleUser(s) as user:
        await played(s)
        await user.sign_in()
        live = (await user.get("/scenarios/unpaid_recovery/live")).json()
        steps = {c["step"]: c for c in (await s.client.get("/api/scenarios/unpaid_recovery/steps")).json()["items"]}
        assert live["unpaid_recovery/start/passed"] == str(steps["start"]["passed"]) == "1"
        for step in ("s1", "s2", "s3", "@reminder", "s5"):
            assert live[f"unpaid_recovery/{step}/passed"] == str(steps[step]["passed"]), step
            assert live[f"unpaid_recovery/{step}/now"] == str(steps[step]["waiting"]), step
        assert live["unpaid_recovery/@reminder/sent"] == "1"
        assert live["unpaid_recovery/s5/now"] == "1"  # waiting for the payment
        home = (await user.get("/live")).json()
        assert home["unpaid_recovery/list/in_flight"] == "1"
        assert {k: v for k, v in home.items() if k.startswith("unpaid_recovery/s")} == {
            k: v for k, v in live.items() if k.startswith("unpaid_recovery/s")
        }
        page = (await user.get("/scenarios/unpaid_recovery")).text
        assert 'data-live="unpaid_recovery/s5/now">1<' in page


async def test_a_template_in_each_of_its_languages_with_named_samples(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files(), clock=fast_clock()) as s, ConsoleUser(s) as user:
        await played(s)
        await user.sign_in()
        subjects = {"lv": "Jūsu pasūtījums gaida", "ru": "Ваш заказ ждёт", "uk": "Ваше замовлення чекає",
                    "en": "Your order is waiting"}  # fmt: skip
        for lang, subject in subjects.items():
            page = (await user.get("/templates/unpaid_reminder", params={"contact": "oleh", "lang": lang})).text
            assert f'<span data-part="subject">{subject}' in page, lang
        own = (await user.get("/templates/unpaid_reminder", params={"contact": "oleh"})).text
        assert "Jūsu pasūtījums gaida" in own  # Oleh's own language
        assert "is a sample" not in own  # his order and code are real
        # A contact with no order: the order in the preview is a sample, and the page says so.
        await s.client.post("/api/contacts", json={"id": "nina", "email": "nina@example.com", "language": "en"})
        await s.settle()
        sample = (await user.get("/templates/unpaid_reminder", params={"contact": "nina"})).text
        assert "Sample data in this preview" in sample and "order SAMPLE-1001 is a sample" in sample
        assert "SAMPLE-1001" in sample.split('data-part="subject"')[1] or "SAMPLE-1001" in sample
        missing = await user.get("/templates/unpaid_reminder", params={"contact": "nobody"})
        assert missing.status_code == 200 and "There is no contact nobody." in missing.text
        wrong = await user.get("/templates/unpaid_reminder", params={"contact": "oleh", "lang": "de"})
        assert wrong.status_code == 400 and "has no language &#39;de&#39;" in wrong.text


async def test_a_test_send_goes_out_with_test_in_its_subject(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files(), clock=fast_clock(), dev_sink=True) as s, ConsoleUser(s) as user:
        await played(s)
        await user.sign_in()
        sink = s.app.state["mail_sink"]
        page = "/templates/unpaid_reminder?contact=oleh&lang=ru"
        done = await user.submit(page, "/templates/unpaid_reminder/test",
                                 {"contact": "oleh", "lang": "ru", "to": "marketer@example.com"})  # fmt: skip
        assert done.status_code == 200 and "Test send to marketer@example.com: sent" in done.text
        # Only the test send goes to the marketer; the scenarios' own mail may arrive meanwhile
        # (the fast clock keeps them running), so count the marketer's mail alone.
        (mail,) = [m for m in sink.mails if "marketer@example.com" in m.recipients]
        assert mail.subject.startswith("[test] Ваш заказ ждёт") and mail.recipients == ["marketer@example.com"]


WORKSPACE_WITH_A_TYPO = """
scenario typo "A typo"
  on order.paid
  wait 30 min
end
"""
FIXED = WORKSPACE_WITH_A_TYPO.replace("30 min", "30m")


async def test_an_upload_with_an_error_shows_it_on_the_source_and_publishes_nothing(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        before = (await s.client.get("/api/scenarios")).json()
        checked = await user.submit("/upload", "/upload", files={"files": ("typo.scn", WORKSPACE_WITH_A_TYPO)})
        assert checked.status_code == 422
        assert "SCN006" in checked.text and "`30 min` is not a duration: write `30m`" in checked.text
        assert '<span class="row has-error" id="L4">' in checked.text  # on its line
        assert 'formaction="/upload/publish"' not in checked.text  # nothing to publish
        refused = await user.submit("/upload", "/upload/publish", {"path": "typo.scn", "text": WORKSPACE_WITH_A_TYPO})
        assert refused.status_code == 422 and "SCN006" in refused.text
        assert (await s.client.get("/api/scenarios")).json() == before

        again = await user.http.post("/upload", data={"_csrf_token": token_of(checked.text), "path": "typo.scn",
                                                      "text": FIXED.replace("\n", "\r\n")})  # fmt: skip
        assert again.status_code == 200 and "0 error(s)" in again.text and 'formaction="/upload/publish"' in again.text
        published = await user.http.post("/upload/publish", data={"_csrf_token": token_of(again.text),
                                                                  "path": "typo.scn", "text": FIXED})  # fmt: skip
        assert published.status_code == 200 and 'href="/scenarios/typo"' in published.text
        assert (await s.client.get("/api/scenarios/typo")).json()["source"] == FIXED


async def test_an_uploaded_template_replaces_the_workspace_file_of_its_name(tmp_path: Path) -> None:
    files = workspace_files()
    async with serving(tmp_path, files) as s, ConsoleUser(s) as user:
        await user.sign_in()
        html = files["templates/unpaid_reminder.en.html"].replace("<body>", "<body><p>Edited</p>", 1)
        checked = await user.submit("/upload", "/upload", files={"files": ("unpaid_reminder.en.html", html)})
        assert checked.status_code == 200, checked.text[-2000:]
        assert 'value="templates/unpaid_reminder.en.html"' in checked.text


async def test_pages_fail_as_pages_naming_what_was_wrong(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        cases = [
            ("/scenarios/nope", 404, "scenario &#39;nope&#39; does not exist"),
            ("/scenarios/unpaid_recovery/steps/s99", 404, "step &#39;s99&#39;"),
            ("/runs/999", 404, "run 999 does not exist"),
            ("/runs/0", 404, "run 0"),
            (f"/runs/{2**64}", 404, ""),
            ("/runs?status=bogus", 400, "status must be one of running, waiting"),
            ("/runs?after=x", 400, "after must be a whole number"),
            ("/contacts/nobody", 404, "contact &#39;nobody&#39; does not exist"),
            ("/messages/5", 404, "message 5 does not exist"),
            ("/templates/nope", 404, "template &#39;nope&#39; does not exist"),
            ("/reports/unpaid_recovery?since=2025-03-02&until=2025-03-01", 422, "must come before until"),
            ("/reports/unpaid_recovery?since=yesterday", 400, "is not a date"),
            ("/scenarios/unpaid_recovery/diff?old=1&new=7", 400, "choose two versions"),
        ]
        for path, status, words in cases:
            answer = await user.get(path)
            assert answer.status_code == status, (path, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html"), path
            assert words in answer.text and "Traceback" not in answer.text, (path, answer.text[-1500:])


async def test_step_pages_list_the_runs_and_messages_of_the_step(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files(), clock=fast_clock()) as s, ConsoleUser(s) as user:
        await played(s)
        await user.sign_in()
        step = (await user.get("/scenarios/unpaid_recovery/steps/@reminder")).text
        assert "Messages from this step" in step and 'href="/messages/' in step
        assert 'class="step send selected"' in step  # the step is marked on the diagram
        waiting = (await user.get("/scenarios/unpaid_recovery/steps/s5")).text
        assert 'href="/runs/1"' in waiting
        runs = (await user.get("/runs", params={"scenario": "unpaid_recovery", "status": "awaiting"})).text
        assert 'href="/runs/1"' in runs
        assert 'href="/runs/1"' not in (await user.get("/runs", params={"status": "done"})).text
        trace = (await user.get("/runs/1")).text
        assert "Did this contact get the messages?" in trace and "email unpaid_reminder (lv)" in trace


async def test_versions_can_be_compared(tmp_path: Path) -> None:
    files = workspace_files()
    async with serving(tmp_path, files) as s, ConsoleUser(s) as user:
        await user.sign_in()
        changed = files["unpaid_recovery.scn"].replace("wait 30m", "wait 45m")
        assert (await s.client.post("/api/scenarios", json={"files": {"unpaid_recovery.scn": changed}})).is_success
        page = (await user.get("/scenarios/unpaid_recovery")).text
        assert "Show the differences" in page
        diff = (await user.get("/scenarios/unpaid_recovery/diff", params={"old": 1, "new": 2})).text
        assert '<span class="row del">-  wait 30m' in diff and '<span class="row add">+  wait 45m' in diff
        # The semantic diff above it: the step that changed, and how.
        assert '<tr class="changed"><td>changed</td>\n<td>s1</td>\n<td>wait 45m' in diff
        assert "duration: <del>30m</del> → <ins>45m</ins>" in diff and "5 step(s) unchanged." in diff
        same = (await user.get("/scenarios/unpaid_recovery/diff", params={"old": 2, "new": 2})).text
        assert "The two versions do the same" in same


async def test_static_files_are_served_and_nothing_names_another_host(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        for name in ("console.css", "console.js"):
            answer = await user.get(f"/static/console/{name}")
            assert answer.status_code == 200 and not re.search(r"https?://", answer.text), name
        assert (await user.get("/static/console/../app.py")).status_code == 404


def test_the_console_shipped_files_are_package_data() -> None:
    import tomllib

    from .conftest import ROOT

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = config["package-data"]["scn.server.console"]
    folder = ROOT / "server" / "console"
    shipped = {p for pattern in patterns for p in folder.glob(pattern)}
    needed = {p for p in folder.rglob("*") if p.is_file() and p.suffix in (".html", ".css", ".js")}
    assert needed and needed <= shipped, sorted(str(p) for p in needed - shipped)


async def test_the_sign_in_goes_back_only_to_this_server(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s:
        async with httpx.AsyncClient(base_url=s.base, follow_redirects=False) as http:
            for target, expected in (("/runs", "/runs"), ("//evil.example", "/"), ("https://evil.example", "/"),
                                     ("/\\evil.example", "/")):  # fmt: skip
                form = await http.get("/sign-in", params={"next": target})
                answer = await http.post("/sign-in", data={"_csrf_token": token_of(form.text), "password": API_KEY,
                                                           "next": target})  # fmt: skip
                assert answer.headers["location"] == expected, target
                http.cookies.delete("scn_session")


def test_scn_serve_refuses_a_console_user_without_a_password(tmp_path: Path) -> None:
    env = {**os.environ, "SCN_CONSOLE_USER": "marta"}
    env.pop("SCN_CONSOLE_PASSWORD", None)
    done = subprocess.run([sys.executable, "-m", "scn", "serve", "--db", str(tmp_path / "scn.db"), "--port",
                           str(free_port())], env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "set both SCN_CONSOLE_USER and SCN_CONSOLE_PASSWORD, or neither" in done.stderr
