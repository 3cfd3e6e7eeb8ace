"""`scn lsp` under the project's settings (scn.toml, pyproject.toml's [tool.scn]), as
`scn check` reads them: the same findings, read again when the settings file changes."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from .lsp_client import lsp_session, uri
from .test_lsp import check_json, codes


def uncapped(name: str) -> str:
    """A file whose only finding is SCN308 (a warning), on its sixth line."""
    return f'template {name} sms\n  text "Thanks"\nend\nscenario {name}_flow\n  on order.paid\n  send sms {name}\nend\n'


def file_codes(folder: Path, name: str) -> list[str]:
    return [str(r["code"]) for r in check_json(folder) if str(r["filename"]).endswith(name)]


async def test_an_ignored_code_is_not_shown_until_the_settings_change(tmp_path: Path) -> None:
    (tmp_path / "thanks.scn").write_text(uncapped("thanks"), encoding="utf-8")
    settings = tmp_path / "scn.toml"
    settings.write_text('ignore = ["SCN308"]\n', encoding="utf-8")
    assert file_codes(tmp_path, "thanks.scn") == []
    async with lsp_session(tmp_path) as session:
        target = session.open(tmp_path / "thanks.scn")
        assert await session.diagnostics(target, version=1) == []
        settings.write_text('ignore = ["SCN3"]\nstrict = false\n', encoding="utf-8")
        seen = len(session.published)
        session.files_changed(settings)
        assert await session.next_diagnostics(target, seen) == []
        settings.write_text("strict = false\n", encoding="utf-8")
        seen = len(session.published)
        session.files_changed(settings)
        found = await session.next_diagnostics(target, seen)
        assert codes(found) == ["SCN308"] == file_codes(tmp_path, "thanks.scn")
        assert found[0].severity == types.DiagnosticSeverity.Warning and found[0].range.start.line == 5
        settings.unlink()  # without a settings file: the defaults, as `scn check`
        seen = len(session.published)
        session.files_changed(settings)
        assert codes(await session.next_diagnostics(target, seen)) == ["SCN308"] == file_codes(tmp_path, "thanks.scn")


async def test_a_settings_file_created_later_is_read_at_the_next_check(tmp_path: Path) -> None:
    """A client that reports no file events: the next edit's check reads the new file."""
    (tmp_path / "thanks.scn").write_text(uncapped("thanks"), encoding="utf-8")
    async with lsp_session(tmp_path) as session:
        target = session.open(tmp_path / "thanks.scn")
        assert codes(await session.diagnostics(target, version=1)) == ["SCN308"]
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.scn]\nselect = ["SCN1"]\n')
        version = session.change(target, session.texts[target] + "\n")
        assert await session.diagnostics(target, version=version) == []


async def test_per_file_ignores_and_strict_as_scn_check(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.scn").write_text(uncapped("old"), encoding="utf-8")
    (tmp_path / "new.scn").write_text(uncapped("new"), encoding="utf-8")
    (tmp_path / "scn.toml").write_text('strict = true\n\n[per-file-ignores]\n"legacy/**" = ["SCN308"]\n')
    assert file_codes(tmp_path, "old.scn") == [] and file_codes(tmp_path, "new.scn") == ["SCN308"]
    async with lsp_session(tmp_path) as session:
        old = session.open(tmp_path / "legacy" / "old.scn")
        new = session.open(tmp_path / "new.scn")
        assert await session.diagnostics(old, version=1) == []
        found = await session.diagnostics(new, version=1)
        assert codes(found) == ["SCN308"]
        assert found[0].severity == types.DiagnosticSeverity.Error  # strict: the warning fails `scn check`


async def test_a_bad_settings_file_is_marked_on_its_line_and_the_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "thanks.scn").write_text(uncapped("thanks"), encoding="utf-8")
    settings = tmp_path / "scn.toml"
    settings.write_text('strict = true\nselet = ["SCN1"]\n', encoding="utf-8")
    async with lsp_session(tmp_path) as session:
        target = session.open(tmp_path / "thanks.scn")
        found = await session.diagnostics(target, version=1)
        assert codes(found) == ["SCN308"] and found[0].severity == types.DiagnosticSeverity.Warning
        marked = await session.diagnostics(uri(settings))
        assert len(marked) == 1 and marked[0].severity == types.DiagnosticSeverity.Error
        assert "unknown setting `selet`" in marked[0].message
        assert (marked[0].range.start.line, marked[0].range.start.character) == (1, 0)
        assert (marked[0].range.end.line, marked[0].range.end.character) == (1, len('selet = ["SCN1"]'))
        opened = session.open(settings, language="toml")
        assert len(await session.diagnostics(opened, version=1)) == 1
        settings.write_text('strict = true\nselect = ["SCN1"]\n', encoding="utf-8")
        seen = len(session.published)
        session.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=opened))
        )
        assert await session.next_diagnostics(uri(settings), seen) == []
        assert await session.next_diagnostics(target, seen) == []


async def test_clients_that_can_are_asked_to_watch_the_settings(tmp_path: Path) -> None:
    (tmp_path / "thanks.scn").write_text(uncapped("thanks"), encoding="utf-8")
    watching = types.WorkspaceClientCapabilities(
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)
    )
    async with lsp_session(tmp_path, capabilities=types.ClientCapabilities(workspace=watching)) as session:
        target = session.open(tmp_path / "thanks.scn")
        await session.diagnostics(target, version=1)
        [registration] = session.registrations
        assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        options = registration.register_options  # as JSON: the client does not know its type
        assert isinstance(options, dict)
        globs = {w["globPattern"] for w in options["watchers"]}
        assert {"**/scn.toml", "**/pyproject.toml", "**/*.scn"} <= globs
    async with lsp_session(tmp_path) as session:  # a client that cannot is not asked
        await session.diagnostics(session.open(tmp_path / "thanks.scn"), version=1)
        assert session.registrations == []
