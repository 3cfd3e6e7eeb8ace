"""The distribution ships every package: a folder missing from pyproject.toml would be
left out of a wheel, although an editable install (which maps whole folders) works."""

from __future__ import annotations

import tomllib

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
