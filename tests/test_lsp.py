"""`scn lsp` driven by a real LSP client (pygls's) over stdio, as an editor drives it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .lsp_client import Session, lsp_session, uri

SHOP = """list vip "VIP customers"
attribute plan: string
event lesson.done(course: string)
coupon WELCOME discount 10% code "WELCOME" for list vip
template hello sms
  text "Hello"
end
template mail email
  subject "Hi"
  html "mail.html"
end
"""
FLOW = """scenario welcome "Welcome"
  on contact.registered
  stop if in_list(vip)
  add to list vip
  wait 1d
  send sms hello
end

scenario lessons
  on lesson.done where event.course == "x"
  stop unless contact.orders.count > 1
  send email mail with coupon WELCOME
  remove from list vip
end
"""
MAIL = "<p>Hi {{ contact.first_name|title }}</p><a href='{{ unsubscribe_url }}'>unsubscribe</a>\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "shop.scn").write_text(SHOP, encoding="utf-8")
    (tmp_path / "flow.scn").write_text(FLOW, encoding="utf-8")
    (tmp_path / "mail.html").write_text(MAIL, encoding="utf-8")
    return tmp_path


def check_json(folder: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "scn", "check", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    records: list[dict[str, object]] = json.loads(done.stdout)["diagnostics"]
    return records


def apply(text: str, edits: Sequence[types.TextEdit | types.AnnotatedTextEdit]) -> str:
    """Apply non-overlapping edits (last first, so earlier positions stay right)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: types.Position) -> int:
        return starts[p.line] + p.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def codes(found: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in found]


async def test_diagnostics_are_those_of_scn_check(folder: Path) -> None:
    broken = FLOW.replace("add to list vip", "add to list vpi").replace("wait 1d", "wait 30 min")
    (folder / "flow.scn").write_text(broken, encoding="utf-8")
    expected = [r for r in check_json(folder) if str(r["filename"]).endswith("flow.scn")]
    assert len(expected) == 2
    async with lsp_session(folder) as session:
        target = session.open(folder / "flow.scn")
        found = await session.diagnostics(target, version=1)
    assert codes(found) == [r["code"] for r in expected]
    for diagnostic, record in zip(found, expected, strict=True):
        location, end = record["location"], record["end_location"]
        assert isinstance(location, dict) and isinstance(end, dict)
        assert (diagnostic.range.start.line + 1, diagnostic.range.start.character + 1) == (
            location["row"],
            location["column"],
        )
        assert (diagnostic.range.end.line + 1, diagnostic.range.end.character + 1) == (end["row"], end["column"])
        assert isinstance(record["help"], list)
        assert diagnostic.message == str(record["message"]) + "".join(f"\nhelp: {h}" for h in record["help"])
        assert diagnostic.source == "scn"
        assert diagnostic.severity == types.DiagnosticSeverity.Error


async def test_an_edit_is_checked_and_a_burst_of_edits_once(folder: Path) -> None:
    async with lsp_session(folder, debounce=0.3) as session:
        target = session.open(folder / "flow.scn")
        assert await session.diagnostics(target, version=1) == []
        text = FLOW
        for letter in "vpi":  # typing, one keystroke at a time
            text = text.replace("add to list vip", "add to list vip" + letter, 1)
            last = session.change(target, text)
        found = await session.diagnostics(target, version=last)
        assert codes(found) == ["SCN101"]
        published = [p.version for p in session.published if p.uri == target and p.version is not None]
        assert published == [1, last], "the burst was checked once, after its last edit"
        fixed = session.change(target, FLOW)
        assert await session.diagnostics(target, version=fixed) == []


async def test_an_open_document_is_read_in_place_of_the_disk(folder: Path) -> None:
    async with lsp_session(folder) as session:
        flow = session.open(folder / "flow.scn")
        shop = session.open(folder / "shop.scn")
        assert await session.diagnostics(flow, version=1) == []
        session.change(shop, SHOP.replace('list vip "VIP customers"\n', ""))  # unsaved: the disk still has it
        await session.diagnostics(shop, version=2)
        found = await session.diagnostics(flow, version=1)
        assert set(codes(found)) == {"SCN101"} and len(found) == 3


