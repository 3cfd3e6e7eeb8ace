"""`scn check`: check a workspace, report its findings, apply their fixes.

With `--fix` the safe fixes are applied (with `--unsafe-fixes`, every fix), the
workspace is checked again, and so on until nothing more is fixed; `--diff` shows the
same changes as a unified diff and writes nothing. `scn check -` checks standard input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .interpreter.render import fix_hints, location, plural, use_colour

if TYPE_CHECKING:  # the checker is imported when a check runs, so that other commands start fast
    from .interpreter.checker import CheckResult
    from .interpreter.config import Config
    from .interpreter.diagnostics import Diagnostic
    from .interpreter.workspace import Workspace

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN = "-"
FORMATS = ("text", "concise", "json", "github", "sarif", "junit", "gitlab")
#: The formats that are one document on standard output, which nothing else may be written into.
MACHINE_FORMATS = ("json", "github", "sarif", "junit", "gitlab")
#: Each round of fixes can enable others (a repaired keyword lets a name be looked up):
#: the rounds stop when nothing more is fixed, or after this many.
MAX_ROUNDS = 10


def add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="check .scn files like a compiler",
        description="Check .scn files and report every finding.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["."],
        help="files or directories (default: the current directory); - reads standard input",
    )
    p.add_argument(
        "--format",
        "--output-format",
        dest="format",
        choices=FORMATS,
        default="text",
        help="text (with code frames), concise (one line each), json, github (annotations), sarif,"
        " junit (JUnit XML), gitlab (GitLab Code Quality)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors for the exit code")
    p.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when there are findings (2 still means it could not run)"
    )
    p.add_argument(
        "--statistics", action="store_true", help="print how many findings of each code, instead of the findings"
    )
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--fix", action="store_true", help="apply the safe fixes and say what changed")
    p.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, apply did-you-mean guesses too")
    p.add_argument("--diff", action="store_true", help="show the fixes as a unified diff; write nothing")
    p.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="with -, the path standard input stands for (in findings, and to find its workspace)",
    )
    p.add_argument(
        "--show-settings",
        action="store_true",
        help="print the settings in effect (scn.toml or pyproject.toml's [tool.scn]) and where each came from",
    )
    p.set_defaults(run=run_check)


def add_explain(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "explain",
        help="explain a diagnostic code",
        description="Print what a diagnostic code means, what to do about it, and an example.",
    )
    p.add_argument("code", help="a code such as SCN214 (or its name, such as weak-coupon-pattern)")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from .interpreter.code_docs import closest_code, explain, find_code

    code = find_code(args.code)
    if code is None:
        guess = closest_code(args.code)
        hint = f"; did you mean `{guess}`?" if guess else ""
        print(f"scn explain: unknown code `{args.code}`{hint} (docs/language.md §9.4 lists them)", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(explain(code))
    return EXIT_OK


class Target:
    """What one `scn check` looks at: a workspace, and the file to report on when it read stdin."""

    def __init__(self, workspace: Workspace, only: str | None, config: Config | None = None) -> None:
        from .interpreter.config import Config

        self.workspace = workspace
        self.only = only
        self.config = config or Config()

    def reported(self, diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
        """The findings to show: those of the file read from stdin, less those the settings turn off."""
        return [d for d in diagnostics if (self.only is None or d.span.file == self.only) and not self.config.hides(d)]


def _target(args: argparse.Namespace) -> Target | None:
    """The workspace named by the arguments; None after saying why there is none."""
    from .interpreter.workspace import load_workspace

    if STDIN not in args.paths:
        if args.stdin_filename:
            print("scn check: --stdin-filename goes with - (read standard input)", file=sys.stderr)
            return None
        workspace = load_workspace(args.paths, jobs=os.cpu_count() or 1)
        if not workspace.files and not workspace.load_errors:
            print(f"scn check: no .scn files under {' '.join(args.paths)}", file=sys.stderr)
            return None
        return Target(workspace, None)
    if args.paths != [STDIN]:
        print("scn check: - (standard input) cannot be given with other paths", file=sys.stderr)
        return None
    text = sys.stdin.read()
    return Target(*stdin_workspace(text, args.stdin_filename))


def stdin_workspace(text: str, name: str | None) -> tuple[Workspace, str]:
    """A workspace for a file read from standard input, and the name its findings carry.

    Named with ``--stdin-filename``, the file is checked with the other .scn files of its
    folder (so that names it uses from them resolve), its text in place of the one on
    disk, and templates are found next to it. Unnamed, it is checked alone.
    """
    from .grammar import parse
    from .interpreter.workspace import SourceFile, Workspace, display_path, load_workspace

    if name is None:
        return Workspace([SourceFile("<stdin>", parse(text, "<stdin>"))]), "<stdin>"
    path = Path(name)
    shown = display_path(path)
    folder = path.parent if str(path.parent) else Path(".")
    others = load_workspace([folder]) if folder.is_dir() else Workspace([])
    own = os.path.realpath(path)
    files = [f for f in others.files if os.path.realpath(f.path) != own]
    files.append(SourceFile(shown, parse(text, shown)))
    return Workspace(sorted(files, key=lambda f: f.path), None, others.load_errors), shown


def _read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, ValueError):  # not UTF-8 (UnicodeDecodeError), NUL in the path
        return None


class Fixing:
    """Fixes applied round after round to the texts of a workspace, kept in memory."""

    def __init__(self, workspace: Workspace) -> None:
        from .interpreter.checker import check_workspace

        self.check = check_workspace
        self.workspace = workspace
        self.texts: dict[str, str] = {f.path: f.text for f in workspace.files}
        #: The text each changed file had before the first fix.
        self.originals: dict[str, str] = {}
        #: The findings whose fixes were applied, in order.
        self.applied: list[Diagnostic] = []

    def run(self, unsafe: bool, shown: Callable[[Sequence[Diagnostic]], list[Diagnostic]]) -> CheckResult:
        """Check, fix, check again, until no fix applies; the last check's result.
        Only the fixes of findings ``shown`` keeps are applied."""
        from .interpreter.fixes import apply_fixes, fixable

        result = self.check(self.workspace)
        for _ in range(MAX_ROUNDS):
            wanted: dict[str, list[Diagnostic]] = defaultdict(list)
            for d in fixable(shown(result.diagnostics), unsafe=unsafe):
                assert d.fix is not None
                wanted[d.fix.span.file].append(d)
            progress = False
            for path, found in wanted.items():
                before = self.texts[path] if path in self.texts else _read_file(path)
                if before is None:
                    continue
                fixes = {d.fix: d for d in found if d.fix is not None}
                after, taken = apply_fixes(before, fixes)
                if after == before:
                    continue
                self.originals.setdefault(path, before)
                self.texts[path] = after
                self.applied.extend(fixes[f] for f in taken)
                progress = True
            if not progress:
                break
            self.workspace = self._rebuilt()
            result = self.check(self.workspace)
        return result

    def _rebuilt(self) -> Workspace:
        from .grammar import parse
        from .interpreter.workspace import SourceFile, Workspace

        files = [
            SourceFile(f.path, parse(self.texts[f.path], f.path)) if f.path in self.originals else f
            for f in self.workspace.files
        ]
        scn = {f.path for f in files}
        overrides = {p: t for p, t in self.texts.items() if p in self.originals and p not in scn}
        return Workspace(files, self.workspace.resources, self.workspace.load_errors, overrides)

    def changed(self) -> dict[str, tuple[str, str]]:
        """Each changed file: its text before and after."""
        return {p: (before, self.texts[p]) for p, before in sorted(self.originals.items())}


def _write(changed: dict[str, tuple[str, str]]) -> None:
    for path, (_before, after) in changed.items():
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(after)


def _report(
    args: argparse.Namespace, target: Target, result: CheckResult, stream: TextIO, first: list[str], note: list[str]
) -> None:
    """Write the findings in the chosen format to ``stream``: in text, ``first`` before them
    and ``note`` before the summary line."""
    from .interpreter.render import render_github, render_json, render_sarif, render_text, summary
    from .interpreter.render_reports import render_gitlab, render_junit, render_statistics

    diagnostics = target.reported(result.diagnostics)
    texts = {f.path: f.text for f in result.workspace.files}
    files = 1 if target.only else len(result.workspace.files)

    def read(path: str) -> str | None:
        return texts[path] if path in texts else _read_file(path)

    if args.statistics and args.format == "json":
        stream.write(render_statistics(diagnostics, as_json=True))
    elif args.statistics:
        stream.write("".join(line + "\n" for line in first))
        stream.write(render_statistics(diagnostics))
        lines = [*note, summary(diagnostics, files, len(result.symbols.scenarios))]
        stream.write("".join(line + "\n" for line in lines))
    elif args.format == "json":
        stream.write(render_json(diagnostics, files))
    elif args.format == "github":
        stream.write(render_github(diagnostics))
    elif args.format == "sarif":
        stream.write(render_sarif(diagnostics, __version__))
    elif args.format == "junit":
        stream.write(
            render_junit(diagnostics, [target.only] if target.only else [f.path for f in result.workspace.files])
        )
    elif args.format == "gitlab":
        stream.write(render_gitlab(diagnostics))
    else:
        colour = use_colour(args.color, stream)
        stream.write("".join(line + "\n" for line in first))
        stream.write(render_text(diagnostics, read, colour=colour, frames=args.format == "text"))
        scenarios = len(result.symbols.scenarios)
        lines = [*note, summary(diagnostics, files, scenarios)]
        stream.write("".join(line + "\n" for line in lines))


def _settings(args: argparse.Namespace) -> Config | None:
    """The settings for this run, found from the first path (or --stdin-filename); None after
    saying why they cannot be used."""
    from .interpreter.config import Config, ConfigError, find_config, load_config

    start = args.stdin_filename if STDIN in args.paths else args.paths[0]
    path = find_config(start or ".")
    try:
        return load_config(path) if path is not None else Config()
    except ConfigError as error:
        print(f"scn check: {error}", file=sys.stderr)
        return None


def show_settings(config: Config) -> str:
    """Each setting's value and where it came from, as `scn check --show-settings` prints them."""
    import json

    values = {
        "select": list(config.select),
        "ignore": list(config.ignore),
        "per-file-ignores": {glob: list(codes) for glob, codes in config.per_file_ignores},
        "strict": config.strict,
        "timezone": config.timezone,
    }
    lines = [f"settings file: {config.path or 'none (defaults)'}"]
    for key, value in values.items():
        origin = config.origins.get(key, "default")
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}  # {origin}")
    return "\n".join(lines) + "\n"


