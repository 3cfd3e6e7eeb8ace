"""The language reference (docs/language.md) stays true to the implementation.

* Every ```scn block parses without a syntax error, and checks clean (no error, no
  warning) in a workspace together with the reference's `shop.scn` block, the
  declarations the examples may use. Files the examples name (templates, coupon pools)
  are supplied in memory.
* Every ```scn-error block, which shows a mistake on purpose, produces at least one
  diagnostic, and among them every code that its comments name (`# SCN105: ...`).
* The table of diagnostic codes matches the registry exactly (code, name, severity),
  and every built-in function, event, record field, currency and language is
  mentioned.
* The formatting example is what `scn fmt` really produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.interpreter.checker import check_workspace
from scn.interpreter.codes import REGISTRY
from scn.interpreter.workspace import workspace_from_texts
from scn.stdlib.catalog import (
    ALWAYS_SET,
    BUILTIN_EVENTS,
    ENTITY_FIELDS,
    FUNCTIONS,
    ISO_CURRENCIES,
    LANGUAGES,
    TEMPLATE_ALWAYS,
    TEMPLATE_FILTERS,
    TEMPLATE_TESTS,
    TEMPLATE_WITH_BONUS,
    TEMPLATE_WITH_COUPON,
    TEMPLATE_WITH_EVENT,
    TEMPLATE_WITH_ORDER,
    TEMPLATE_WITH_PRODUCTS,
)

from .conftest import ROOT

DOC = ROOT / "docs" / "language.md"
PRELUDE_MARK = "# shop.scn"
PRELUDE_FILE = "shop.scn"
EXAMPLE_FILE = "example.scn"

#: A template body for every `html`/`plain` file an example names: it reads only what
#: every send provides, and it has the unsubscribe link.
TEMPLATE_BODY = '<p>Hello {{ contact.first_name }}</p>\n<a href="{{ unsubscribe_url }}">Unsubscribe</a>\n'
POOL_BODY = "code\nCODE-0001\nCODE-0002\n"
_FILE_PART = re.compile(r'\b(?:html|plain)\s+"([^"]+)"')
_POOL = re.compile(r'\bfrom\s+pool\s+"([^"]+)"')
_FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"\bSCN\d{3}\b")


@dataclass(frozen=True)
class Block:
    """One fenced code block of the document."""

    kind: str
    text: str
    line: int

    @property
    def id(self) -> str:
        first = self.text.splitlines()[0] if self.text.strip() else ""
        return f"line{self.line}:{first[:40]}"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(kind: str) -> list[Block]:
    text = doc_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(text)
        if m.group(1) == kind
    ]


SCN_BLOCKS = blocks("scn")
ERROR_BLOCKS = blocks("scn-error")


def prelude() -> str:
    (found,) = [b.text for b in SCN_BLOCKS if b.text.startswith(PRELUDE_MARK)]
    return found


def resources_for(*texts: str) -> dict[str, str]:
    """The files named by these .scn texts, all at the workspace root."""
    files: dict[str, str] = {}
    for text in texts:
        files.update((path, TEMPLATE_BODY) for path in _FILE_PART.findall(text))
        files.update((path, POOL_BODY) for path in _POOL.findall(text))
    return files


def check_with_prelude(text: str, *, with_resources: bool) -> list[str]:
    """`file:line:col CODE message` for every finding about ``text`` next to the prelude."""
    files = {PRELUDE_FILE: prelude()}
    if text != files[PRELUDE_FILE]:
        files[EXAMPLE_FILE] = text
    resources = resources_for(*files.values()) if with_resources else resources_for(files[PRELUDE_FILE])
    result = check_workspace(workspace_from_texts(files, resources))
    return [f"{d.span.file}:{d.span.line}:{d.span.column} {d.code.code} {d.message}" for d in result.diagnostics]


def test_the_document_has_examples() -> None:
    assert len(SCN_BLOCKS) >= 40
    assert len(ERROR_BLOCKS) >= 10
    assert prelude()


@pytest.mark.parametrize("block", SCN_BLOCKS, ids=lambda b: b.id)
def test_scn_example_parses(block: Block) -> None:
    result = parse(block.text, EXAMPLE_FILE)
    assert result.diagnostics == (), [f"{d.span.line}:{d.span.column} {d.message}" for d in result.diagnostics]
    assert result.module is not None
    assert result.module.items, "an example must declare or do something"


@pytest.mark.parametrize("block", SCN_BLOCKS, ids=lambda b: b.id)
def test_scn_example_checks_clean(block: Block) -> None:
    assert check_with_prelude(block.text, with_resources=True) == []


@pytest.mark.parametrize("block", ERROR_BLOCKS, ids=lambda b: b.id)
def test_error_example_is_reported(block: Block) -> None:
    parsed = parse(block.text, EXAMPLE_FILE)
    found = {d.code.code for d in parsed.diagnostics}
    found |= {line.split()[1] for line in check_with_prelude(block.text, with_resources=False)}
    assert found, "an scn-error example must produce at least one diagnostic"
    comments = "\n".join(line for line in block.text.splitlines() if line.lstrip().startswith("#"))
    named = set(_CODE.findall(comments))
    assert named, "an scn-error example names the code(s) it shows in a comment"
    assert named <= found, f"expected {sorted(named)}, got {sorted(found)}"


# ---------------------------------------------------------------- diagnostic codes


def code_table() -> dict[str, tuple[str, str]]:
    """Rows `| <a id="scn101"></a>SCN101 | `unknown-name` | error | ... |` of the document (the anchor
    is where `scn explain`, JSON's `url` and SARIF's `helpUri` point): code -> (name, severity)."""
    rows: dict[str, tuple[str, str]] = {}
    row = r'^\| <a id="(scn\d{3})"></a>(SCN\d{3}) \| `([a-z-]+)` \| (error|warning) \| .+ \|$'
    for match in re.finditer(row, doc_text(), re.MULTILINE):
        anchor, code, name, severity = match.groups()
        assert anchor == code.lower(), f"{code}'s anchor is {anchor}"
        assert code not in rows, f"{code} is listed twice"
        rows[code] = (name, severity)
    return rows


def test_every_registered_code_is_in_the_document() -> None:
    text = doc_text()
    missing = [code for code in REGISTRY if code not in text]
    assert missing == []


def test_the_code_table_matches_the_registry_exactly() -> None:
    expected = {c.code: (c.name, c.severity.value) for c in REGISTRY.values()}
    assert code_table() == expected


def test_codes_named_in_the_text_exist() -> None:
    assert set(_CODE.findall(doc_text())) <= set(REGISTRY)


# ---------------------------------------------------------------- the catalog


def test_every_function_is_documented_with_its_parameters() -> None:
    text = doc_text()
    for spec in FUNCTIONS.values():
        params = ", ".join(p.name if p.required else f"{p.name} = …" for p in spec.params)
        assert f"| `{spec.name}({params})` |" in text, spec.name
        assert spec.description in text, spec.name


def test_every_builtin_event_is_documented() -> None:
    text = doc_text()
    for spec in BUILTIN_EVENTS.values():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{spec.name}` |")), None)
        assert row is not None, spec.name
        assert f"| {'yes' if spec.frequent else 'no'} |" in row, spec.name
        assert spec.description in row, spec.name
        for record in spec.carries:
            assert record in row, (spec.name, record)
        for name in spec.fields:
            if name != "occurred_at" and name not in spec.carries:
                assert f"`{name}`" in row, (spec.name, name)


def test_every_record_field_is_documented() -> None:
    text = doc_text()
    for record, fields in ENTITY_FIELDS.items():
        assert f"**{record}**" in text, record
        for name in fields:
            assert f"| `{name}` |" in text, (record, name)


def test_the_fields_that_may_be_unset_are_the_catalogs() -> None:
    """Under each record's table, "Always set:" lists ALWAYS_SET; in the event table,
    the fields marked "may be unset" are each event's optional ones."""
    text = doc_text()
    records = text[text.index("### 7.2 Records") :]
    for record, fields in ENTITY_FIELDS.items():
        after = records[records.index(f"**{record}**") :]
        line = " ".join(after[after.index("Always set:") :].split("\n\n")[0].split())
        listed = (
            set(fields) if line.startswith("Always set: every field.") else set(_TICKED.findall(line.split(";")[0]))
        )
        assert listed == ALWAYS_SET[record], record
    for spec in BUILTIN_EVENTS.values():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{spec.name}` |"))
        groups = _FIELD_GROUP.findall(row.split(" | ")[1])  # `a`, `b` (type[, may be unset])
        marked = {name for names, kind in groups if "may be unset" in kind for name in _TICKED.findall(names)}
        assert marked == spec.optional, spec.name


_TICKED = re.compile(r"`([a-z_]+)`")
_FIELD_GROUP = re.compile(r"((?:`[a-z_]+`(?:, )?)+) \(([^)]*)\)")


def test_template_variables_and_filters_are_documented() -> None:
    text = doc_text()
    variables = {
        **TEMPLATE_ALWAYS,
        **TEMPLATE_WITH_ORDER,
        **TEMPLATE_WITH_COUPON,
        **TEMPLATE_WITH_PRODUCTS,
        **TEMPLATE_WITH_BONUS,
        **TEMPLATE_WITH_EVENT,
    }
    for name in variables:
        assert f"| `{name}` |" in text, name
    filters = text[text.index("### 8.3 Filters") : text.index("### 8.4")]
    rows = [line.split("|")[1] for line in filters.splitlines() if line.startswith("| `")]
    documented = {name.strip(" `") for row in rows for name in row.split(",")}
    assert documented == set(TEMPLATE_FILTERS)
    for name in TEMPLATE_TESTS:
        assert f"`is {name}" in filters, name