async def test_a_template_file_gets_its_diagnostics(folder: Path) -> None:
    (folder / "mail.html").write_text(MAIL.replace("first_name", "frist_name"), encoding="utf-8")
    async with lsp_session(folder) as session:
        template = uri(folder / "mail.html")
        found = await session.diagnostics(template)
        assert codes(found) == ["SCN214"] or all(c.startswith("SCN2") for c in codes(found))
        assert "first_name" in found[0].message
        opened = session.open(folder / "mail.html", language="html")
        actions = await session.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=opened),
                range=found[0].range,
                context=types.CodeActionContext(diagnostics=found),
            )
        )
        assert actions is not None and len(actions) == 1
        action = actions[0]
        assert isinstance(action, types.CodeAction) and action.edit is not None and action.edit.changes
        fixed = apply(session.texts[opened], action.edit.changes[opened])
        assert fixed == MAIL
        version = session.change(opened, fixed)
        assert await session.diagnostics(opened, version=version) == []


async def test_hover(folder: Path) -> None:
    async with lsp_session(folder) as session:
        target = session.open(folder / "flow.scn")
        await session.diagnostics(target, version=1)

        async def hover(needle: str, shift: int = 0, occurrence: int = 0) -> str:
            found = await session.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=target),
                    position=session.position(target, needle, shift, occurrence),
                )
            )
            assert found is not None and isinstance(found.contents, types.MarkupContent)
            return found.contents.value

        about_vip = await hover("vip", occurrence=1)
        assert "**list** `vip`" in about_vip and 'list vip "VIP customers"' in about_vip
        assert "shop.scn" in about_vip and "line 1" in about_vip
        assert "string" in await hover("lesson.done")
        assert "`event.course`: string" in await hover("lesson.done")
        assert await hover("count") == "**field** `contact.orders.count`: number (of orders)"
        assert "in_list(list: list) -> bool" in await hover("in_list")
        assert "the contact is a member of this list" in await hover("in_list")
        assert "`wait DURATION`" in await hover("wait")
        assert "**coupon** `WELCOME`" in await hover("WELCOME")
        template = session.open(folder / "mail.html", language="html")
        found = await session.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=template),
                position=session.position(template, "title"),
            )
        )
        assert found is not None and isinstance(found.contents, types.MarkupContent)
        assert found.contents.value.startswith("**filter** `title`")


async def test_completion(folder: Path) -> None:
    async with lsp_session(folder) as session:
        target = session.open(folder / "flow.scn")
        await session.diagnostics(target, version=1)

        async def labels(text: str, needle: str) -> set[str]:
            session.change(target, text)
            found = await session.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=target),
                    position=session.position(target, needle, len(needle)),
                )
            )
            assert isinstance(found, types.CompletionList)
            return {item.label for item in found.items}

        steps = await labels(FLOW.replace("  wait 1d\n", "  wait 1d\n  \n"), "wait 1d\n  ")
        assert {"send", "wait", "add", "stop if", "end"} <= steps
        assert "currency" not in steps and "scenario" not in steps
        channels = await labels(FLOW.replace("send sms hello", "send "), "send ")
        assert channels == {"email", "sms", "push", "viber", "webpush"}
        assert {"hello"} <= await labels(FLOW.replace("send sms hello", "send sms h"), "send sms ")
        assert "mail" not in await labels(FLOW.replace("send sms hello", "send sms h"), "send sms ")
        assert {"vip"} <= await labels(FLOW.replace("add to list vip", "add to list "), "add to list ")
        fields = await labels(FLOW.replace("contact.orders.count > 1", "contact."), "unless contact.")
        assert {"first_name", "orders", "plan", "tags"} <= fields
        assert {"unpaid", "paid", "created"} <= await labels(
            FLOW.replace("on contact.registered", "on order."), "on order."
        )
        assert {"course", "occurred_at"} == await labels(FLOW.replace('event.course == "x"', "event."), "event.")
        values = await labels(FLOW.replace("stop if in_list(vip)", "stop if "), "stop if ")
        assert {"in_list", "contact", "vip", "bought"} <= values


