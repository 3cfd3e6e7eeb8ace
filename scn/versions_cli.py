"""`scn diff`: what changed between two versions of a workspace's scenarios, from their
compiled programs (see docs/versions.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import msgspec

from .interpreter.program import Bundle

EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2


#: Checks a workspace or prints its errors (the command line's own, handed in by `add_commands`).
Checker = Callable[[list[str], str], object | None]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], check: Checker) -> None:
    p = sub.add_parser(
        "diff",
        help="what changed between two versions of scenarios (steps, waits, conditions, templates...)",
        description=(
            "Compare two workspaces (`scn diff OLD NEW`, each a .scn file or a directory), or two stored versions "
            "of one scenario (`scn diff --db scn.db SCENARIO 3 5`), by their compiled programs: steps added, "
            "removed, moved and changed. Exit 0 when they do the same, 1 when they differ, 2 on an error."
        ),
    )
    p.add_argument("args", nargs="+", metavar="ARG", help="OLD NEW, or with --db: SCENARIO OLD_VERSION NEW_VERSION")
    p.add_argument("--db", help="the store (an SQLite file or a postgresql:// URL) whose stored versions to compare")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=_run_diff, check=check)


def _fail(message: str) -> int:
    print(f"scn diff: {message}", file=sys.stderr)
    return EXIT_ERROR


def _run_diff(args: argparse.Namespace) -> int:
    from .interpreter.versions import ScenarioDiff, diff_lines, diff_programs

    pairs: dict[str, tuple[Bundle | None, Bundle | None]] = {}
    if args.db:
        if len(args.args) != 3 or not all(a.isdigit() for a in args.args[1:]):
            return _fail("with --db, give SCENARIO OLD_VERSION NEW_VERSION (for example: thanks 3 5)")
        import asyncio  # here: every command's start (`scn check` too) imports this module

        name = args.args[0]
        found = asyncio.run(_stored(args.db, name, int(args.args[1]), int(args.args[2])))
        if isinstance(found, str):
            return _fail(found)
        pairs[name] = found
        titles = {name: f"version {args.args[1]} -> {args.args[2]}"}
    else:
        if len(args.args) != 2:
            return _fail("give two workspaces, OLD NEW (files or directories), or --db F SCENARIO OLD NEW")
        old, new = _compiled(args.check, args.args[0]), _compiled(args.check, args.args[1])
        if old is None or new is None:
            return EXIT_ERROR
        for name in sorted(set(old.scenarios) | set(new.scenarios)):
            pairs[name] = (old if name in old.scenarios else None, new if name in new.scenarios else None)
        titles = {name: f"{args.args[0]} -> {args.args[1]}" for name in pairs}
    diffs: dict[str, ScenarioDiff | str] = {}
    for name, (before, after) in pairs.items():
        if before is None or after is None:
            diffs[name] = "added" if before is None else "removed"
            continue
        diffs[name] = diff_programs(before.scenarios[name], after.scenarios[name], before, after)
    different = any(isinstance(d, str) or not d.empty for d in diffs.values())
    if args.format == "json":
        document = {n: d if isinstance(d, str) else msgspec.to_builtins(d) for n, d in diffs.items()}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for name, d in diffs.items():
            if isinstance(d, str):
                print(f"scenario {name}: {d}")
            elif not d.empty:
                print(f"scenario {name}: {titles[name]}")
                print("\n".join(diff_lines(d)))
        if not different:
            print("no differences")
    return EXIT_DIFFERENT if different else EXIT_SAME


def _compiled(check: Checker, path: str) -> Bundle | None:
    from .interpreter.checker import CheckResult
    from .interpreter.compiler import compile_workspace

    checked = check([path], "diff")
    return compile_workspace(checked) if isinstance(checked, CheckResult) else None


async def _stored(path: str, name: str, old: int, new: int) -> tuple[Bundle, Bundle] | str:
    """The bundles of two stored versions of scenario ``name``, or what is wrong."""
    from pathlib import Path

    from .interpreter.store import is_postgresql, store_at

    if not is_postgresql(path) and not Path(path).is_file():
        return f"{path}: no such database"
    store = store_at(path)
    await store.open()
    try:
        versions = {v: b for v, b, _d, _at, _draft in await store.scenario_versions(name)}
        if not versions:
            return f"{path} has no scenario {name!r}"
        bundles = []
        for number in (old, new):
            if number not in versions:
                known = ", ".join(str(v) for v in sorted(versions))
                return f"scenario {name} has no version {number}; it has {known}"
            blob = await store.bundle_blob(versions[number])
            assert blob is not None  # scenario_versions refers to bundles by a foreign key
            bundles.append(msgspec.msgpack.decode(blob, type=Bundle))
        return bundles[0], bundles[1]
    finally:
        await store.close()


def add_publish(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .client import add_connection

    for command, what in (("publish", "make a version current (a draft, or any other)"),
                          ("rollback", "make an earlier version current again")):  # fmt: skip
        p = sub.add_parser(
            command,
            help=f"{what}, on a server; runs in flight stay or move (--dry-run first)",
            description=(
                f"{what[0].upper()}{what[1:]}: new runs start on it. Runs in flight stay on their version "
                "(--runs stay, the default) or move to this one (--runs move): each to its step's counterpart, "
                "keeping its wake-up time; those whose step it lacks follow --unmatched: finish (on their old "
                "version), exit, or @label (go to that step at once). --dry-run shows what would happen and "
                "changes nothing. See docs/versions.md."
            ),
        )
        p.add_argument("scenario")
        p.add_argument("version", type=int, nargs="?" if command == "publish" else None,
                       help="the version (default for publish: the newest, a draft or not)")  # fmt: skip
        p.add_argument("--runs", choices=("stay", "move"), default="stay", help="what runs in flight do")
        p.add_argument("--unmatched", help="with --runs move: finish, exit or @label (default finish)")
        p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
        add_connection(p)
        p.set_defaults(run=_run_publish, action=command)


def _run_publish(args: argparse.Namespace) -> int:
    from .client import EXIT_OK, _call, _problem, _table

    name = args.scenario
    if args.version is None:
        status, found = _call(args, "GET", f"/api/scenarios/{name}")
        if status != 200:
            return _problem(status, found)
        args.version = max(v["version"] for v in found["versions"])
    body: dict[str, object] = {"version": args.version, "runs": args.runs, "dry_run": args.dry_run}
    if args.unmatched is not None:
        body["unmatched"] = {"step": args.unmatched} if args.unmatched.startswith("@") else args.unmatched
    status, answer = _call(args, "POST", f"/api/scenarios/{name}/{args.action}", json=body)
    if status != 200:
        return _problem(status, answer)
    if args.format == "json":
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return EXIT_OK
    moves = answer["moves"]
    if answer["dry_run"]:
        print(f"dry run: nothing changed; {name} is at version {answer['version']}. "
              f"{args.action.capitalize()}ing version {args.version} with --runs {args.runs} would:")  # fmt: skip
    else:
        print(f"{name}: version {answer['version']} is current; new runs start on it")
    if args.runs == "move":
        rows = [[step, str(runs)] for step, runs in moves["moved"].items()]
        if rows:
            print(_table(rows, ["to step", "runs"]), end="")
        print(f"runs moved: {sum(moves['moved'].values())}, exited: {moves['exited']}, "
              f"kept their version: {moves['kept']}")  # fmt: skip
    else:
        print(f"runs in flight stay on their version: {moves['kept']}")
    for warning in answer["warnings"]:
        print(f"warning: {warning}")
    return EXIT_OK
