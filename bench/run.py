"""Every benchmark in one command, and the summary table of docs/BENCHMARKS.md.

Runs, each in its own process (one process tree), on this machine:

  fsync          the disk's fsync latency, first, since it decides what commits cost
  P5  language   parse + check, beside the parser before Lark's runtime (bench_language.py)
  P2–P4 runtime  waits vs huey, step transitions vs raw UPDATE, a million sleeping runs
                 under `scn worker` and `scn serve` (bench_runtime.py)
  P1  http       event ingest over HTTP vs raw inserts and the bare HTTP stack (bench_http.py)
  P6  email      the sender vs a bare aiosmtplib loop (bench_email.py)
  E2E            event in, mail out: `scn serve` vs a hand-written pipeline (bench_e2e.py)
  B1  broadcast  a mail to 100,000 contacts: runs made, mails rendered, handed to SMTP vs
                 a bare aiosmtplib loop (bench_broadcast.py)
  S   scale      the store at 10,000, 100,000 and 1,000,000 rows: reads, the frequency
                 cap, per-event cost, the segment sweep, console pages (bench_scale.py)
  B   backtest   a month of history for 100,000 contacts replayed through a new version,
                 beside the live engine's events/s (bench_backtest.py)
  PG  postgresql events and due runs by 1, 2 and 4 engine processes on one PostgreSQL
                 database vs a raw asyncpg loop of the same SQL, and SQLite (bench_pg.py)

then writes the figures to bench/results/*.json and (full runs only) rewrites the summary
between the `<!-- summary -->` markers of docs/BENCHMARKS.md: each figure the median of several runs
(three; one with --quick), its min–max spread, and its ratio to the reference measured
in the same run. The analysis below the summary is written by people and left alone.

Run: make bench (about 10 minutes, then the backtest's month of 100,000 contacts: two
passes of the engine over it, 20 to 45 minutes by the machine's load, then PostgreSQL's,
about 4 minutes, when its server binaries are installed), make bench-quick
(about a minute: smaller sizes, one run each; printed, not written into the page).
`python bench/run.py --only backtest,pg` runs some steps and takes the rest from
bench/results/; the summary then names when, at what load and on which commit each step ran.
Needs: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- summary -->", "<!-- /summary -->"
STEPS = [
    ("fsync", ["bench/fsync.py"]),
    ("language", ["bench/bench_language.py"]),
    ("runtime", ["bench/bench_runtime.py"]),
    ("http", ["bench/bench_http.py"]),
    ("email", ["bench/bench_email.py"]),
    ("e2e", ["bench/bench_e2e.py"]),
    ("broadcast", ["bench/bench_broadcast.py"]),
    ("scale", ["bench/bench_scale.py"]),
    ("backtest", ["bench/bench_backtest.py"]),
    ("pg", ["bench/bench_pg.py"]),
]


def run_step(name: str, command: list[str], quick: bool, out: Path) -> float:
    started = time.perf_counter()
    extra = ["--quick"] if quick and name != "fsync" else []
    print(f"==> {name}", flush=True)
    load_before = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    subprocess.run([sys.executable, *command, *extra, "--json", str(out)], cwd=ROOT, check=True)
    took = time.perf_counter() - started
    meta = {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(took, 1),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "commit": commit.stdout.strip() or "unknown",
    }
    meta_path(out).write_text(json.dumps(meta), encoding="utf-8")
    return took


def meta_path(out: Path) -> Path:
    """When, how long, at what load and on which commit a step's figures were measured."""
    return out.with_name(out.stem + ".meta.json")


def provenance(names: list[str], suffix: str) -> str:
    """One line per step, so a summary assembled from several invocations says so."""
    parts = []
    for name in names:
        path = meta_path(RESULTS / f"{name}{suffix}.json")
        if not path.exists():
            continue
        meta = json.loads(path.read_text(encoding="utf-8"))
        when = dt.datetime.fromisoformat(meta["finished"])
        parts.append(
            f"{name} {when:%Y-%m-%d %H:%M} ({meta['seconds']:.0f} s, load {meta['load'][0]:g}→{meta['load'][1]:g}, "
            f"{meta['commit']})"
        )
    return "Each step, finished at (UTC): " + "; ".join(parts) + "." if parts else ""


def spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if len(values) > 1 else "one run"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def rows(results: dict[str, Any]) -> list[list[str]]:
    table: list[list[str]] = []
    fs = results["fsync"]
    table.append(["fsync of 4 KiB", f"{fs['median_s'] * 1000:.2f} ms", f"p99 {fs['p99_s'] * 1000:.2f} ms", "", "",
                  "", "the floor under every commit"])  # fmt: skip
    http = results["http"]
    floor = http.get("floor", {})
    for clients, f in floor.items():
        table.append([f"P1 the HTTP stack alone, {clients} client(s)", f"{f['per_s']:,.0f} events/s",
                      spread([http["count"] / s for s in f["runs"]], "{:,.0f}"), "", "", "",
                      "the floor: decode and answer, store nothing"])  # fmt: skip
    for layout, label, judged in (("clients", "", True), ("single_process", ", `--single-process`", False)):
        for clients, f in http.get(layout, {}).items():
            per = [http["count"] / s for s in f.get("processed_runs", f["scn_runs"])]
            table.append([f"P1 ingest over HTTP, {clients} client(s){label}: all processed",
                          f"{f.get('processed_per_s', f['scn_per_s']):,.0f} events/s",
                          spread(per, "{:,.0f}") + f"; acked {f['scn_per_s']:,.0f}/s ({f.get('ack_ratio', 0):.2f}×)",
                          f"raw sqlite3 {f['raw_per_s']:,.0f}/s", f"{f['ratio']:.2f}×", "≥ 0.5×" if judged else "",
                          verdict(f["ratio"] >= 0.5) if judged else "for comparison"])  # fmt: skip
            if "bound" in f:
                table.append([f"P1 best ratio the HTTP stack allows, {clients} client", "", "", "",
                              f"{f['bound']:.2f}×", "", "raw / (raw + floor), one client"])  # fmt: skip
    r1 = results["runtime"].get("R1")
    for batch, f in (r1 or {}).get("feeds", {}).items():
        how = "one event (task) a call" if batch == "1" else f"{batch} a call"
        totals = [r["total_s"] for r in f["scn_runs"]]
        table.append([f"P2 {f['count']:,} runs due 1 s after acceptance, {how}", f"{f['scn']['total_s']:.2f} s",
                      spread(totals, "{:.2f}"), f"huey {f['huey']['total_s']:.2f} s", f"{f['speedup']:.1f}×",
                      "≥ 3×", verdict(f["speedup"] >= 3)])  # fmt: skip
        p99s = [r["p99_ms"] for r in f["scn_runs"]]
        table.append([f"P2 p99 lateness from acceptance, {how}", f"{f['scn']['p99_ms']:.0f} ms",
                      spread(p99s, "{:.0f}"), f"huey {f['huey']['p99_ms']:.0f} ms", "", "≤ 250 ms",
                      verdict(f["scn"]["p99_ms"] <= 250)])  # fmt: skip
    r2 = results["runtime"].get("R2")
    if r2:
        per = [r2["count"] / s for s in r2["scn_runs"]]
        table.append(["P3 step transitions that write state", f"{r2['scn_per_s']:,.0f}/s", spread(per, "{:,.0f}"),
                      f"raw sqlite3, same work {r2['raw_per_s']:,.0f}/s", f"{r2['ratio']:.2f}×", "≥ 0.3×",
                      verdict(r2["ratio"] >= 0.3)])  # fmt: skip
    for r3 in results["runtime"].get("R3", []):
        command = f"`scn {r3.get('command', 'worker')}`"
        each = ", ".join(f"{role} {mb:.0f}" for role, mb in r3.get("rss_mb_by_process", {}).items())
        table.append([f"P4 RSS, {r3['runs']:,} sleeping runs, {command}", f"{r3['rss_mb']:.0f} MB",
                      f"max {r3['rss_max_mb']:.0f} MB" + (f" ({each})" if "," in each else ""), "", "",
                      "≤ 150 MB, flat", verdict(r3["rss_max_mb"] <= 150)])  # fmt: skip
        table.append([f"P4 restart to ready, {r3['runs']:,} runs, {command}", f"{r3['ready_s']:.2f} s",
                      f"max {r3['ready_max_s']:.2f} s", "", "", "≤ 5 s", verdict(r3["ready_max_s"] <= 5)])  # fmt: skip
    lang = results["language"]
    old = lang.get("old", {})  # the parser before scn parsed with Lark's runtime, same run
    for key, label, target in (("L1_parse_check_200_lines_s", "P5 parse + check, 200 lines, warm", 0.010),
                               ("L2_cli_cached_s", "P5 1000-file workspace with templates, warm", 2.0),
                               ("L2_workspace_1000_files_s", "P5 the same, warm, in a process that checked it", 0),
                               ("L2_cold_after_install_s", "P5 the same, cold: after install", 4.0),
                               ("L2_cold_templates_changed_s", "P5 the same, cold: templates changed", 4.0),
                               ("L3_cold_check_cached_s", "P5 `scn check`, cold process", 0.3)):  # fmt: skip
        if key not in lang:
            continue
        f = lang[key]

        def shown(v: float, seconds: bool = key.startswith("L2")) -> str:
            return f"{v:.2f} s" if seconds else f"{v * 1000:.1f} ms"

        references = [f"old parser {shown(old[key]['median'])}"] if key in old else []
        if key.startswith("L3"):
            references.append(f"`python -c pass` {lang['L3_python_pass_s']['median'] * 1000:.0f} ms")
        ratio = f"{f['median'] / old[key]['median']:.2f}× the old" if key in old else ""
        table.append([label, shown(f["median"]), f"{shown(f['min'])}–{shown(f['max'])}", ", ".join(references),
                      ratio, f"≤ {shown(target)}" if target else "",
                      verdict(f["median"] <= target) if target else "for comparison"])  # fmt: skip
    mail = results["email"]
    per = [mail["count"] / s for s in mail["scn_runs"]]
    table.append([f"P6 email, {mail['connections']} connections", f"{mail['scn_per_s']:,.0f}/s", spread(per, "{:,.0f}"),
                  f"bare aiosmtplib {mail['bare_per_s']:,.0f}/s", f"{mail['ratio']:.2f}×", "≥ 0.8×",
                  verdict(mail["ratio"] >= 0.8)])  # fmt: skip
    for feed in results.get("e2e", {}).get("feeds", []):
        if "ratio" not in feed:
            continue
        scn, ref = feed["scn"], feed["reference"]
        how = f"requests of {feed['batch']} over {feed['clients']} connection(s)"
        table.append([f"E2E {feed['count']:,} events to the inbox, {how}", f"{scn['events_per_s']:,.0f} events/s",
                      spread(scn["events_per_s_runs"], "{:,.0f}"), f"hand-written {ref['events_per_s']:,.0f}/s",
                      f"{feed['ratio']:.2f}×", "≥ 0.9×", verdict(feed["ratio"] >= 0.9)])  # fmt: skip
        table.append([f"E2E CPU per event, {how}", f"{scn['cpu_per_event_ms']['all']:.2f} ms",
                      spread(scn["cpu_all_runs"], "{:.2f}"),
                      f"hand-written {ref['cpu_per_event_ms']['all']:.2f} ms", f"{feed['cpu_ratio']:.2f}×",
                      "≤ 1.3×", verdict(feed["cpu_ratio"] <= 1.3)])  # fmt: skip
    table += broadcast_rows(results.get("broadcast"))
    table += scale_rows(results.get("scale"))
    table += backtest_rows(results.get("backtest"))
    table += pg_rows(results.get("pg"))
    return table


