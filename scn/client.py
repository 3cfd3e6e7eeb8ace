"""`scn upload`, `scn runs`, `scn run ID`, `scn report`, `scn promote`: the API from the command line
(`scn publish` and `scn rollback` are in versions_cli.py).

The server is `--server` (or SCN_URL, default http://127.0.0.1:8000) and the key
`--api-key` (or SCN_API_KEY). Output is for people by default, `--format json` for tools.
Exit status: 0 done, 1 the server refused (a workspace with errors, an unknown run), 2
the request could not be made (no server, bad settings) or was malformed (a 400: an
option value the server does not accept, such as `--status bogus`, with the allowed
values in the message).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


def add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get("SCN_URL", "http://127.0.0.1:8000"), help="the API's URL")
    parser.add_argument("--api-key", default=os.environ.get("SCN_API_KEY"), help="the API key (SCN_API_KEY)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _call(args: argparse.Namespace, method: str, path: str, **options: Any) -> tuple[int, Any]:
    import httpx

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    try:
        with httpx.Client(base_url=args.server, headers=headers, timeout=60) as client:
            response = client.request(method, path, **options)
    except httpx.HTTPError as error:
        raise SystemExit(_fail(f"cannot reach {args.server}: {error}")) from None
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    return response.status_code, body


def _fail(message: str) -> int:
    print(f"scn: {message}", file=sys.stderr)
    return EXIT_ERROR


def _problem(status: int, body: Any) -> int:
    detail = body.get("detail") if isinstance(body, dict) else str(body)
    print(f"scn: the server refused ({status}): {detail}", file=sys.stderr)
    return EXIT_REFUSED if 400 < status < 500 and status not in (401, 413, 415) else EXIT_ERROR


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines) + "\n"


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:16] if value else "-"


def _show_findings(records: list[dict[str, Any]], files: dict[str, str], local: dict[str, str]) -> None:
    """The server's findings exactly as `scn check` prints them for the same files: the same
    renderer, the files named as on this machine, code frames from the local text."""
    from .interpreter.diagnostics import Diagnostic
    from .interpreter.render import fix_hints, from_json_records, render_text, summary, use_colour

    def here(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "filename": local.get(record["filename"], record["filename"])}

    records = [{**here(r), "related": [here(x) for x in r["related"]]} for r in records]
    diagnostics = sorted(from_json_records(records), key=Diagnostic.sort_key)
    texts = {local[name]: text for name, text in files.items()}
    sys.stdout.write(render_text(diagnostics, texts.get, colour=use_colour("auto", sys.stdout)))
    sys.stdout.write("".join(line + "\n" for line in fix_hints(diagnostics)))
    print(summary(diagnostics, sum(1 for name in files if name.endswith(".scn")), 0))


def upload(args: argparse.Namespace) -> int:
    """Upload .scn files (and the templates and pools next to them) to the server."""
    from .interpreter.workspace import display_path
    from .server.core import WorkspaceError, read_directory

    files: dict[str, str] = {}
    #: Each uploaded file's path on the server -> its name here, as `scn check` shows it.
    local: dict[str, str] = {}
    for entry in args.paths:
        path = Path(entry)
        if not path.exists():
            return _fail(f"no such file or directory: {entry}")
        try:
            found = read_directory(path)
        except (WorkspaceError, UnicodeDecodeError, OSError) as error:
            return _fail(str(error))
        files.update(found)
        local.update((name, display_path((path if path.is_file() else path / name).resolve())) for name in found)
    params = {"draft": "true"} if args.draft else {}
    status, body = _call(args, "POST", "/api/scenarios", json={"files": files}, params=params)
    if args.format == "json":
        print(json.dumps(body, ensure_ascii=False, indent=2))
    if status == 422:
        if args.format == "text":
            _show_findings(body.get("diagnostics", []), files, local)
            print("scn: the workspace has errors; nothing was deployed", file=sys.stderr)
        return EXIT_REFUSED
    if status != 201:
        return _problem(status, body)
    if args.format == "text":
        if body["warnings"]:
            _show_findings(body["warnings"], files, local)
        versions = body["versions"]
        print(_table([[name, str(v)] for name, v in sorted(versions.items())], ["scenario", "version"]), end="")
        drafts = " as drafts: no run starts on them until `scn publish`" if args.draft else ""
        print(f"uploaded {len(body['files'])} file(s){drafts}; {len(body['warnings'])} warning(s)")
    return EXIT_OK


def runs(args: argparse.Namespace) -> int:
    names = ("scenario", "contact", "status", "step", "after", "limit")
    params = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    status, body = _call(args, "GET", "/api/runs", params=params)
    if status != 200:
        return _problem(status, body)
    if args.format == "json":
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return EXIT_OK
    rows = [[str(r["id"]), r["scenario"], r["contact_id"], r["status"], r["step"] or "-", _when(r["wake_at"])]
            for r in body["items"]]  # fmt: skip
    print(_table(rows, ["run", "scenario", "contact", "status", "step", "wakes (UTC)"]), end="")
    if body.get("next") is not None:
        print(f"more: scn runs --after {body['next']}")
    return EXIT_OK


def show_run(args: argparse.Namespace) -> int:
    status, body = _call(args, "GET", f"/api/runs/{args.id}")
    if status != 200:
        return _problem(status, body)
    if args.format == "json":
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"run {body['id']}: {body['scenario']} v{body['version']} for {body['contact_id']}: {body['status']}"
          + (f" at {body['step']}" if body["step"] else "")
          + (f", wakes {_when(body['wake_at'])} UTC" if body["wake_at"] else "")
          + (f" ({body['reason']})" if body.get("reason") else ""))  # fmt: skip
    if body["variables"]:
        print("variables: " + json.dumps(body["variables"], ensure_ascii=False))
    rows = [[_when(t["at"]), t["step"], t["name"], t["outcome"], t["detail"] or ""] for t in body["trace"]]
    print(_table(rows, ["time (UTC)", "step", "what", "outcome", "why"]), end="")
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("since", args.since), ("until", args.until)) if v}
    status, body = _call(args, "GET", f"/api/reports/{args.scenario}", params=params)
    if status != 200:
        return _problem(status, body)
    if args.format == "json":
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return EXIT_OK

    def cells(label: list[str], f: dict[str, Any]) -> list[str]:
        revenue = ", ".join(f"{v} {c}".strip() for c, v in f["revenue"].items()) or "0"

        def rate(x: float | None) -> str:
            return f"{x * 100:.1f}%" if x is not None else "-"

        return [*label, *(str(f[k]) for k in ("sent", "delivered", "bounced", "failed", "opened", "clicked",
                                              "unsubscribed", "ordered")), revenue, rate(f["ctr"]),
                rate(f["conversion"])]  # fmt: skip

    print(f"{body['scenario']}: messages sent {_when(body['since'])} to {_when(body['until'])} UTC; "
          f"orders attributed within {body['attribution_window_h']:g}h")  # fmt: skip
    header = ["step", "variant", "sent", "deliv.", "bounced", "failed", "opened", "clicked", "unsub.", "orders",
              "revenue", "CTR", "conv."]  # fmt: skip
    rows = [cells([r["step"] + (f" {r['template']}" if r["template"] else ""), r["variant"] or "-"], r)
            for r in body["rows"]]  # fmt: skip
    rows.append(cells(["total", ""], body["totals"]))
    print(_table(rows, header), end="")
    return EXIT_OK


def promote(args: argparse.Namespace) -> int:
    status, body = _call(args, "POST", f"/api/scenarios/{args.scenario}/promote", json={"variant": args.variant})
    if status != 201:
        return _problem(status, body)
    version = body["versions"].get(args.scenario)
    print(f"{args.scenario}: variant {args.variant} takes every new run from version {version}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = sub.add_parser("upload", help="upload a workspace to a server (checked there first)")
    p.add_argument("paths", nargs="+", help=".scn files or directories (their templates and pools go along)")
    p.add_argument("--draft", action="store_true", help="new versions are drafts until `scn publish`")
    add_connection(p)
    p.set_defaults(run=upload)

    p = sub.add_parser("runs", help="list runs on a server")
    for name in ("scenario", "contact", "status", "step"):
        p.add_argument(f"--{name}")
    p.add_argument("--after", type=int)
    p.add_argument("--limit", type=int, default=50)
    add_connection(p)
    p.set_defaults(run=runs)

    p = sub.add_parser("run", help="one run on a server: where it is and every decision with its reason")
    p.add_argument("id", type=int)
    add_connection(p)
    p.set_defaults(run=show_run)

    p = sub.add_parser("promote", help="make the winning variant of an A/B split take every new run (a new version)")
    p.add_argument("scenario")
    p.add_argument("variant")
    add_connection(p)
    p.set_defaults(run=promote)

    p = sub.add_parser("report", help="a scenario's report: sent, opened, clicked, orders, revenue")
    p.add_argument("scenario")
    p.add_argument("--since", help="messages sent from (a date or time; default 30 days ago)")
    p.add_argument("--until", help="messages sent before (default now)")
    add_connection(p)
    p.set_defaults(run=report)
