"""`scn check` settings from scn.toml or pyproject.toml's [tool.scn]: which file, which
findings, errors with file:line, and --show-settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scn.interpreter.config import Config, ConfigError, find_config, load_config

from .conftest import check_texts

# SCN308 (a warning) on line 6, and nothing else.
UNCAPPED = 'template thanks sms\n  text "Thanks"\nend\nscenario s\n  on order.paid\n  send sms thanks\nend\n'


def scn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "scn", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_nearest_file_wins_and_scn_toml_before_pyproject(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "scn.toml").write_text("strict = true\n", encoding="utf-8")
    assert find_config(inner) == tmp_path / "scn.toml"
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert find_config(inner) == tmp_path / "scn.toml"  # a pyproject.toml without [tool.scn] does not count
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.scn]\nstrict = false\n", encoding="utf-8")
    assert find_config(inner / "x.scn") == tmp_path / "a" / "pyproject.toml"
    (tmp_path / "a" / "scn.toml").write_text("", encoding="utf-8")
    assert find_config(inner) == tmp_path / "a" / "scn.toml"


def test_settings_are_read_with_where_they_came_from(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "x"\n\n[tool.scn]\nselect = ["SCN3", "SCN2"]\nignore = ["SCN308"]\nstrict = true\n'
        'timezone = "Europe/Riga"\n\n[tool.scn.per-file-ignores]\n"legacy/**" = ["SCN205"]\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.select == ("SCN3", "SCN2") and config.ignore == ("SCN308",) and config.strict
    assert config.timezone == "Europe/Riga" and config.per_file_ignores == (("legacy/**", ("SCN205",)),)
    assert {k: v.rsplit(":", 1)[1] for k, v in config.origins.items()} == {
        "select": "5", "ignore": "6", "strict": "7", "timezone": "8", "per-file-ignores": "10",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("strict = true\nselet = []\n", 2, "unknown setting `selet`"),
        ('ignore = ["SCN999"]\n', 1, "`SCN999` in `ignore` is not a diagnostic code"),
        ('select = ["E501"]\n', 1, "`E501` in `select` is not a diagnostic code"),
        ('ignore = ["SCN101"]\n', 1, "SCN101 in `ignore` is an error, and errors cannot be ignored"),
        ('ignore = "SCN308"\n', 1, "`ignore` is a list of codes"),
        ('strict = "yes"\n', 1, "`strict` is true or false"),
        ('\n\ntimezone = "Mars/Olympus"\n', 3, "`Mars/Olympus` is not an IANA time zone"),
        ('[per-file-ignores]\n"a/*" = ["SCN99"]\n', 1, "`SCN99` in `per-file-ignores.a/*`"),
    ],
)
def test_bad_settings_are_errors_with_file_and_line(tmp_path: Path, text: str, line: int, says: str) -> None:
    (tmp_path / "scn.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "scn.toml")
    assert f"scn.toml:{line}: " in str(caught.value) and says in str(caught.value)
    assert caught.value.line == line  # where an editor marks it (scn lsp)


def test_not_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "scn.toml").write_text("strict = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(tmp_path / "scn.toml")
    assert caught.value.line == 1


def test_only_warnings_are_turned_off() -> None:
    found = check_texts({"a.scn": UNCAPPED.replace("send sms thanks", "send sms thanks\n  add to list nope")})
    codes = sorted(d.code.code for d in found.diagnostics)
    assert codes == ["SCN101", "SCN308"]
    hidden = [d.code.code for d in found.diagnostics if Config(ignore=("SCN",)).hides(d)]
    assert hidden == ["SCN308"]
    assert [d.code.code for d in found.diagnostics if Config(select=("SCN1",)).hides(d)] == ["SCN308"]
    assert [d.code.code for d in found.diagnostics if Config(select=("SCN30",)).hides(d)] == []


def test_check_follows_the_settings(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "a.scn").write_text(UNCAPPED, encoding="utf-8")
    (tmp_path / "legacy" / "b.scn").write_text(
        UNCAPPED.replace("thanks", "thanks_b").replace("scenario s", "scenario s_b"), encoding="utf-8"
    )
    plain = scn("check", "--format", "concise", ".", cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout.count("SCN308") == 2
    (tmp_path / "scn.toml").write_text('strict = true\n[per-file-ignores]\n"legacy/*" = ["SCN308"]\n', encoding="utf-8")
    run = scn("check", "--format", "concise", ".", cwd=tmp_path)
    assert run.returncode == 1  # strict from the settings
    assert run.stdout.splitlines()[0].startswith("a.scn:6:3: SCN308")
    assert "legacy" not in run.stdout
    (tmp_path / "scn.toml").write_text('ignore = ["SCN3"]\n', encoding="utf-8")
    sub = scn("check", "--format", "concise", "--strict", "legacy", cwd=tmp_path)  # found from the checked path
    assert sub.returncode == 0 and "SCN308" not in sub.stdout


def test_a_bad_settings_file_stops_the_check_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a.scn").write_text(UNCAPPED, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.scn]\nstrict = true\nfoo = 1\n", encoding="utf-8")
    run = scn("check", "a.scn", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == (
        "scn check: pyproject.toml:3: unknown setting `foo`; the settings are "
        "select, ignore, per-file-ignores, strict, timezone\n"
    )


def test_show_settings(tmp_path: Path) -> None:
    assert scn("check", "--show-settings", cwd=tmp_path).stdout.startswith("settings file: none (defaults)\n")
    (tmp_path / "scn.toml").write_text('\nignore = ["SCN308"]\n', encoding="utf-8")
    run = scn("check", "--show-settings", cwd=tmp_path)
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[0] == f"settings file: {tmp_path / 'scn.toml'}"
    assert 'ignore = ["SCN308"]  # scn.toml:2' in lines
    assert "strict = false  # default" in lines and "select = []  # default" in lines
