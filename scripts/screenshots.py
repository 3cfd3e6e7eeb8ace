#!/usr/bin/env python3
"""Pictures of the console for the docs, made from the real thing.

Starts `scn serve examples/ --dev-smtp --demo` (with an API key, on free ports), lets the
demo run, signs in with Debian's Chromium (/usr/bin/chromium, driven by Playwright) and
writes:

* docs/images/console-*.png: screenshots of the main pages (not committed: the repository
  keeps no binaries; run this to see them);
* docs/images/diagram-*.svg: each example's diagram as the console draws it, with the
  numbers of the moment, standalone (its styles inside), which docs/console.md and the
  README show.

Run: python scripts/screenshots.py [--seconds 45] [--out docs/images]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
KEY = "screenshots"
#: (file name, page, full page or the first screen)
SHOTS = [
    ("console-scenarios", "/", False),
    ("console-scenario", "/scenarios/post_purchase", False),
    ("console-step", "/scenarios/unpaid_recovery/steps/@reminder", False),
    ("console-report", "/reports/order_bonus", True),
    ("console-runs", "/runs?scenario=welcome_sms", False),
    ("console-run", "/runs/1", False),
    ("console-contact", "/contacts/oleh", False),
    ("console-template", "/templates/unpaid_reminder?contact=oleh&lang=lv", False),
]
DIAGRAMS = ["unpaid_recovery", "post_purchase", "repeat_order", "order_bonus", "loyal_coupon"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def diagram_style() -> str:
    """The stylesheet's rules for diagrams, for an SVG that is shown on its own."""
    css = (ROOT / "server" / "console" / "static" / "console.css").read_text(encoding="utf-8")
    return "\n".join(line for line in css.splitlines() if line.startswith(".diagram"))


def standalone(svg: str) -> str:
    """A diagram from a page, with its styles and a white background."""
    opening = svg.index(">") + 1
    style = f"<style>{diagram_style()}\n.diagram {{ background: #fff; }}</style>"
    return svg[:opening] + style + svg[opening:] + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=45.0, help="how long the demo runs before the pictures")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"), help="where the pictures go")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="scn-screenshots-") as tmp:
        env = {**os.environ, "SCN_SECRET": "screenshots", "SCN_API_KEY": KEY}
        server = subprocess.Popen(
            [sys.executable, "-m", "scn", "serve", str(ROOT / "examples"), "--dev-smtp", "--demo", "--port",
             str(port), "--dev-smtp-port", str(free_port()), "--db", str(Path(tmp) / "scn-demo.db")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print("scn serve did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            print(f"the demo runs for {args.seconds:g} s...", flush=True)
            time.sleep(args.seconds)
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True,
                    viewport={"width": 1280, "height": 900},
                )  # fmt: skip
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(f"{base}/sign-in")
                page.get_by_label("API key").fill(KEY)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{base}/")
                for name, path, full in SHOTS:
                    page.goto(base + path)
                    page.screenshot(path=str(out / f"{name}.png"), full_page=full)
                    print(f"wrote {out / name}.png", flush=True)
                for name in DIAGRAMS:
                    page.goto(f"{base}/scenarios/{name}")
                    svg = page.eval_on_selector("svg.diagram", "e => e.outerHTML")
                    target = out / f"diagram-{name}.svg"
                    target.write_text(standalone(svg), encoding="utf-8")
                    print(f"wrote {target}", flush=True)
                context.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
