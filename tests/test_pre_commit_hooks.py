"""The hooks in .pre-commit-hooks.yaml are valid pre-commit hooks, and their commands work
the way pre-commit runs them: the entry, then the hook's args, then (unless
`pass_filenames: false`) the names of the files being committed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"
#: The keys a hook of a pre-commit manifest may have (pre-commit's clientlib MANIFEST_HOOK_DICT).
MANIFEST_KEYS = {
    "id", "name", "entry", "language", "alias", "files", "exclude", "types", "types_or", "exclude_types",
    "additional_dependencies", "args", "always_run", "fail_fast", "pass_filenames", "description",
    "language_version", "log_file", "minimum_pre_commit_version", "require_serial", "stages", "verbose",
}  # fmt: skip

LISTS = "list unpaid\n"
USES = "scenario s\n  on order.unpaid\n  entry once per contact\n  add to list unpaid\nend\n"
UNFORMATTED = "list   unpaid\n"


def hooks() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(loaded, list)
    return {hook["id"]: hook for hook in loaded}


def run_hook(hook: dict[str, Any], cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """The hook's command as pre-commit builds it, with `scn` run from this checkout."""
    command = shlex.split(hook["entry"]) + list(hook.get("args", []))
    if hook.get("pass_filenames", True):
        command += files
    assert command[0] == "scn"
    return subprocess.run(
        [sys.executable, "-m", "scn", *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_manifest_has_the_two_hooks_with_valid_keys() -> None:
    found = hooks()
    assert set(found) == {"scn-check", "scn-fmt"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    for hook in found.values():
        assert {"id", "name", "entry", "language"} <= set(hook) <= MANIFEST_KEYS
        assert hook["language"] == "python", "pre-commit installs the package into its own environment"
        assert shlex.split(hook["entry"])[0] in scripts, "the entry is a console script of the package"


@pytest.mark.parametrize("hook_id", ["scn-check", "scn-fmt"])
def test_the_hooks_run_for_scn_files_only(hook_id: str) -> None:
    files = re.compile(hooks()[hook_id]["files"])
    assert files.search("scenarios/welcome.scn")
    assert not files.search("app.py")
    assert not files.search("welcome.scn.bak")


def test_scn_check_checks_the_whole_workspace(tmp_path: Path) -> None:
    hook = hooks()["scn-check"]
    assert hook["pass_filenames"] is False
    (tmp_path / "lists.scn").write_text(LISTS, encoding="utf-8")
    (tmp_path / "flow.scn").write_text(USES, encoding="utf-8")
    run = run_hook(hook, tmp_path, ["flow.scn"])
    assert run.returncode == 0, run.stdout + run.stderr
    # The reason it takes no file names: flow.scn alone does not know the list.
    alone = subprocess.run(
        [sys.executable, "-m", "scn", "check", "flow.scn"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert alone.returncode == 1 and "SCN101" in alone.stdout
    (tmp_path / "flow.scn").write_text(USES.replace("unpaid\nend", "unpaidd\nend"), encoding="utf-8")
    failed = run_hook(hook, tmp_path, ["flow.scn"])
    assert failed.returncode == 1 and "SCN101" in failed.stdout


def test_scn_fmt_formats_the_files_it_is_given(tmp_path: Path) -> None:
    hook = hooks()["scn-fmt"]
    (tmp_path / "a.scn").write_text(UNFORMATTED, encoding="utf-8")
    (tmp_path / "b.scn").write_text(UNFORMATTED, encoding="utf-8")
    run = run_hook(hook, tmp_path, ["a.scn"])
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "a.scn").read_text(encoding="utf-8") == LISTS, "pre-commit fails the hook: a file changed"
    assert (tmp_path / "b.scn").read_text(encoding="utf-8") == UNFORMATTED, "only the files given"
    checked = subprocess.run(
        [sys.executable, "-m", "scn", "fmt", "--check", "a.scn", "b.scn"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 1 and checked.stdout.startswith("would reformat b.scn\n1 file would be reformatted")
