"""Benchmark E2E of docs/BENCHMARKS.md: event in, mail out, against a hand-written pipeline.

N `order.paid` events, each for a contact of its own, each causing one templated email
with tracked links (the order's items, links to them and to the shop, an unsubscribe
link, an open pixel), delivered to a real SMTP sink (aiosmtpd, bench/smtp_sink.py, in a
process of its own). Timed from the first POST to the arrival of the last mail at the
sink, alternating, on a fresh database each time:

* scn: `scn serve` as users start it (the API and the sender in one process, the engine
  in a child process; an API key; `--smtp` to the sink, its default 4 connections);
* the reference: bench/e2e_reference.py, a hand-written minimal pipeline doing the same
  work in one process (asyncio HTTP, aiosqlite with the same durability, the same Jinja
  template, HMAC-signed links, aiosmtplib over 4 connections, outcomes committed).

The driver feeds both the same way: requests of --batch events over --clients
keep-alive connections (the full run does requests of 100 and of 1). A warm-up of a
few hundred events and mails goes first, untimed. Reported per side: events/s, CPU
seconds per event of each process (psutil: user + system over the timed part), peak
RSS of each (VmHWM), and the sink's CPU per mail. Targets: scn >= 0.9x the reference's
rate, CPU per event (all of scn's processes) <= 1.3x the reference's.

Run: python bench/bench_e2e.py [--quick] [--count N] [--batch B] [--clients C] [--repeats R]
     [--only scn|reference] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

try:
    import psutil
except ModuleNotFoundError:
    print("bench_e2e.py needs pyproject's `bench` extra (psutil, py-spy): pip install -e '.[bench]'", file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import API_KEY, post_bodies  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET = "bench-secret"

WORKSPACE = """
template thanks email
  from "Shop" <shop@example.com>
  subject "Thank you, {{ contact.first_name }}!"
  html "thanks.html"
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  send email thanks
end
"""

TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Thank you</title></head>
<body style="margin:0;padding:0;background:#f4f4f7;font-family:Arial,sans-serif;color:#222222;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;">
<tr><td style="padding:20px 32px;background:#c05621;"><a href="https://shop.example/" style="color:#ffffff;">Demo Shop</a></td></tr>
<tr><td style="padding:32px;font-size:16px;line-height:1.5;">
<h1 style="margin:0 0 16px;font-size:22px;">Thank you for your order, {{ contact.first_name }}!</h1>
<p>Order {{ order.number }}: {{ order.total|money }}. Here is what you bought:</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">
{% for item in purchased %}
<tr><td style="padding:6px 0;border-bottom:1px solid #eeeeee;">{% if item.url %}<a href="{{ item.url }}">{{ item.name }}</a>{% else %}{{ item.name }}{% endif %} × {{ item.quantity }}</td><td style="padding:6px 0;text-align:right;">{{ item.total|money }}</td></tr>
{% endfor %}
</table>
<p><a href="https://shop.example/orders/{{ order.id }}" style="color:#c05621;">Track your order</a></p>
<p><a href="https://shop.example/sale" style="color:#c05621;">This week's sale: up to 30% off</a></p>
</td></tr>
<tr><td style="padding:16px 32px;font-size:12px;color:#888888;">
You are receiving this email as a customer of Demo Shop. <a href="{{ unsubscribe_url }}">Unsubscribe</a>
</td></tr>
</table>
</body></html>
"""  # noqa: E501

LANGUAGES = ("en", "uk", "pl")
NAMES = ("Olena", "Jan", "Анна", "Zofia")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: What py-spy is given besides the process and the output (--gil).
SPY_OPTIONS: list[str] = []


