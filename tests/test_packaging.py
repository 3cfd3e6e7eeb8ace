"""What is shipped: every package (a folder missing from pyproject.toml would be left out
of a wheel, although an editable install, which maps whole folders, works), the license
the metadata names, a wheel that works without the checkout (the container image
installs it), and the image itself where docker runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {f"scn.{top}": top for top in ("grammar", "interpreter", "server", "stdlib")}
    found = set()
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found <= set(config["packages"]), sorted(found - set(config["packages"]))
    assert {config["package-dir"][p] for p in folders} == set(folders.values())


def test_the_license_file_is_the_license_the_metadata_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_the_changelog_has_the_current_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    headings = [line for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines() if line[:3] == "## "]
    assert headings[0] == "## Unreleased" and any(h.startswith(f"## {version} - ") for h in headings), headings


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the image copies: setuptools writes build/ beside the sources.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("scn", "grammar", "interpreter", "server", "stdlib"):
        shutil.copytree(ROOT / folder, source / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
        check=True, timeout=300, cwd=out,
    )  # fmt: skip
    (built,) = out.glob("scn-*.whl")
    return built


@pytest.mark.timeout(400)
def test_the_wheel_holds_the_license_and_checks_the_examples_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n) for n in names if n.endswith(".dist-info/METADATA")).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "scn/grammar/scn.lark" in names and "scn/server/console/static/console.css" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    # The installed copy first on the path, and run from elsewhere: nothing may come from the checkout.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import scn, scn.server.app;"
        "assert scn.__file__.startswith(sys.argv[1]), scn.__file__;"
        "from scn.cli import main; sys.exit(main(['check', sys.argv[2]]))"
    )
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(target), str(examples)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _docker_runs() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_runs(), reason="no docker daemon here: the image is built only where docker runs")
@pytest.mark.timeout(900)
def test_the_image_builds_and_checks_the_examples() -> None:
    tag = "scn-test-image"
    subprocess.run(["docker", "build", "-q", "-t", tag, str(ROOT)], check=True, timeout=800)
    done = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "scn", "-v", f"{ROOT / 'examples'}:/workspace:ro", tag,
         "check", "/workspace"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
