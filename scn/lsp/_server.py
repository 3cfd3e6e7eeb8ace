"""`scn lsp`: the Language Server Protocol over stdio, on pygls.

Every check is `scn check`'s: the real parser and checker over the whole workspace
(the folders' .scn files, their templates and pools), with the documents open in the
editor read in place of the disk. Edits are checked once they pause for ``debounce``
seconds, so a burst of keystrokes costs one check; a request that needs the tree
(hover, definition, rename...) checks at once if an edit is still waiting. The findings
shown are those `scn check` reports under the project's settings (scn.toml or
`[tool.scn]`, see _settings.py), read again when the settings file changes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..interpreter.checker import CheckResult
from ..interpreter.codes import Severity
from ..interpreter.config import ConfigError
from ..interpreter.diagnostics import Diagnostic
from ._complete import complete_scn, complete_template
from ._edits import code_actions, format_document, rename_edits
from ._hover import hover_scn, hover_template
from ._index import Index, Occurrence
from ._positions import Lines
from ._project import Project
from ._settings import SETTINGS_FILES, ProjectSettings

#: Seconds an edit waits for the next one before the workspace is checked.
DEBOUNCE = 0.15
_H = TypeVar("_H", bound=Callable[..., Any])
#: The files a check reads from disk, whose changes the client is asked to report.
WATCHED = ("**/*.scn", "**/*.{html,txt,csv}", "**/scn.toml", "**/pyproject.toml")


def uri_of(path: str) -> str:
    return from_fs_path(path) or path


def path_of(uri: str) -> str:
    return os.path.realpath(to_fs_path(uri) or uri)


class ScnServer(LanguageServer):
    """The language server, with the workspace it checks and the last check's results."""

    def __init__(self, debounce: float = DEBOUNCE) -> None:
        super().__init__("scn", __version__)
        self.project = Project()
        self.settings = ProjectSettings()
        self.debounce = debounce
        self.index: Index | None = None
        self.findings: dict[str, list[Diagnostic]] = {}
        self._published: dict[str, list[types.Diagnostic]] = {}
        self._waiting: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ positions

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def lines(self, path: str) -> Lines:
        return Lines(self.project.text(path) or "", self.encoding)

    def location(self, occurrence: Occurrence) -> types.Location:
        lines = self.lines(occurrence.file)
        return types.Location(uri=uri_of(occurrence.file), range=lines.range(occurrence.start, occurrence.end))

    # ------------------------------------------------------------ checking

    def later(self) -> None:
        """Check once the edits pause."""
        if self._waiting is not None:
            self._waiting.cancel()
        self._waiting = asyncio.get_running_loop().call_later(self.debounce, self.check_now)

    def fresh(self) -> Index:
        """The index of the workspace as it is now (checked at once if an edit waits)."""
        if self._waiting is not None or self.index is None:
            self.check_now()
        assert self.index is not None
        return self.index

    def check_now(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None
        checked = self.project.check()
        self.index = Index(checked)
        self.publish(checked)

    def publish(self, checked: CheckResult) -> None:
        """Send each file's findings, less those the settings turn off, and the settings
        files' own errors."""
        paths = self.project.scn_paths()
        files = {os.path.realpath(d.span.file) for d in checked.diagnostics}
        folder = {path: self.settings.folder_of(self.project.roots, path) for path in files.union(paths)}
        self.settings.refresh(sorted(set(folder.values())))
        findings: dict[str, list[Diagnostic]] = {path: [] for path in paths}
        for diagnostic in checked.diagnostics:
            path = os.path.realpath(diagnostic.span.file)
            if not self.settings.for_folder(folder[path]).hides(diagnostic):
                findings.setdefault(path, []).append(diagnostic)
        self.findings = findings
        published: dict[str, list[types.Diagnostic]] = {}
        for path, found in findings.items():
            lines = self.lines(path)
            strict = self.settings.for_folder(folder[path]).strict
            published[uri_of(path)] = [self.to_lsp(d, lines, strict) for d in found]
        for path, error in self.settings.errors().items():
            published[uri_of(path)] = [self.settings_error(path, error)]
        for uri in self._published.keys() - published.keys():
            published[uri] = []
        versions = {uri_of(p): self.workspace.text_documents[uri_of(p)].version for p in self.project.documents}
        for uri, diagnostics in published.items():
            if uri in versions or self._published.get(uri) != diagnostics:
                params = types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=versions.get(uri))
                self.text_document_publish_diagnostics(params)
        self._published = {uri: found for uri, found in published.items() if found}

    def to_lsp(self, diagnostic: Diagnostic, lines: Lines, strict: bool = False) -> types.Diagnostic:
        """The same code, range, message and help as `scn check` shows; with `strict`
        settings a warning fails `scn check`, and is shown as an error."""
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri_of(r.span.file), range=self.lines(r.span.file).span_range(r.span)),
                message=r.message,
            )
            for r in diagnostic.related
        ]
        severity = types.DiagnosticSeverity.Warning
        if diagnostic.severity is Severity.ERROR or strict:
            severity = types.DiagnosticSeverity.Error
        return types.Diagnostic(
            range=lines.span_range(diagnostic.span),
            message=diagnostic.message + "".join(f"\nhelp: {h}" for h in diagnostic.help),
            severity=severity,
            code=diagnostic.code.code,
            source="scn",
            related_information=related or None,
        )

    def settings_error(self, path: str, error: ConfigError) -> types.Diagnostic:
        """A settings file `scn check` refuses, marked on its line; meanwhile the defaults apply."""
        lines = self.lines(path)
        line = min(max((error.line or 1) - 1, 0), len(lines.starts) - 1)
        end = lines.starts[line + 1] - 1 if line + 1 < len(lines.starts) else len(lines.text)
        return types.Diagnostic(
            range=lines.range(lines.starts[line], end),
            message=f"{error}\nhelp: until it is fixed, `scn check` stops here and the editor uses the defaults",
            severity=types.DiagnosticSeverity.Error,
            source="scn",
        )