def pg_rows(pg: dict[str, Any] | None) -> list[list[str]]:
    """Each phase on PostgreSQL by 1, 2 and 4 engines beside the raw asyncpg loop, and SQLite."""
    if not pg or "setups" not in pg:
        return []
    table: list[list[str]] = []
    setups = pg["setups"]
    for phase in ("events", "due runs"):
        sqlite = next(s for s in setups if s["store"] == "sqlite")[phase]
        table.append([f"PG {phase} per s, SQLite, 1 engine", f"{sqlite['per_s']:,.0f}/s",
                      spread(sqlite["per_s_runs"], "{:,.0f}"), "", "", "", "for comparison"])  # fmt: skip
        for scn in (s for s in setups if s["store"] == "postgresql"):
            raw = next(s for s in setups if s["store"] == "raw asyncpg" and s["engines"] == scn["engines"])
            table.append([f"PG {phase} per s, PostgreSQL, {scn['engines']} engine(s)", f"{scn[phase]['per_s']:,.0f}/s",
                          spread(scn[phase]["per_s_runs"], "{:,.0f}"), f"raw asyncpg {raw[phase]['per_s']:,.0f}/s",
                          f"{scn['ratio_to_raw'][phase]:.2f}×", "", "for comparison"])  # fmt: skip
    return table


