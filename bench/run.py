"""Every benchmark in one command, and the summary table of docs/BENCHMARKS.md.

Runs, each in its own process (one process tree), on this machine:

  fsync          the disk's fsync latency, first, since it decides what commits cost
  P5  language   parse + check, beside the parser before Lark's runtime (bench_language.py)
  P2–P4 runtime  waits vs huey and APScheduler, step transitions vs raw UPDATE, a million
                 sleeping runs (bench_runtime.py)
  P1  http       event ingest over HTTP vs raw inserts and the bare HTTP stack (bench_http.py)
  P6  email      the sender vs a bare aiosmtplib loop (bench_email.py)
  S   scale      the store at 10,000, 100,000 and 1,000,000 rows: reads, the frequency
                 cap, per-event cost, the segment sweep, console pages (bench_scale.py)

then writes the figures to bench/results/*.json and (full runs only) rewrites the summary
between the `<!-- summary -->` markers of docs/BENCHMARKS.md: each figure the median of several runs
(three; one with --quick), its min–max spread, and its ratio to the reference measured
in the same run. The analysis below the summary is written by people and left alone.

Run: make bench (about 10 minutes), make bench-quick (under a minute: smaller sizes, one
run each; printed, not written into the page). Needs: pip install -e ".[bench]".
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
    ("scale", ["bench/bench_scale.py"]),
]


def run_step(name: str, command: list[str], quick: bool, out: Path) -> float:
    started = time.perf_counter()
    extra = ["--quick"] if quick and name != "fsync" else []
    print(f"==> {name}", flush=True)
    subprocess.run([sys.executable, *command, *extra, "--json", str(out)], cwd=ROOT, check=True)
    return time.perf_counter() - started


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
            per = [http["count"] / s for s in f["scn_runs"]]
            table.append([f"P1 ingest over HTTP, {clients} client(s){label}", f"{f['scn_per_s']:,.0f} events/s",
                          spread(per, "{:,.0f}") + f"; all processed {f['drain_s']:.2f} s after",
                          f"raw sqlite3 {f['raw_per_s']:,.0f}/s", f"{f['ratio']:.2f}×", "≥ 0.5×" if judged else "",
                          verdict(f["ratio"] >= 0.5) if judged else "for comparison"])  # fmt: skip
            if "bound" in f:
                table.append([f"P1 best ratio the HTTP stack allows, {clients} client", "", "", "",
                              f"{f['bound']:.2f}×", "", "raw / (raw + floor), one client"])  # fmt: skip
    r1 = results["runtime"].get("R1")
    if r1:
        totals = [r["total_s"] for r in r1["scn_runs"]]
        peer = min(("huey", r1["huey"]["total_s"]), ("APScheduler", r1["apscheduler"]["total_s"]), key=lambda p: p[1])
        table.append([f"P2 {r1['count']:,} runs due after 1 s", f"{r1['scn']['total_s']:.2f} s",
                      spread(totals, "{:.2f}"),
                      f"huey {r1['huey']['total_s']:.2f} s, APScheduler {r1['apscheduler']['total_s']:.2f} s",
                      f"{r1['speedup']:.1f}× the faster ({peer[0]})", "≥ 3×",
                      verdict(r1["speedup"] >= 3)])  # fmt: skip
        p99s = [r["p99_ms"] for r in r1["scn_runs"]]
        table.append(["P2 p99 lateness", f"{r1['scn']['p99_ms']:.0f} ms", spread(p99s, "{:.0f}"), "", "", "≤ 100 ms",
                      verdict(r1["scn"]["p99_ms"] <= 100)])  # fmt: skip
    r2 = results["runtime"].get("R2")
    if r2:
        per = [r2["count"] / s for s in r2["scn_runs"]]
        table.append(["P3 step transitions that write state", f"{r2['scn_per_s']:,.0f}/s", spread(per, "{:,.0f}"),
                      f"raw batched UPDATE {r2['raw_per_s']:,.0f}/s", f"{r2['ratio']:.2f}×", "≥ 0.3×",
                      verdict(r2["ratio"] >= 0.3)])  # fmt: skip
    for r3 in results["runtime"].get("R3", []):
        table.append([f"P4 RSS, {r3['runs']:,} sleeping runs", f"{r3['rss_mb']:.0f} MB",
                      f"max {r3['rss_max_mb']:.0f} MB", "", "", "≤ 150 MB, flat",
                      verdict(r3["rss_max_mb"] <= 150)])  # fmt: skip
        table.append([f"P4 restart to ready, {r3['runs']:,} runs", f"{r3['ready_s']:.2f} s",
                      f"max {r3['ready_max_s']:.2f} s", "", "", "≤ 5 s", verdict(r3["ready_max_s"] <= 5)])  # fmt: skip
    lang = results["language"]
    old = lang.get("old", {})  # the parser before scn parsed with Lark's runtime, same run
    for key, label, target in (("L1_parse_check_200_lines_s", "P5 parse + check, 200 lines, warm", 0.010),
                               ("L2_workspace_1000_files_s", "P5 1000-file workspace", 2.0),
                               ("L3_cold_check_cached_s", "P5 `scn check`, cold process", 0.3)):  # fmt: skip
        f = lang[key]

        def shown(v: float, seconds: bool = target >= 1) -> str:
            return f"{v:.2f} s" if seconds else f"{v * 1000:.1f} ms"

        references = [f"old parser {shown(old[key]['median'])}"] if key in old else []
        if key.startswith("L3"):
            references.append(f"`python -c pass` {lang['L3_python_pass_s']['median'] * 1000:.0f} ms")
        ratio = f"{f['median'] / old[key]['median']:.2f}× the old" if key in old else ""
        table.append([label, shown(f["median"]), f"{shown(f['min'])}–{shown(f['max'])}", ", ".join(references),
                      ratio, f"≤ {shown(target)}", verdict(f["median"] <= target)])  # fmt: skip
    mail = results["email"]
    per = [mail["count"] / s for s in mail["scn_runs"]]
    table.append([f"P6 email, {mail['connections']} connections", f"{mail['scn_per_s']:,.0f}/s", spread(per, "{:,.0f}"),
                  f"bare aiosmtplib {mail['bare_per_s']:,.0f}/s", f"{mail['ratio']:.2f}×", "≥ 0.8×",
                  verdict(mail["ratio"] >= 0.8)])  # fmt: skip
    table += scale_rows(results.get("scale"))
    return table


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
    table.append([f"S per-event cost, {int(last):,} vs {int(sizes[0]):,} rows", "", "", "", f"{ratio:.2f}×",
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


def summary(results: dict[str, Any], quick: bool, took: dict[str, float], when: dt.datetime) -> str:
    header = ["Figure", "scn (median)", "Spread", "Reference, same run", "Ratio", "Target", ""]
    lines = [
        START,
        f"Measured {when:%Y-%m-%d %H:%M} UTC by `python bench/run.py{' --quick' if quick else ''}` "
        f"on {os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (f", in {sum(took.values()):.0f} s" if took else "")
        + (" — **quick mode: small sizes, one run each; not the figures to quote**" if quick else "")
        + ".",
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
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    took: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name, command in STEPS:
        out = RESULTS / f"{name}{suffix}.json"
        if not args.render:
            took[name] = run_step(name, command, args.quick, out)
        results[name] = json.loads(out.read_text(encoding="utf-8"))
    newest = max((RESULTS / f"{name}{suffix}.json").stat().st_mtime for name, _ in STEPS)
    text = summary(results, args.quick, took, dt.datetime.fromtimestamp(newest, dt.UTC))
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