def py_spy() -> str | None:
    """py-spy beside this Python (its virtual environment's scripts), else on PATH."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def document(i: int, run: str) -> dict[str, Any]:
    """The i-th event: an order of two items paid by a contact of its own."""
    items = [
        {"product_id": "mug", "name": "Mug", "quantity": 2, "price": "75.00", "total": "150.00",
         "url": "https://shop.example/p/mug"},
        {"product_id": "tea", "name": "Green tea", "quantity": 1, "price": "175.50", "total": "175.50",
         "url": "https://shop.example/p/tea"},
    ]  # fmt: skip
    return {
        "type": "order.paid", "key": f"{run}-{i}",
        "contact": {"id": f"{run}-c{i}", "email": f"c{i}@example.com", "first_name": NAMES[i % len(NAMES)],
                    "language": LANGUAGES[i % len(LANGUAGES)]},
        "order": {"id": f"{run}-o{i}", "number": f"N{i}", "total": "325.50", "currency": "UAH", "items": items},
    }  # fmt: skip


async def post_all(port: int, documents: list[dict[str, Any]], batch: int, clients: int) -> float:
    """Posts every document, ``batch`` to a request, over ``clients`` keep-alive
    connections; returns time.monotonic() of the first request."""
    bodies = [json.dumps(documents[s : s + batch] if batch > 1 else documents[s]).encode()
              for s in range(0, len(documents), batch)]  # fmt: skip
    return await post_bodies("127.0.0.1", port, bodies, clients)


class Sink:
    """bench/smtp_sink.py in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, str(HERE / "smtp_sink.py"), str(self.port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.process.stdout is not None and self.process.stdin is not None
        assert self.process.stdout.readline().strip() == "ready"

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def answer(self, prefix: str, timeout: float) -> list[str]:
        """The next line the sink prints that starts with ``prefix`` (its words after it)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("the SMTP sink stopped")
            words = line.split()
            if words[:1] == [prefix]:
                return words[1:]
        raise SystemExit(f"the SMTP sink said no {prefix!r} in time")

    def cpu(self) -> float:
        return psutil.Process(self.process.pid).cpu_times().user + psutil.Process(self.process.pid).cpu_times().system

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def start(command: list[str], port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # Started in the log's directory: `python -m scn` imports scn from its working
        # directory first, which must not be this repository when --compare runs another tree.
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                  env={**os.environ, "SCN_SECRET": SECRET, **env})  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit(f"{command[:4]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def tree(pid: int) -> dict[str, psutil.Process]:
    """The server's processes by role: the first is the one started, then its children."""
    top = psutil.Process(pid)
    found = {"main": top}
    for n, child in enumerate(top.children(recursive=True)):
        found[f"child{n}"] = child
    return found


def cpu_of(processes: dict[str, psutil.Process]) -> dict[str, float]:
    out = {}
    for role, process in processes.items():
        times = process.cpu_times()
        out[role] = times.user + times.system
        if os.environ.get("BENCH_THREADS"):  # CPU seconds of each thread, to see where it goes
            for thread in process.threads():
                out[f"{role}.t{thread.id}"] = thread.user_time + thread.system_time
    return out


def peak_rss_mb(process: psutil.Process) -> float:
    """The process's peak resident memory (VmHWM, Linux), else what it holds now."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float(process.memory_info().rss) / 2**20


#: Sides that run scn from another tree than the installed one (--compare): side -> directory.
TREES: dict[str, Path] = {}


def export_tree(ref: str, directory: Path) -> Path:
    """The repository as of ``ref`` (git archive), to run `scn` from with PYTHONPATH."""
    target = directory / "tree"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def one_run(
    side: str, folder: Path, sink: Sink, count: int, batch: int, clients: int, warm: int, profile: Path | None = None
) -> dict[str, Any]:
    """One side, fresh database: warm-up, then ``count`` events timed to the last mail."""
    port = free_port()
    db = folder / f"{side}-{time.monotonic_ns()}.db"
    public = f"http://127.0.0.1:{port}"
    env = {"PYTHONPATH": str(TREES[side])} if side in TREES else {}
    if side != "reference":
        command = [sys.executable, "-m", "scn", "serve", str(folder / "w"), "--db", str(db), "--port", str(port),
                   "--api-key", API_KEY, "--smtp", f"smtp://127.0.0.1:{sink.port}?starttls=off",
                   "--public-url", public]  # fmt: skip
    else:
        command = [sys.executable, str(HERE / "e2e_reference.py"), "--port", str(port), "--db", str(db),
                   "--smtp-port", str(sink.port), "--workspace", str(folder / "w"), "--api-key", API_KEY,
                   "--secret", SECRET, "--public-url", public]  # fmt: skip
    server = start(command, port, folder / f"{side}.log", env)
    try:
        run = f"{side[0]}{time.monotonic_ns() % 10**9}"
        sample = folder / f"{side}.eml"
        sink.say(f"expect {warm} {sample}")
        asyncio.run(post_all(port, [document(i, run + "w") for i in range(warm)], batch, clients))
        sink.answer("done", 120)
        documents = [document(i, run) for i in range(count)]
        processes = tree(server.pid)
        cpu_before, sink_before = cpu_of(processes), sink.cpu()
        spy = None
        if profile is not None:
            # py-spy (the `bench` extra) samples every process of the server: collapsed
            # stacks, one file per run, to read with bench/profile_stacks.py.
            out = profile / f"{side}-{run}.txt"
            spy_command = py_spy() or "py-spy"  # found by main()
            spy = subprocess.Popen([spy_command, "record", "--pid", str(server.pid), "--subprocesses", "--rate", "250",
                                    "--format", "raw", "--nonblocking", *SPY_OPTIONS, "-o", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(1.0)
        sink.say(f"expect {count}")
        first = asyncio.run(post_all(port, documents, batch, clients))
        accepted = time.monotonic() - first
        last, size = sink.answer("done", 600)
        took = float(last) - first
        cpu_after, sink_after = cpu_of(processes), sink.cpu()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        figures = {
            "events_per_s": count / took,
            "s": took,
            "accepted_s": accepted,
            "mail_kb": int(size) / count / 1024,
            "cpu_per_event_ms": {r: (cpu_after[r] - cpu_before.get(r, 0)) / count * 1000 for r in cpu_after},
            "peak_rss_mb": {role: peak_rss_mb(p) for role, p in processes.items()},
            "sink_cpu_per_mail_ms": (sink_after - sink_before) / count * 1000,
        }
        figures["cpu_per_event_ms"]["all"] = sum(figures["cpu_per_event_ms"][role] for role in processes)
        return figures
    finally:
        server.terminate()
        server.wait(30)


def check_samples(folder: Path) -> None:
    """Both sides sent a mail with the same visible links: tracked the same way."""
    for path in folder.glob("*.eml"):
        side = path.stem
        if path.exists():
            import email
            import email.policy

            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            html_part = mail.get_body(("html",))
            assert html_part is not None, side
            html = html_part.get_content()
            tracked = html.count("/c/")
            assert tracked == 5 and "/o/" in html and "/unsubscribe/" in html, (side, tracked)


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "events_per_s": med([r["events_per_s"] for r in runs]),
        "events_per_s_runs": [r["events_per_s"] for r in runs],
        "cpu_per_event_ms": {k: med([r["cpu_per_event_ms"][k] for r in runs]) for k in runs[0]["cpu_per_event_ms"]},
        "cpu_all_runs": [r["cpu_per_event_ms"]["all"] for r in runs],
        "peak_rss_mb": {k: max(r["peak_rss_mb"][k] for r in runs) for k in runs[0]["peak_rss_mb"]},
        "sink_cpu_per_mail_ms": med([r["sink_cpu_per_mail_ms"] for r in runs]),
        "accepted_s": med([r["accepted_s"] for r in runs]),
        "mail_kb": med([r["mail_kb"] for r in runs]),
        "runs": runs,
    }


def measure(folder: Path, sink: Sink, count: int, batch: int, clients: int, repeats: int, warm: int,
            sides: tuple[str, ...], profile: Path | None = None) -> dict[str, Any]:  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for attempt in range(repeats):
        order = sides[attempt % len(sides) :] + sides[: attempt % len(sides)]  # alternate which goes first
        for side in order:
            figures = one_run(side, folder, sink, count, batch, clients, warm, profile)
            runs[side].append(figures)
            cpu = figures["cpu_per_event_ms"]
            print(f"E2E {side:9} {count:,} events in requests of {batch} over {clients} connection(s): "
                  f"{figures['events_per_s']:,.0f} events/s, CPU {cpu['all']:.2f} ms an event "
                  f"({', '.join(f'{k} {v:.2f}' for k, v in cpu.items() if k != 'all')}), "
                  f"sink {figures['sink_cpu_per_mail_ms']:.2f} ms a mail", flush=True)  # fmt: skip
    check_samples(folder)
    result: dict[str, Any] = {"count": count, "batch": batch, "clients": clients}
    for side in sides:
        result[side] = median_of(runs[side])
    if "before" in sides:
        now, before = result["scn"], result["before"]
        result["before_ratio"] = now["events_per_s"] / before["events_per_s"]
        result["before_cpu_ratio"] = now["cpu_per_event_ms"]["all"] / before["cpu_per_event_ms"]["all"]
        print(f"E2E scn against the compared commit: {result['before_ratio']:.2f}x the events/s, "
              f"{result['before_cpu_ratio']:.2f}x the CPU per event", flush=True)  # fmt: skip
    if "scn" in sides and "reference" in sides:
        scn, ref = result["scn"], result["reference"]
        result["ratio"] = scn["events_per_s"] / ref["events_per_s"]
        result["cpu_ratio"] = scn["cpu_per_event_ms"]["all"] / ref["cpu_per_event_ms"]["all"]
        print(f"E2E requests of {batch}: scn {scn['events_per_s']:,.0f} events/s, reference "
              f"{ref['events_per_s']:,.0f}/s: {result['ratio']:.2f}x (target >= 0.9x); CPU per event "
              f"{scn['cpu_per_event_ms']['all']:.2f} ms against {ref['cpu_per_event_ms']['all']:.2f} ms: "
              f"{result['cpu_ratio']:.2f}x (target <= 1.3x)", flush=True)  # fmt: skip
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 events, requests of 100, one run a side")
    parser.add_argument("--count", type=int)
    parser.add_argument("--batch", type=int, help="events per request (default: 100, then 1 in the full run)")
    parser.add_argument("--clients", type=int, help="concurrent connections (default 4; 16 for requests of 1)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--only", choices=("scn", "reference"))
    parser.add_argument("--compare", metavar="REF", help="also run scn as of this git commit (before/after figures)")
    parser.add_argument("--profile", type=Path, help="sample the servers with py-spy into this directory")
    parser.add_argument("--gil", action="store_true",
                        help="with --profile: only samples in which a thread holds the interpreter")  # fmt: skip
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.profile and py_spy() is None:
        parser.error(f"--profile samples the servers with py-spy, which is not installed beside {sys.executable} "
                     "nor on PATH: pip install -e '.[bench]' (or pip install 'py-spy>=0.4,<0.5')")  # fmt: skip
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        SPY_OPTIONS.extend(["--gil"] if args.gil else [])
    count = args.count or (1_000 if args.quick else 10_000)
    repeats = args.repeats or (1 if args.quick else 3)
    feeds = [(args.batch, args.clients or (4 if args.batch != 1 else 16))] if args.batch else [(100, 4)]
    if not args.batch and not args.quick:
        feeds.append((1, 16))
    sides: tuple[str, ...] = (args.only,) if args.only else ("scn", "reference")
    results: dict[str, Any] = {"count": count, "feeds": []}
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="scn-bench-e2e-") as tmp:
            folder = Path(tmp)
            if args.compare:
                TREES["before"] = export_tree(args.compare, folder)
                sides = ("scn", "before") if args.only == "scn" else (*sides, "before")
                results["compare"] = args.compare
            (folder / "w").mkdir()
            (folder / "w" / "thanks.scn").write_text(WORKSPACE, encoding="utf-8")
            (folder / "w" / "thanks.html").write_text(TEMPLATE, encoding="utf-8")
            for batch, clients in feeds:
                warm = min(300, count)
                results["feeds"].append(
                    measure(folder, sink, count, batch, clients, repeats, warm, sides, args.profile)
                )
    finally:
        sink.close()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