def run_check(args: argparse.Namespace) -> int:
    config = _settings(args)
    if config is None:
        return EXIT_ERROR
    if args.show_settings:
        sys.stdout.write(show_settings(config))
        return EXIT_OK
    target = _target(args)
    if target is None:
        return EXIT_ERROR
    target.config = config
    fixing = Fixing(target.workspace)
    if args.fix or args.diff:
        result = fixing.run(args.unsafe_fixes, target.reported)
    else:
        result = fixing.check(target.workspace)
    changed = fixing.changed()
    if target.only is not None:
        changed = {p: c for p, c in changed.items() if p == target.only}
    applied = [d for d in fixing.applied if d.fix is not None and d.fix.span.file in changed]
    reading_stdin = target.only is not None

    if args.diff:
        from .interpreter.fixes import unified_diff

        for path, (before, after) in changed.items():
            sys.stdout.write(unified_diff(path, before, after))
        print(f"Would fix {plural(len(applied), 'finding')}.", file=sys.stderr)
        if target.workspace.load_errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if changed else EXIT_OK

    # With --fix on standard input the fixed text is the output, and the report goes to stderr.
    report_to = sys.stderr if (args.fix and reading_stdin) else sys.stdout
    machine = args.format in MACHINE_FORMATS and not (args.statistics and args.format != "json")
    first: list[str] = []
    note: list[str] = []
    fixed_lines = [f"{location(d.span)}: fixed {d.code.code}: {d.fix.title}" for d in applied if d.fix is not None]
    if args.fix:
        if not reading_stdin:
            _write(changed)
        if applied:
            fixed_lines.append(f"Fixed {plural(len(applied), 'finding')} in {plural(len(changed), 'file')}.")
        if machine or reading_stdin:
            sys.stderr.write("".join(line + "\n" for line in fixed_lines))
        else:
            first.extend(fixed_lines)
        if reading_stdin:
            sys.stdout.write(fixing.texts[target.only] if target.only else "")
    if not machine:
        note.extend(fix_hints(target.reported(result.diagnostics), fixing=args.fix))
    _report(args, target, result, report_to, first, note)
    if target.workspace.load_errors:
        return EXIT_ERROR
    reported = target.reported(result.diagnostics)
    errors = sum(1 for d in reported if d.is_error)
    if args.exit_zero:
        return EXIT_OK
    if errors or ((args.strict or config.strict) and reported):
        return EXIT_FINDINGS
    return EXIT_OK
