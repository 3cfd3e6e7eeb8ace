"""`scn broadcast list|show|preview|pause|resume|cancel`: broadcasts on a server, over its API.

The connection options, output formats and exit statuses are those of client.py (`scn runs`,
`scn report`): 0 done, 1 the server refused (an unknown broadcast, one that cannot be paused
in its state), 2 the request could not be made.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .client import EXIT_OK, _call, _problem, _table, _when, add_connection

#: Each action: its help, and whether it changes the broadcast (a POST).
ACTIONS = {
    "list": ("every broadcast: state, audience, time and progress", False),
    "show": ("one broadcast: its state and progress", False),
    "preview": ("the audience's size and the first message rendered for one contact", False),
    "pause": ("stop making runs and hold those made", True),
    "resume": ("go on where the pause stopped it", True),
    "cancel": ("stop it for good: runs not ended and messages not yet taken stop", True),
}


def add_commands(sub: Any) -> None:
    p = sub.add_parser("broadcast", help="broadcasts on a server: list, show, preview, pause, resume, cancel")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (words, _) in ACTIONS.items():
        q = actions.add_parser(action, help=words, description=words[0].upper() + words[1:] + ".")
        if action != "list":
            q.add_argument("name", help="the broadcast's name")
        if action == "preview":
            q.add_argument("--contact", help="the contact to render it for (default: the audience's first)")
        add_connection(q)
        q.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    changes = ACTIONS[args.action][1]
    if args.action == "list":
        status, body = _call(args, "GET", "/api/broadcasts", params={"limit": 1000})
    elif args.action == "preview":
        params = {"contact": args.contact} if args.contact else {}
        status, body = _call(args, "GET", f"/api/broadcasts/{args.name}/preview", params=params)
    elif changes:
        status, body = _call(args, "POST", f"/api/broadcasts/{args.name}/{args.action}")
    else:
        status, body = _call(args, "GET", f"/api/broadcasts/{args.name}")
    if status != 200:
        return _problem(status, body)
    if args.format == "json":
        print(json.dumps(body, ensure_ascii=False, indent=2))
    elif args.action == "list":
        rows = [_row(b) for b in body["items"]]
        print(_table(rows, ["broadcast", "state", "audience", "at", "queued", "sent"]), end="")
    elif args.action == "preview":
        _show_preview(body)
    elif args.action == "cancel":
        _show(body["broadcast"])
        print(f"{body['runs_cancelled']} run(s) cancelled, {body['messages_stopped']} message(s) stopped")
    else:
        _show(body)
    return EXIT_OK


def _row(b: dict[str, Any]) -> list[str]:
    progress = b["progress"]
    audience = f"{b['audience']['kind']} {b['audience']['name']}"
    return [b["name"], b["state"], audience, b["at"] or "on deploy", f"{progress['queued']}/{progress['audience']}",
            str(progress["messages"].get("sent", 0))]  # fmt: skip


def _show(b: dict[str, Any]) -> None:
    progress = b["progress"]
    title = f" ({b['title']})" if b["title"] else ""
    print(f"broadcast {b['name']}{title} v{b['version']}: {b['state']}")
    print(f"  to {b['audience']['kind']} {b['audience']['name']}, at {b['at'] or 'deploy'}"
          f" (begins {_when(b['starts_at'])} UTC)")  # fmt: skip
    print(f"  queued {progress['queued']} of {progress['audience']}" +
          (f", all by {_when(b['queued_at'])} UTC" if b["queued_at"] else ""))  # fmt: skip
    for what in ("runs", "messages"):
        counts = ", ".join(f"{n} {s}" for s, n in sorted(progress[what].items())) or "none"
        print(f"  {what}: {counts}")


def _show_preview(body: dict[str, Any]) -> None:
    print(f"broadcast {body['broadcast']}: {body['audience']} contact(s) in its audience now")
    if body["preview"] is None:
        print("no preview: " + ("its audience is empty" if body["contact"] is None else "it sends no message"))
        return
    shown = body["preview"]
    print(f"for {body['contact']}: {shown['channel']} {shown['template']}" + (f" ({shown['lang']})" if shown["lang"]
          else ""))  # fmt: skip
    for part, text in shown["parts"].items():
        print(f"--- {part}\n{text}")
    for sample in body["samples"]:
        print(f"note: {sample}")