def test_the_printed_values_table_is_what_templates_print() -> None:
    """Section 8.2 shows each kind of value as three languages print it: it must be so."""
    import datetime as dt
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from scn.interpreter.values import Money, Percent
    from scn.stdlib import formatting

    values = {
        "money `1234.5 UAH`": Money("1234.5", "UAH"),
        "number `1234.5`": Decimal("1234.5"),
        "percentage `12.5%`": Percent("12.5"),
        "date `2026-12-10`": dt.date(2026, 12, 10),
        "moment `2026-12-09T23:30Z`, contact in Kyiv": dt.datetime(2026, 12, 9, 23, 30, tzinfo=dt.UTC),
        "duration `36h`": dt.timedelta(hours=36),
        "an unset field": None,
    }
    text = doc_text()
    table = text[text.index("### 8.2") : text.index("### 8.3")]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    rows = [row for row in rows if row[0] not in ("Value", "---")]
    assert [row[0] for row in rows] == list(values)
    for label, *shown in rows:
        for language, cell in zip(("en", "uk", "pl"), shown, strict=True):
            printed = formatting.shown(values[label], formatting.locale_of(language), ZoneInfo("Europe/Kyiv"))
            expected = "" if cell == "(nothing)" else cell.strip("`")
            assert printed.replace("\xa0", " ").replace("\u202f", " ") == expected, (label, language)


def test_currencies_and_languages_are_listed() -> None:
    words = set(doc_text().split())
    assert sorted(ISO_CURRENCIES - words) == []
    assert sorted(LANGUAGES - words) == []


# ---------------------------------------------------------------- formatting


def test_the_formatting_example_is_what_scn_fmt_does() -> None:
    text = doc_text()
    before = re.search(r"^Before:\n\n```scn\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    after = re.search(r"^After `scn fmt`:\n\n```scn\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert before is not None and after is not None
    assert format_source(parse(before.group(1), EXAMPLE_FILE)) == after.group(1)
    assert format_source(parse(after.group(1), EXAMPLE_FILE)) == after.group(1)


def test_the_quoted_example_file_is_quoted_exactly() -> None:
    example = (ROOT / "examples" / "unpaid_recovery.scn").read_text(encoding="utf-8")
    assert any(b.text == example for b in SCN_BLOCKS)
