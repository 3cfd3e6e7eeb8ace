"""Benchmark of the language front end: parse + check, with today's parser and the old one.

Measures, for each of the two parsers, in one run:
  L1  parse + check of a generated 200-line file, warm (target <= 10 ms);
  L2  load + parse + check of a 1000-file workspace: a file of declarations and 999
      scenario files, every fifth of which declares an email template with an HTML
      file of its own (200 HTML templates), checked by `scn check` in a new process:
      warm (the grammar, the files' parses and the templates' outlines cached; target
      <= 2 s) and cold (after install, with an empty cache, and after every template
      changed; target <= 4 s); also parsed and checked without the parse cache in a
      process that did so before, in 2 processes and in one;
  L3  `scn check` on one file in a cold process (target <= 0.3 s), next to
      `python -c pass` and next to the same check without the grammar cache.

Today's parser is Lark's LALR runtime with its contextual lexer and our transformer.
The old one (scn's own lexer and LALR loop over tables Lark analysed) is no longer in
the package: it is taken from git, as grammar/ was at OLD_PARSER_COMMIT, into a
temporary directory, and put in the place of scn.grammar in processes of its own. The
two sides run one after the other, each in a fresh process.

Run: python bench/bench_language.py [--quick] [--json PATH] (--quick: fewer repetitions,
and without the old parser)
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

ROOT = Path(__file__).resolve().parent.parent
#: The last commit whose parser ran its own lexer and LALR loop.
OLD_PARSER_COMMIT = "b7237067317c1642912c43f428d71b93e92165cf"
#: Runs `scn` with the grammar package in the directory given first ("-": the installed one).
LAUNCHER = """
import sys
grammar = sys.argv.pop(1)
if grammar != "-":
    import importlib.util
    import scn
    spec = importlib.util.spec_from_file_location(
        "scn.grammar", grammar + "/__init__.py", submodule_search_locations=[grammar]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["scn.grammar"] = scn.grammar = module
    spec.loader.exec_module(module)
from scn.cli import main
sys.exit(main())
"""

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


#: Every fifth scenario file declares an email template of its own and sends it.
TEMPLATE_DECLARATION = """
template mail_{n} email
  from "Shop" <shop@example.com>
  subject "Thank you, {{{{ contact.first_name }}}}!"
  html "mail_{n}.html"
end
"""

#: The HTML of those templates: an order confirmation (the E2E benchmark's, numbered).
HTML_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Thank you</title></head>
<body style="margin:0;padding:0;background:#f4f4f7;font-family:Arial,sans-serif;color:#222222;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;">
<tr><td style="padding:20px 32px;background:#c05621;"><a href="https://shop.example/">Demo Shop</a></td></tr>
<tr><td style="padding:32px;font-size:16px;line-height:1.5;">
<h1 style="margin:0 0 16px;font-size:22px;">Thank you for your order, {{ contact.first_name }}!</h1>
<p>Order {{ order.number }}: {{ order.total|money }}. Here is what you bought:</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">
{% for item in purchased %}
<tr><td>{% if item.url %}<a href="{{ item.url }}">{{ item.name }}</a>{% else %}{{ item.name }}{% endif %} × {{ item.quantity }}</td><td>{{ item.total|money }}</td></tr>
{% endfor %}
</table>
{% if contact.orders.count >= 3 %}<p>Thank you for being with us: your order number {{ contact.orders.count }}.</p>
{% else %}<p>Welcome!</p>{% endif %}
<p><a href="https://shop.example/orders/{{ order.id }}">Track your order</a></p>
<p><a href="https://shop.example/sale/NUMBER">Offer NUMBER: up to 30% off</a></p>
</td></tr>
<tr><td style="padding:16px 32px;font-size:12px;color:#888888;">
You are receiving this email as a customer of Demo Shop. <a href="{{ unsubscribe_url }}">Unsubscribe</a>
</td></tr>
</table>
</body></html>
"""  # noqa: E501


def write_workspace(root: Path) -> None:
    """The 1000-file workspace of L2 (and its 200 HTML templates) in ``root``."""
    (root / "shared.scn").write_text(HEADER, encoding="utf-8")
    for n in range(1, 1000):
        text = SCENARIO.format(n=n)
        if n % 5 == 0:
            text = TEMPLATE_DECLARATION.format(n=n) + text.replace(
                "  add to list hot_leads\n", f"  add to list hot_leads\n  send email mail_{n}\n"
            )
            (root / f"mail_{n}.html").write_text(HTML_TEMPLATE.replace("NUMBER", str(n)), encoding="utf-8")
        (root / f"flow_{n:04d}.scn").write_text(text, encoding="utf-8")


def touch_templates(root: Path, stamp: int) -> None:
    """Every HTML template changed (a comment), as after an edit of them all."""
    for path in root.glob("mail_*.html"):
        text = path.read_text(encoding="utf-8").split("\n<!-- edit", 1)[0]
        path.write_text(f"{text}\n<!-- edit {stamp} -->\n", encoding="utf-8")


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


def bench(quick: bool, launcher: Path, grammar: str) -> dict[str, Any]:
    """The figures of the parser this process runs (``grammar``: its directory, or "-")."""
    from scn.grammar import parse
    from scn.interpreter.checker import check_workspace
    from scn.interpreter.workspace import load_workspace, workspace_from_texts

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

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as scratch:
        root = Path(tmp)
        write_workspace(root)
        # In this process the parser is measured: the parse cache is left out.
        whole = check_workspace(load_workspace([root], jobs=1, keep=False))
        assert whole.errors == 0, [d.message for d in whole.diagnostics if d.is_error][:5]

        jobs = os.cpu_count() or 1

        def whole_workspace() -> None:
            result = check_workspace(load_workspace([root], jobs=jobs, keep=False))
            assert result.errors == 0

        def whole_workspace_one_process() -> None:
            result = check_workspace(load_workspace([root], jobs=1, keep=False))
            assert result.errors == 0

        runs = 1 if quick else 7
        results["L2_jobs"] = jobs
        results["L2_workspace_1000_files_s"] = summary(timed(whole_workspace, runs))
        if not quick:  # quick mode keeps under a minute: the two-process figure is the one judged
            results["L2_workspace_1000_files_one_process_s"] = summary(timed(whole_workspace_one_process, runs))

        cache = Path(scratch) / "cache"
        # Measure as users run it: with compiled bytecode (some sandboxes disable it).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(XDG_CACHE_HOME=str(cache), NO_COLOR="1")
        check_all = [sys.executable, str(launcher), grammar, "check", str(root)]
        run_command(check_all, env)  # bytecode, the grammar's and the templates' cache
        cached, after_install, after_edit = [], [], []
        for attempt in range(1 if quick else runs):
            cached.append(run_command(check_all, env))
            # After install: nothing cached yet (a cache directory of its own).
            after_install.append(run_command(check_all, {**env, "XDG_CACHE_HOME": f"{scratch}/fresh{attempt}"}))
            touch_templates(root, attempt)  # after the templates changed: their outlines are not cached
            after_edit.append(run_command(check_all, env))
        results["L2_cli_cached_s"] = summary(cached)
        results["L2_cold_after_install_s"] = summary(after_install)
        results["L2_cold_templates_changed_s"] = summary(after_edit)

        one = Path(scratch) / "one.scn"
        one.write_text(text, encoding="utf-8")
        scn = [sys.executable, str(launcher), grammar, "check", str(one)]
        run_command(scn, env)  # fills the grammar cache and writes bytecode
        cold_runs = 3 if quick else 15
        bare = [sys.executable, "-c", "pass"]
        results["L3_python_pass_s"] = summary([run_command(bare, env) for _ in range(cold_runs)])
        results["L3_cold_check_cached_s"] = summary([run_command(scn, env) for _ in range(cold_runs)])
        no_cache = {**env, "SCN_GRAMMAR_CACHE": "0"}
        results["L3_cold_check_uncached_s"] = summary(
            [run_command(scn, no_cache) for _ in range(1 if quick else max(3, cold_runs // 3))]
        )
    return results


def report(results: dict[str, Any]) -> str:
    """The figures of both parsers side by side (the old one's where it ran)."""
    old: dict[str, Any] = results.get("old", {})

    def ms(key: str, side: dict[str, Any]) -> str:
        if key not in side:
            return f"{'-':>9}"
        return f"{side[key]['median'] * 1000:9.1f}"

    def spread(key: str) -> str:
        if key not in results:
            return f"{'(not measured in quick mode)':32}"
        r = results[key]
        return f"(min {r['min'] * 1000:.1f}, max {r['max'] * 1000:.1f}, n={r['runs']})"

    l1 = results["L1_parse_check_200_lines_s"]["median"]
    l2_cli = results["L2_cli_cached_s"]["median"]
    l2_cold = max(results["L2_cold_after_install_s"]["median"], results["L2_cold_templates_changed_s"]["median"])
    cold = results["L3_cold_check_cached_s"]["median"]
    rows = [
        ("L1 parse+check 200-line file, warm", "L1_parse_check_200_lines_s", f"<= 10 ms: {_met(l1 <= 0.010)}"),
        ("   parse only", "L1_parse_only_200_lines_s", ""),
        (f"L2 1000 files parsed, {results['L2_jobs']} processes", "L2_workspace_1000_files_s", ""),
        ("   the same in one process", "L2_workspace_1000_files_one_process_s", ""),
        ("   scn check, new process, all cached", "L2_cli_cached_s", f"<= 2 s: {_met(l2_cli <= 2)}"),
        ("   scn check, cold: after install", "L2_cold_after_install_s", f"<= 4 s: {_met(l2_cold <= 4)}"),
        ("   scn check, cold: templates changed", "L2_cold_templates_changed_s", ""),
        ("L3 python -c pass", "L3_python_pass_s", ""),
        ("   scn check, cold, cached grammar", "L3_cold_check_cached_s", f"<= 300 ms: {_met(cold <= 0.3)}"),
        ("   scn check, cold, no grammar cache", "L3_cold_check_uncached_s", ""),
    ]  # fmt: skip
    lines = [f"{'':40} {'now ms':>9} {'old ms':>9}  {'spread now':32} target"]
    for label, key, target in rows:
        lines.append(f"{label:40} {ms(key, results)} {ms(key, old)}  {spread(key):32} {target}")
    if not old:
        lines.append("(the old parser could not be taken from git: only today's figures)")
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def old_grammar(directory: Path) -> Path | None:
    """grammar/ as of OLD_PARSER_COMMIT, in ``directory``; None where git cannot give it."""
    target = directory / "grammar_old"
    target.mkdir()
    try:
        names = subprocess.run(
            ["git", "-C", str(ROOT), "ls-tree", "--name-only", OLD_PARSER_COMMIT, "grammar/"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        for name in names:
            content = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{OLD_PARSER_COMMIT}:{name}"], check=True, capture_output=True
            ).stdout
            (target / Path(name).name).write_bytes(content)
    except (OSError, subprocess.CalledProcessError):
        return None
    # Today's checker takes its private cache directory from here (the old parser kept
    # the same function in _tables.py), and today's workspace loader its parse cache.
    for name in ("_cache.py", "_parse_cache.py"):
        (target / name).write_bytes((ROOT / "grammar" / name).read_bytes())
    return target


def install_grammar(grammar: str) -> None:
    """Put the grammar package in ``grammar`` in the place of scn.grammar (before any use)."""
    if grammar == "-":
        return
    import importlib.util

    import scn

    spec = importlib.util.spec_from_file_location(
        "scn.grammar", f"{grammar}/__init__.py", submodule_search_locations=[grammar]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scn.grammar"] = module
    scn.grammar = module
    spec.loader.exec_module(module)


def side(quick: bool, grammar: str, launcher: Path) -> dict[str, Any]:
    """The figures of one parser, measured in a process of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, __file__, "--side", grammar, "--launcher", str(launcher), "--json", str(out)]
        subprocess.run(command + (["--quick"] if quick else []), check=True)
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # a grammar directory, or "-": measure it here
    parser.add_argument("--launcher", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is not None:
        install_grammar(args.side)
        results = bench(args.quick, args.launcher, args.side)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            launcher = Path(tmp) / "launch.py"
            launcher.write_text(LAUNCHER, encoding="utf-8")
            results = side(args.quick, "-", launcher)
            old = None if args.quick else old_grammar(Path(tmp))
            if old is not None:
                results["old"] = side(args.quick, str(old), launcher)
                results["old_parser_commit"] = OLD_PARSER_COMMIT
        print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