def backtest_rows(backtest: dict[str, Any] | None) -> list[list[str]]:
    """The backtest's replay beside the live engine, and its whole time against the target."""
    if not backtest:
        return []
    b, live = backtest["backtest"], backtest["live"]
    return [
        [f"B backtest, a month of {backtest['contacts']:,} contacts: events replayed", f"{b['events_per_s']:,.0f}/s",
         spread([b["events"] / s for s in b["seconds_runs"]], "{:,.0f}"),
         f"live engine {live['events_per_s']:,.0f}/s ({live['contacts']:,} contacts)", f"{backtest['ratio']:.2f}×",
         "", "for comparison"],
        [f"B backtest, a month of {backtest['contacts']:,} contacts ({b['events']:,} events): time",
         f"{b['seconds']:.0f} s", spread(b["seconds_runs"], "{:.0f}"), "", "", f"≤ {backtest['target_s']:.0f} s",
         verdict(b["seconds"] <= backtest["target_s"])],
    ]  # fmt: skip


#: A broadcast to 100,000 contacts is built and queued in seconds (issue 15).
BROADCAST_QUEUE_TARGET_S = 10.0


def broadcast_rows(b: dict[str, Any] | None) -> list[list[str]]:
    """B1: how fast a broadcast's audience becomes runs, mails, and mails handed to SMTP."""
    if not b:
        return []
    n = b["contacts"]
    queued = n / b["queued_per_s"]
    return [
        [f"B1 broadcast to {n:,} contacts: runs made and queued", f"{b['queued_per_s']:,.0f} contacts/s",
         spread(b["queued_per_s_runs"], "{:,.0f}"), f"all {n:,} in {queued:.1f} s", "",
         f"100,000 in ≤ {BROADCAST_QUEUE_TARGET_S:.0f} s",
         verdict(100_000 / b["queued_per_s"] <= BROADCAST_QUEUE_TARGET_S)],
        [f"B1 broadcast to {n:,} contacts: send steps into the outbox", f"{b['outbox_per_s']:,.0f} mails/s",
         spread(b["outbox_per_s_runs"], "{:,.0f}"), "", "", "", "for comparison"],
        [f"B1 broadcast: {b['smtp_count']:,} of its mails handed to SMTP, {b['connections']} connections",
         f"{b['smtp_per_s']:,.0f}/s", spread(b["smtp_per_s_runs"], "{:,.0f}"),
         f"bare aiosmtplib {b['bare_per_s']:,.0f}/s", f"{b['smtp_ratio']:.2f}×", "≥ 0.8×",
         verdict(b["smtp_ratio"] >= 0.8)],
    ]  # fmt: skip


def scale_rows(scale: dict[str, Any] | None) -> list[list[str]]:
    """The store at growing sizes: each read and the per-event cost at each size."""
    if not scale:
        return []
    table: list[list[str]] = []
    sizes = list(scale["sizes"])
    last = sizes[-1]
    read = scale["targets"]["read_ms"]
    for key, label, target in (("cap_check_ms", "frequency cap check", scale["targets"]["cap_ms"]),
                               ("step_counts_ms", "step counts of a scenario", read),
                               ("report_all_ms", "30-day report, every scenario", read),
                               ("report_by_day_ms", "30-day report of a scenario, by day", read),
                               ("metrics_ms", "/metrics counts", read),
                               ("per_event_ms", "engine time per order.paid event", None)):  # fmt: skip
        for size in sizes:
            f = scale["sizes"][size][key]
            judged = target is not None and size == last
            table.append([f"S {label}, {int(size):,} rows", f"{f['median']:.3f} ms",
                          f"{f['min']:.3f}–{f['max']:.3f}", "", "", f"< {target:g} ms" if judged else "",
                          verdict(f["median"] < target) if judged and target else ""])  # fmt: skip
    ratio = scale["per_event_ratio"]
    cpu = scale.get("per_event_cpu_ratio")
    table.append([f"S per-event cost, {int(last):,} vs {int(sizes[0]):,} rows", "",
                  f"CPU per event {cpu:.2f}×" if cpu is not None else "", "", f"{ratio:.2f}×",
                  f"≤ {scale['targets']['per_event_ratio']}×",
                  verdict(ratio <= scale["targets"]["per_event_ratio"])])  # fmt: skip
    for size in sizes:
        sweep = scale["sizes"][size]["sweep"]
        table.append([f"S segment sweep an hour on, {int(size):,} contacts", f"{sweep['sweep_hour_s'] * 1000:.0f} ms",
                      f"{sweep['sweep_hour_contacts']:,.0f} looked at", f"everyone: {sweep['sweep_full_s']:.1f} s",
                      "", "", ""])  # fmt: skip
    for size, pages in scale.get("pages", {}).items():
        slowest = max(pages.items(), key=lambda kv: kv[1]["median_ms"])
        judged = size == last
        table.append([f"S slowest console page, {int(size):,} rows (`{slowest[0]}`)",
                      f"{slowest[1]['median_ms']:.0f} ms", f"slowest request {slowest[1]['max_ms']:.0f} ms", "", "",
                      f"< {read:g} ms" if judged else "",
                      verdict(slowest[1]["median_ms"] < read) if judged else ""])  # fmt: skip
    return table


