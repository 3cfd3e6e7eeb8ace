"""The console as a person uses it: `scn serve` on the examples (a real process, with the
demo's events and the development mail sink), Debian's Chromium driven by Playwright.

Sign in, watch the diagrams fill with numbers, open every page, click a step, filter runs,
read a trace, preview a template in two languages, upload a workspace with an error, see
the finding, publish the fix; on the way, check that nothing is loaded from another host,
that every field has a label, that the keyboard reaches every control, and that the
charts' colours stand out from the page.

Chromium is the system's (/usr/bin/chromium, the `chromium` package); a browser build is
never downloaded. Without it the tests skip, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import EXAMPLES
from .server_harness import free_port
from .test_console_drawing import contrast

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
KEY = "browser-test-key"
#: What a keyboard user can reach with Tab.
FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary, iframe"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium", allow_module_level=True)

from playwright.sync_api import BrowserContext, Page, Request, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`scn serve examples/ --dev-smtp --demo`, with an API key, on free ports."""
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SCN_SECRET": "browser", "SCN_API_KEY": KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "serve", str(EXAMPLES), "--dev-smtp", "--demo", "--port", str(port),
         "--dev-smtp-port", str(free_port()), "--db", str(folder / "scn-demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:  # up, and the demo's first contacts in
                try:
                    if client.get("/api/contacts/oleh").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "scn serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


class Browser:
    def __init__(self, context: BrowserContext, base: str) -> None:
        self.context = context
        self.base = base
        self.requests: list[str] = []
        context.on("request", self._seen)
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.set_default_timeout(10_000)

    def _seen(self, request: Request) -> None:
        self.requests.append(request.url)

    def open(self, path: str) -> Page:
        answer = self.page.goto(self.base + path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        return self.page

    def foreign(self) -> list[str]:
        """Requests to anywhere but this server (data: URLs are not requests to a host)."""
        here = urlsplit(self.base).netloc
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).netloc != here]


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    profile = tmp_path_factory.mktemp("profile")  # a fresh user data directory
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield Browser(context, server)
        finally:
            context.close()


def unlabelled(page: Page) -> list[str]:
    """Form fields a screen reader cannot name."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)"""
    )
    return found


def unreachable_by_keyboard(page: Page) -> list[str]:
    """Visible controls that Tab never reaches."""
    total: int = page.evaluate(
        """(selector) => {
            const shown = [...document.querySelectorAll(selector)].filter(e =>
                e.getClientRects().length > 0 && !e.closest('details:not([open]) > :not(summary)'));
            shown.forEach((e, i) => e.setAttribute('data-kb', String(i)));
            return shown.length;
        }""",
        FOCUSABLE,
    )
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator("body").focus()
    reached: set[str] = set()
    for _ in range(3 * total + 30):  # a date field takes a Tab per part (day, month, year...)
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-kb')")
        if mark is not None:
            reached.add(mark)
        if len(reached) == total:
            break
    missing: list[str] = page.evaluate(
        "(reached) => [...document.querySelectorAll('[data-kb]')].filter(e => !reached.includes(e.getAttribute("
        "'data-kb'))).map(e => e.outerHTML.slice(0, 120))",
        sorted(reached),
    )
    return missing


def accessible(page: Page) -> None:
    assert unlabelled(page) == [], page.url
    assert unreachable_by_keyboard(page) == [], page.url


def live_total(page: Page) -> int:
    numbers: list[str] = page.eval_on_selector_all("[data-live]", "els => els.map(e => e.textContent)")
    return sum(int(m.group()) for n in numbers if (m := re.match(r"\d+", n or "")))


def test_sign_in_and_watch_the_diagrams_fill_with_numbers(browser: Browser) -> None:
    page = browser.page
    page.goto(browser.base + "/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    page.get_by_label("API key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Scenarios", exact=True)).to_be_visible()
    # The five customer cases (nine scenarios), the birthdays (two) and the broadcast, each drawn.
    expect(page.locator("section.case")).to_have_count(7)
    expect(page.locator("svg.diagram")).to_have_count(12)
    before = live_total(page)
    deadline = time.monotonic() + 20
    while live_total(page) <= before:  # the demo runs: the numbers grow in place
        assert time.monotonic() < deadline, "the numbers did not change"
        page.wait_for_timeout(500)
    assert page.get_attribute("main", "data-live-at") is not None
    assert int(page.text_content('[data-live="unpaid_recovery/start/passed"]') or "0") >= 1
    assert browser.foreign() == []


def test_every_page_opens_and_is_usable_with_labels_and_the_keyboard(browser: Browser) -> None:
    page = browser.open("/")
    accessible(page)
    for label, heading in (("Reports", "Reports"), ("Runs", "Runs"), ("Contacts", "Contacts"),
                           ("Templates", "Templates"), ("Upload", "Upload scenarios and templates"),
                           ("Scenarios", "Scenarios")):  # fmt: skip
        page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        accessible(page)
    for path in ("/scenarios/repeat_order", "/reports/post_purchase", "/contacts/oleh", "/runs/1",
                 "/templates/unpaid_reminder?contact=oleh", "/messages/1"):  # fmt: skip
        accessible(browser.open(path))
    page = browser.open("/contacts")
    page.get_by_label("Contact id (or its start) or email").fill("ol")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("link", name="oleh", exact=True)).to_be_visible()
    page.get_by_label("Contact id (or its start) or email").fill("oleh@example.ua")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"/contacts/oleh$"))  # the one contact with that email: opened
    assert browser.foreign() == []


