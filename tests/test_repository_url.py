"""The project's public address is written once for Python (scn.REPOSITORY_URL, a
placeholder until the repository is published) and once in the VS Code extension's
package.json, and the two agree; the extension packages with it without complaint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from scn import DOCS_URL, REPOSITORY_URL
from scn.interpreter.code_docs import doc_url
from scn.pygments_lexer import ScnLexer

from .conftest import ROOT

EXTENSION = ROOT / "editors" / "vscode"
#: The folders of Python code (pyproject.toml's package-dir) and the scripts.
PYTHON = ("scn", "grammar", "interpreter", "server", "stdlib", "scripts", "bench")


def test_python_spells_the_address_once() -> None:
    spelt = sorted(
        str(path.relative_to(ROOT))
        for folder in PYTHON
        for path in (ROOT / folder).rglob("*.py")
        if REPOSITORY_URL in path.read_text(encoding="utf-8")
    )
    assert spelt == ["scn/__init__.py"]


def test_links_start_with_the_address() -> None:
    assert DOCS_URL.startswith(REPOSITORY_URL + "/")
    assert doc_url("SCN214") == f"{DOCS_URL}#scn214"
    assert ScnLexer.url == DOCS_URL


def test_the_extension_names_the_same_repository() -> None:
    package = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    assert package["repository"]["url"] in (REPOSITORY_URL, REPOSITORY_URL + ".git")


def test_the_extension_packages_with_the_placeholder(tmp_path: os.PathLike[str]) -> None:
    """vsce reads `repository` to resolve relative links of the README; with the
    placeholder address it must still package, and say nothing about the repository."""
    if shutil.which("npx") is None or not (EXTENSION / "node_modules" / "@vscode" / "vsce").is_dir():
        if os.environ.get("CI"):
            pytest.fail("vsce must run in CI: `npm ci` in editors/vscode (.ci/run does it)")
        pytest.skip("vsce is not installed: run `npm ci` in editors/vscode")
    out = f"{tmp_path}/scn.vsix"
    done = subprocess.run(
        ["npx", "--no-install", "vsce", "package", "--out", out],
        cwd=EXTENSION,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = (done.stdout + done.stderr).lower()
    assert "repository" not in said and "example.invalid" not in said, said
    assert os.path.getsize(out) > 0
