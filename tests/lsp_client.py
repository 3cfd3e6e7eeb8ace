"""A real LSP client (pygls's) talking to `scn lsp` as a subprocess over stdio."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

#: How long a test waits for something the server should do.
PATIENCE = 20.0


def uri(path: Path) -> str:
    found = from_fs_path(str(path.resolve()))
    assert found is not None
    return str(found)


class Session:
    """The client, the diagnostics it was sent, and helpers to edit documents."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        #: Every publishDiagnostics notification, in order.
        self.published: list[types.PublishDiagnosticsParams] = []
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        #: What the server asked to register (client/registerCapability).
        self.registrations: list[types.Registration] = []
        self._arrived = asyncio.Event()

    def received(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)
        self._arrived.set()

    def latest(self, target: str) -> types.PublishDiagnosticsParams | None:
        return next((p for p in reversed(self.published) if p.uri == target), None)

    async def diagnostics(self, target: str, version: int | None = None) -> list[types.Diagnostic]:
        """The diagnostics of a document once the server has published them (for ``version``)."""
        deadline = time.monotonic() + PATIENCE
        while True:
            found = self.latest(target)
            if found is not None and (version is None or found.version == version):
                return list(found.diagnostics)
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no diagnostics for {target} (version {version}): {self.published[-3:]}"
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def next_diagnostics(self, target: str, after: int) -> list[types.Diagnostic]:
        """The diagnostics of a document published after the first ``after`` notifications."""
        deadline = time.monotonic() + PATIENCE
        while True:
            found = next((p for p in reversed(self.published[after:]) if p.uri == target), None)
            if found is not None:
                return list(found.diagnostics)
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no new diagnostics for {target}: {self.published[after:][-3:]}"
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    def files_changed(self, *paths: Path) -> None:
        """Tell the server files changed on disk, as an editor's file watcher does."""
        changes = [types.FileEvent(uri=uri(p), type=types.FileChangeType.Changed) for p in paths]
        self.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=changes))

    def open(self, path: Path, text: str | None = None, language: str = "scn") -> str:
        target = uri(path)
        self.texts[target] = path.read_text(encoding="utf-8") if text is None else text
        self.versions[target] = 1
        item = types.TextDocumentItem(uri=target, language_id=language, version=1, text=self.texts[target])
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return target

    def change(self, target: str, text: str) -> int:
        """Replace the whole text of an open document; gives its new version."""
        self.versions[target] += 1
        self.texts[target] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=target, version=self.versions[target]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return self.versions[target]

    def position(self, target: str, needle: str, shift: int = 0, occurrence: int = 0) -> types.Position:
        """The position of ``needle`` (its ``occurrence``-th) in a document, plus ``shift`` characters."""
        text = self.texts[target]
        offset = -1
        for _ in range(occurrence + 1):
            offset = text.index(needle, offset + 1)
        offset += shift
        line = text.count("\n", 0, offset)
        return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


@asynccontextmanager
async def lsp_session(
    root: Path, debounce: float = 0.1, capabilities: types.ClientCapabilities | None = None
) -> AsyncIterator[Session]:
    """`scn lsp` started on a workspace folder, initialised, shut down at the end."""
    client = LanguageClient("scn-tests", "1")
    session = Session(client)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)  # type: ignore[untyped-decorator]  # pygls's client
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        session.received(params)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)  # type: ignore[untyped-decorator]  # pygls's client
    def on_register(params: types.RegistrationParams) -> None:
        session.registrations.extend(params.registrations)

    await client.start_io(sys.executable, "-m", "scn", "lsp", "--debounce", str(debounce))
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=capabilities or types.ClientCapabilities(),
                root_uri=uri(root),
                workspace_folders=[types.WorkspaceFolder(uri=uri(root), name=root.name)],
            )
        )
        client.initialized(types.InitializedParams())
        yield session
        await asyncio.wait_for(client.shutdown_async(None), PATIENCE)
        client.exit(None)
        await asyncio.wait_for(client.stop(), PATIENCE)  # type: ignore[no-untyped-call]
    finally:
        server = client._server
        if server is not None and server.returncode is None:  # a test failed half-way
            server.kill()
            await client.stop()  # type: ignore[no-untyped-call]