def test_a_step_on_a_diagram_opens_its_runs_and_messages(browser: Browser) -> None:
    page = browser.open("/scenarios/post_purchase")
    page.locator('svg.diagram a[data-step="s1"]').click()
    expect(page).to_have_url(re.compile(r"/scenarios/post_purchase/steps/s1$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("wait 2d")
    expect(page.get_by_role("heading", name="Runs at this step")).to_be_visible()
    assert page.locator('svg.diagram a.selected[data-step="s1"]').count() == 1
    # With the keyboard too: focus a step and press Enter.
    page = browser.open("/scenarios/unpaid_recovery")
    page.locator('svg.diagram a[data-step="@reminder"]').focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/steps/@reminder$"))
    expect(page.get_by_role("heading", name="Messages from this step")).to_be_visible()


def test_filter_runs_and_read_a_trace(browser: Browser) -> None:
    page = browser.open("/runs")
    page.get_by_label("Scenario").select_option("welcome_sms")
    page.get_by_label("Status").select_option("done")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"scenario=welcome_sms&status=done"))
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("welcome_sms")
    assert all("welcome_sms" in t and "done" in t for t in rows.all_inner_texts())
    rows.first.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    entries = page.locator("ol.timeline > li")
    expect(entries.first).to_contain_text("on contact.registered")
    assert entries.count() >= 3
    expect(page.get_by_role("heading", name="Did this contact get the messages?")).to_be_visible()


def test_preview_a_template_in_two_languages(browser: Browser) -> None:
    page = browser.open("/templates/unpaid_reminder")
    page.get_by_label("Contact", exact=True).fill("oleh")
    for lang, subject in (("lv", "Jūsu pasūtījums gaida"), ("ru", "Ваш заказ ждёт")):
        page.get_by_label("Language").select_option(lang)
        page.get_by_role("button", name="Preview").click()
        expect(page.locator('[data-part="subject"]')).to_contain_text(subject)
        frame = page.frame_locator("iframe.message")
        expect(frame.locator("body")).to_contain_text("UNPAID10")
    assert browser.foreign() == []


BROKEN = (EXAMPLES / "unpaid_recovery.scn").read_text(encoding="utf-8").replace("wait 30m", "wait 30 min")


def test_upload_a_workspace_with_an_error_see_it_and_publish_the_fix(browser: Browser, tmp_path: Path) -> None:
    broken = tmp_path / "unpaid_recovery.scn"
    broken.write_text(BROKEN, encoding="utf-8")
    page = browser.open("/upload")
    page.get_by_label("Files").set_input_files(str(broken))
    page.get_by_role("button", name="Check").click()
    finding = page.locator("pre.source .diag.error")
    expect(finding).to_contain_text("SCN006")
    expect(finding).to_contain_text("`30 min` is not a duration")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    # Fix it in place (a different wait, so that the program changes) and check again.
    page.get_by_label("Text of unpaid_recovery.scn").fill(BROKEN.replace("wait 30 min", "wait 45m"))
    page.get_by_role("button", name="Check again").click()
    expect(page.get_by_role("status")).to_contain_text("checks clean")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", name="Published")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^unpaid_recovery 2$"))).to_be_visible()
    page = browser.open("/scenarios/unpaid_recovery")
    expect(page.locator("svg.diagram")).to_contain_text("wait 45m")


def test_chart_colours_stand_out_from_the_page(browser: Browser) -> None:
    page = browser.open("/reports/post_purchase")
    colours: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart [data-series]')].map(e => {
            const style = getComputedStyle(e);
            const paint = e.tagName === 'polyline' ? style.stroke : style.fill;
            let back = e.closest('.figure'), background = 'rgba(0, 0, 0, 0)';
            while (back && (background = getComputedStyle(back).backgroundColor) === 'rgba(0, 0, 0, 0)') {
                back = back.parentElement;
            }
            return {series: e.getAttribute('data-series'), paint, background};
        })"""
    )
    assert len({c["series"] for c in colours}) >= 8  # every figure drawn
    for c in colours:
        ratio = contrast_between(c["paint"], c["background"])
        assert ratio >= 3.0, (c, round(ratio, 2))


def rgb(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def contrast_between(paint: str, background: str) -> float:
    """WCAG contrast of two CSS rgb() colours."""
    lighter, darker = sorted((1.05 / contrast(rgb(paint)), 1.05 / contrast(rgb(background))), reverse=True)
    return lighter / darker


def test_nothing_was_loaded_from_another_host(browser: Browser) -> None:
    assert len(browser.requests) > 20
    assert browser.foreign() == []