def summary(
    results: dict[str, Any], quick: bool, took: dict[str, float], when: dt.datetime, steps_line: str = ""
) -> str:
    header = ["Figure", "scn (median)", "Spread", "Reference, same run", "Ratio", "Target", ""]
    command = f"python bench/run.py{' --quick' if quick else ''}"
    how = (
        f"Assembled {when:%Y-%m-%d %H:%M} UTC from runs of `{command} --only`"
        if steps_line
        else f"Measured {when:%Y-%m-%d %H:%M} UTC by `{command}`"
    )
    lines = [
        START,
        f"{how} "
        f"on {os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (f", in {sum(took.values()):.0f} s" if took else "")
        + (" — **quick mode: small sizes, one run each; not the figures to quote**" if quick else "")
        + ".",
        *([steps_line] if steps_line else []),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows(results)),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="under a minute: smaller sizes, one run each")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    parser.add_argument("--render", action="store_true", help="only render the summary from bench/results/")
    parser.add_argument(
        "--only",
        metavar="STEP,...",
        help="run only these steps and take the others' figures from bench/results/ (the summary says when "
        f"each was measured); steps: {', '.join(name for name, _ in STEPS)}",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else {name for name, _ in STEPS}
    if unknown := only - {name for name, _ in STEPS}:
        parser.error(f"unknown step(s) {', '.join(sorted(unknown))}; the steps are {', '.join(n for n, _ in STEPS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    took: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name, command in STEPS:
        out = RESULTS / f"{name}{suffix}.json"
        if not args.render and name in only:
            took[name] = run_step(name, command, args.quick, out)
        if out.exists():  # PostgreSQL's figures are rendered when there are some
            results[name] = json.loads(out.read_text(encoding="utf-8"))
    if missing := [name for name, _ in STEPS if name not in results and name != "pg"]:
        print(f"no figures yet for {', '.join(missing)} (run them with --only): no summary written")
        return 0
    newest = max(p.stat().st_mtime for p in (RESULTS / f"{name}{suffix}.json" for name, _ in STEPS) if p.exists())
    assembled = bool(args.render or args.only)
    text = summary(
        results,
        args.quick,
        {} if assembled else took,
        dt.datetime.fromtimestamp(newest, dt.UTC),
        provenance([name for name, _ in STEPS], suffix) if assembled else "",
    )
    print("\n" + text)
    if not args.no_doc and not args.quick:  # quick figures are for development, never for the page
        doc = DOC.read_text(encoding="utf-8")
        if START in doc and END in doc:
            doc = doc[: doc.index(START)] + text + doc[doc.index(END) + len(END) :]
        else:
            head, _, rest = doc.partition("\n## ")
            doc = f"{head.rstrip()}\n\n{text}\n\n## {rest}"
        DOC.write_text(doc, encoding="utf-8")
        print(f"\nwrote the summary into {DOC.relative_to(ROOT)}")
    print(f"total {sum(took.values()):.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()))

    return 0


if __name__ == "__main__":
    sys.exit(main())