async def test_definition_references_and_rename(folder: Path) -> None:
    async with lsp_session(folder) as session:
        flow = session.open(folder / "flow.scn")
        await session.diagnostics(flow, version=1)
        document = types.TextDocumentIdentifier(uri=flow)
        where = session.position(flow, "vip", 1)
        found = await session.client.text_document_definition_async(
            types.DefinitionParams(text_document=document, position=where)
        )
        assert isinstance(found, types.Location)
        assert found.uri == uri(folder / "shop.scn")
        assert (found.range.start, found.range.end) == (
            types.Position(line=0, character=5),
            types.Position(line=0, character=8),
        )
        references = await session.client.text_document_references_async(
            types.ReferenceParams(
                text_document=document, position=where, context=types.ReferenceContext(include_declaration=True)
            )
        )
        assert references is not None
        assert sorted((r.uri.rsplit("/", 1)[1], r.range.start.line) for r in references) == [
            ("flow.scn", 2),
            ("flow.scn", 3),
            ("flow.scn", 12),
            ("shop.scn", 0),
            ("shop.scn", 3),
        ]
        edit = await session.client.text_document_rename_async(
            types.RenameParams(text_document=document, position=where, new_name="regulars")
        )
        assert edit is not None and edit.changes is not None
        assert set(edit.changes) == {flow, uri(folder / "shop.scn")}
        (folder / "flow.scn").write_text(apply(FLOW, edit.changes[flow]), encoding="utf-8")
        (folder / "shop.scn").write_text(apply(SHOP, edit.changes[uri(folder / "shop.scn")]), encoding="utf-8")
        assert "vip" not in (folder / "flow.scn").read_text(encoding="utf-8")
        with pytest.raises(JsonRpcException, match="not a name"):
            await session.client.text_document_rename_async(
                types.RenameParams(text_document=document, position=where, new_name="two words")
            )
        builtin = session.position(flow, "contact.registered")
        with pytest.raises(JsonRpcException, match="built in"):
            await session.client.text_document_rename_async(
                types.RenameParams(text_document=document, position=builtin, new_name="x.y")
            )
    assert check_json(folder) == []


async def test_formatting_is_scn_fmt(folder: Path) -> None:
    messy = "list   vip\nscenario s on contact.registered\nadd to list vip   # in\n end\n"
    (folder / "messy.scn").write_text(messy, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "scn", "fmt", str(folder / "messy.scn")], check=True, capture_output=True)
    formatted = (folder / "messy.scn").read_text(encoding="utf-8")
    assert formatted != messy
    async with lsp_session(folder) as session:
        target = session.open(folder / "messy.scn", messy)
        edits = await session.client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=target),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        assert edits is not None and apply(messy, edits) == formatted
        session.change(target, "list vip\nscenario s\n  wait\nend\n")
        broken = await session.client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=target),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        assert broken is None


async def test_a_code_action_applies_the_repair(folder: Path) -> None:
    broken = FLOW.replace("wait 1d", "wait 30 min").replace("add to list vip", "add to list vpi")
    async with lsp_session(folder) as session:
        target = session.open(folder / "flow.scn", broken)
        found = await session.diagnostics(target, version=1)
        assert codes(found) == ["SCN101", "SCN006"] or sorted(codes(found)) == ["SCN006", "SCN101"]
        titles: dict[str, Sequence[types.TextEdit | types.AnnotatedTextEdit]] = {}
        for diagnostic in found:
            actions = await session.client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=target),
                    range=diagnostic.range,
                    context=types.CodeActionContext(diagnostics=[diagnostic]),
                )
            )
            assert actions is not None and len(actions) == 1
            action = actions[0]
            assert isinstance(action, types.CodeAction) and action.kind == types.CodeActionKind.QuickFix
            assert action.edit is not None and action.edit.changes is not None
            titles[action.title] = action.edit.changes[target]
        assert set(titles) == {"write `30m` (SCN006)", "change to `vip` (SCN101)"}
        text = broken
        for edits in titles.values():
            text = apply(text, edits)
        assert text == FLOW.replace("wait 1d", "wait 30m")
        version = session.change(target, text)
        assert await session.diagnostics(target, version=version) == []


def test_session_helpers_find_positions() -> None:
    session = Session.__new__(Session)
    session.texts = {"u": "ab\ncd vip\nvip"}
    assert session.position("u", "vip") == types.Position(line=1, character=3)
    assert session.position("u", "vip", occurrence=1) == types.Position(line=2, character=0)
