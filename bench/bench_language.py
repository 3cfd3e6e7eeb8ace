"""Benchmark of the language front end: parse + check.

Measures, side by side in one run:
  L1  parse + check of a generated 200-line file, warm (target <= 10 ms);
  L2  load + parse + check of a 1000-file workspace (target <= 2 s);
  L3  `scn check` on one file in a cold process (target <= 0.3 s), next to
      `python -c pass` and next to the same check without the parse-table cache.

Run: python bench/bench_language.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scn.grammar import parse
from scn.interpreter.checker import check_workspace
from scn.interpreter.workspace import load_workspace, workspace_from_texts

HEADER = """currency UAH
attribute vip_since: date
list hot_leads "Hot leads"
list coupon_holders "Coupon holders"
segment repeat "Repeat buyers" where contact.orders.count >= 2
segment graduates "Graduates" where progress("course-x") >= 90%
coupon SAVE10 discount 10% code "SAVE10" for list coupon_holders valid 24h
coupon GIFT discount 100 UAH generated "GIFT-{XXXXXXXX}" valid 36h
program cash "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 3% up to 3000 UAH
  tier 5% above 3000 UAH
end
group newcomers "New" with program cash default
template note sms
  from "Shop"
  fallback uk
  lang uk
    text "Привіт, {{ contact.first_name }}!"
  lang en
    text "Hi {{ contact.first_name }}!"
end
template push_note push
  title "Hi {{ contact.first_name }}"
  text "We have something for you"
end
"""

SCENARIO = """
scenario flow_{n} "Flow {n}"
  on order.paid where order.total > {n}00 UAH and order.offer in ["a", "b"]
  entry at most 1 per order
  frequency at most 2 per 7d
  exit when order.refunded
  quiet hours 21:00 to 09:00
  wait 30m
  stop if order.cancelled or not contact.subscribed.sms
  add to list hot_leads
  if contact.orders.count >= 3 and contact.lifetime_spend > 1000 UAH
    send sms note
  elif progress("course-x") >= 50%
    send push push_note
  else
    wait until 10:00
  end
  bands order.total
    below 500 UAH
      send sms note
    from 500 UAH to 2000 UAH
      issue coupon SAVE10
      send sms note with coupon SAVE10
    from 2000 UAH
      award bonus
  end
  split
    variant a 45%
      send push push_note
    variant b 45%
      wait for order.paid where order.total > 10 UAH up to 3d
      on timeout
        remove from list hot_leads
      end
    control 10%
  end
  set attribute vip_since = today()
end
"""


def two_hundred_lines() -> str:
    """Declarations and whole scenarios, topped up with lists to exactly 200 lines."""
    text = HEADER
    n = 1
    while (text + SCENARIO.format(n=n)).count("\n") <= 200:
        text += SCENARIO.format(n=n)
        n += 1
    while text.count("\n") < 200:
        text += f'list extra_{text.count(chr(10))} "Extra list"\n'
    return text


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "runs": len(ordered),
    }


def run_command(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    text = two_hundred_lines()
    assert parse(text, "bench.scn").ok
    checked = check_workspace(workspace_from_texts({"bench.scn": text}))
    assert checked.errors == 0, [d.message for d in checked.diagnostics][:5]

    def parse_and_check() -> None:
        check_workspace(workspace_from_texts({"bench.scn": text}))

    def parse_only() -> None:
        parse(text, "bench.scn")

    for _ in range(5):
        parse_and_check()  # warm up
    repeat = 30 if quick else 200
    results["L1_parse_check_200_lines_s"] = summary(timed(parse_and_check, repeat))
    results["L1_parse_only_200_lines_s"] = summary(timed(parse_only, repeat))
    results["L1_lines"] = text.count("\n")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "shared.scn").write_text(HEADER, encoding="utf-8")
        for n in range(1, 1000):
            (root / f"flow_{n:04d}.scn").write_text(SCENARIO.format(n=n), encoding="utf-8")

        jobs = os.cpu_count() or 1

        def whole_workspace() -> None:
            result = check_workspace(load_workspace([root], jobs=jobs))
            assert result.errors == 0

        def whole_workspace_one_process() -> None:
            result = check_workspace(load_workspace([root], jobs=1))
            assert result.errors == 0

        runs = 2 if quick else 7
        results["L2_jobs"] = jobs
        results["L2_workspace_1000_files_s"] = summary(timed(whole_workspace, runs))
        results["L2_workspace_1000_files_one_process_s"] = summary(timed(whole_workspace_one_process, runs))

        one = root / "one.scn"
        one.write_text(text, encoding="utf-8")
        cache = root / "cache"
        # Measure as users run it: with compiled bytecode (some sandboxes disable it).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(XDG_CACHE_HOME=str(cache), NO_COLOR="1")
        scn = [sys.executable, "-m", "scn", "check", str(one)]
        run_command(scn, env)  # fills the table cache and writes bytecode
        cold_runs = 5 if quick else 15
        bare = [sys.executable, "-c", "pass"]
        results["L3_python_pass_s"] = summary([run_command(bare, env) for _ in range(cold_runs)])
        results["L3_cold_check_cached_s"] = summary([run_command(scn, env) for _ in range(cold_runs)])
        no_cache = {**env, "SCN_GRAMMAR_CACHE": "0"}
        results["L3_cold_check_uncached_s"] = summary(
            [run_command(scn, no_cache) for _ in range(max(3, cold_runs // 3))]
        )
    return results


def report(results: dict[str, Any]) -> str:
    def ms(key: str) -> str:
        r = results[key]
        return f"{r['median'] * 1000:8.1f} ms  (min {r['min'] * 1000:.1f}, max {r['max'] * 1000:.1f}, n={r['runs']})"

    l1 = results["L1_parse_check_200_lines_s"]["median"]
    l2 = results["L2_workspace_1000_files_s"]["median"]
    cold = results["L3_cold_check_cached_s"]["median"]
    bare = results["L3_python_pass_s"]["median"]
    uncached = results["L3_cold_check_uncached_s"]["median"]
    lines = [
        f"L1 parse+check {results['L1_lines']}-line file, warm: {ms('L1_parse_check_200_lines_s')}"
        f"  target <= 10 ms: {'met' if l1 <= 0.010 else 'MISSED'}",
        f"   parse only:                          {ms('L1_parse_only_200_lines_s')}",
        f"L2 1000-file workspace, {results['L2_jobs']} processes:    {ms('L2_workspace_1000_files_s')}"
        f"  target <= 2 s: {'met' if l2 <= 2 else 'MISSED'}",
        f"   the same in one process:             {ms('L2_workspace_1000_files_one_process_s')}",
        f"L3 python -c pass:                      {ms('L3_python_pass_s')}",
        f"   scn check, cold, cached tables:      {ms('L3_cold_check_cached_s')}"
        f"  target <= 300 ms: {'met' if cold <= 0.3 else 'MISSED'}  ({cold / bare:.1f}x python -c pass)",
        f"   scn check, cold, no table cache:     {ms('L3_cold_check_uncached_s')}"
        f"  (the cache saves {(uncached - cold) * 1000:.0f} ms)",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    results = bench(args.quick)
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