def build_server(debounce: float = DEBOUNCE) -> ScnServer:
    """The server with every feature registered."""
    server = ScnServer(debounce)

    def feature(name: str, options: Any = None) -> Callable[[_H], _H]:
        return server.feature(name, options)

    @feature(types.INITIALIZE)
    def initialize(ls: ScnServer, params: types.InitializeParams) -> None:
        for folder in params.workspace_folders or []:
            ls.project.add_root(path_of(folder.uri))
        if not params.workspace_folders and params.root_uri:
            ls.project.add_root(path_of(params.root_uri))

    @feature(types.INITIALIZED)
    def initialized(ls: ScnServer, params: types.InitializedParams) -> None:
        watching = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watching and watching.dynamic_registration:  # Neovim, Helix: ask for the files the check reads
            watchers = [types.FileSystemWatcher(glob_pattern=glob) for glob in WATCHED]
            options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
            method = types.WORKSPACE_DID_CHANGE_WATCHED_FILES
            registration = types.Registration(id="scn-files", method=method, register_options=options)
            ls.client_register_capability(types.RegistrationParams(registrations=[registration]))
        ls.check_now()

    @feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ScnServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.project.open(path_of(params.text_document.uri), params.text_document.text)
        ls.check_now()

    @feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ScnServer, params: types.DidChangeTextDocumentParams) -> None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        ls.project.open(path_of(params.text_document.uri), document.source)
        ls.later()

    @feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ScnServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.project.close(path_of(params.text_document.uri))
        ls.later()

    @feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: ScnServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.later()  # a changed settings file is read again by the check

    @feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ScnServer, params: types.DidSaveTextDocumentParams) -> None:
        if os.path.basename(path_of(params.text_document.uri)) in SETTINGS_FILES:
            ls.later()  # a client that syncs scn.toml, and sends no file events

    @feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: ScnServer, params: types.HoverParams) -> types.Hover | None:
        path = path_of(params.text_document.uri)
        index = ls.fresh()
        lines = ls.lines(path)
        offset = lines.offset(params.position)
        if path.endswith(".scn"):
            text = hover_scn(index, path, lines.text, offset)
        else:
            text = hover_template(index.checked, lines.text, offset)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    @feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "|", " "]))
    def completion(ls: ScnServer, params: types.CompletionParams) -> types.CompletionList:
        path = path_of(params.text_document.uri)
        index = ls.fresh()
        lines = ls.lines(path)
        offset = lines.offset(params.position)
        symbols = index.checked.symbols
        if path.endswith(".scn"):
            items = complete_scn(symbols, index.scenario_at(path, offset), lines.text, offset)
        else:
            items = complete_template(symbols, lines.text, offset)
        return types.CompletionList(is_incomplete=False, items=items)

    def occurrence_at(ls: ScnServer, uri: str, position: types.Position) -> tuple[Index, Occurrence | None]:
        path = path_of(uri)
        index = ls.fresh()
        return index, index.at(path, ls.lines(path).offset(position))

    @feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: ScnServer, params: types.DefinitionParams) -> types.Location | None:
        index, occurrence = occurrence_at(ls, params.text_document.uri, params.position)
        if occurrence is None:
            return None
        declared = index.declaration(occurrence.namespace, occurrence.name)
        return ls.location(declared) if declared is not None else None

    @feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls: ScnServer, params: types.ReferenceParams) -> list[types.Location] | None:
        index, occurrence = occurrence_at(ls, params.text_document.uri, params.position)
        if occurrence is None:
            return None
        found = index.all_of(occurrence.namespace, occurrence.name)
        if not params.context.include_declaration:
            found = [o for o in found if not o.declaration]
        return [ls.location(o) for o in found]

    @feature(types.TEXT_DOCUMENT_RENAME)
    def rename(ls: ScnServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
        index, occurrence = occurrence_at(ls, params.text_document.uri, params.position)
        if occurrence is None:
            return None
        try:
            changes = rename_edits(index, occurrence, params.new_name, ls.lines)
        except ValueError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        return types.WorkspaceEdit(changes={uri_of(path): edits for path, edits in changes.items()})

    @feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: ScnServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        path = path_of(params.text_document.uri)
        if not path.endswith(".scn"):
            return None
        return format_document(path, ls.lines(path))

    @feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: ScnServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        path = path_of(params.text_document.uri)
        ls.fresh()
        lines = ls.lines(path)
        wanted = (lines.offset(params.range.start), lines.offset(params.range.end))
        return code_actions(ls.findings.get(path, []), wanted, ls.lines, uri_of) or None

    return server


def serve(debounce: float = DEBOUNCE) -> None:
    """Run the server on standard input and output until the client says exit."""
    build_server(debounce).start_io()
