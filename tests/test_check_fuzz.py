"""`scn check` (and `scn fmt`) on mutated examples: only our own diagnostics come out.

The files of examples/ and the ```scn blocks of docs/language.md, mutated the ways hostile
or clumsy input is: tokens and characters deleted, doubled, swapped and inserted, pieces
of other files spliced in, deep nesting, unusual Unicode, very long lines. Whatever the
text, the whole check runs without an exception, every diagnostic points inside the file
it is about, the reports render, and the formatter takes whatever parses.

A bounded run is part of the suite; `SCN_LONG_FUZZ=1` runs `SCN_FUZZ_EXAMPLES` cases
(default 20,000) instead, with a new seed each time (hypothesis prints it on failure).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scn.cli import main
from scn.grammar import parse
from scn.grammar._format import FormatError, format_source
from scn.interpreter.checker import check_workspace
from scn.interpreter.diagnostics import Diagnostic
from scn.interpreter.render import render_json, render_sarif, render_text
from scn.interpreter.span import Span
from scn.interpreter.suggest import closest_keyword, closest_name
from scn.interpreter.workspace import load_workspace, workspace_from_texts

from .conftest import ROOT
from .test_docs import ERROR_BLOCKS, PRELUDE_FILE, SCN_BLOCKS, prelude, resources_for

LONG = os.environ.get("SCN_LONG_FUZZ") == "1"
EXAMPLES = int(os.environ.get("SCN_FUZZ_EXAMPLES", "20000")) if LONG else 150

FOLDER = ROOT / "examples"
#: The examples' workspace: every .scn file, and the templates and pools they name.
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in sorted(FOLDER.glob("*.scn"))}
RESOURCES = {
    str(p.relative_to(FOLDER)): p.read_text(encoding="utf-8")
    for p in sorted(FOLDER.rglob("*"))
    if p.suffix in (".html", ".txt", ".csv") and not p.name.endswith(".expected.txt")
}
DOC_TEXTS = [b.text for b in (*SCN_BLOCKS, *ERROR_BLOCKS)]
CORPUS = [*SOURCES.values(), *DOC_TEXTS]
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
TOKENS = sorted({t for text in CORPUS for t in _TOKEN.findall(text) if not t.isspace()})
#: Characters that trip readers: controls, line and paragraph separators, a BOM, zero-width
#: and direction marks, combining marks, other scripts' digits, full-width letters, emoji,
#: characters outside the BMP, quotes and braces of the language and of templates.
ODD = (
    "\x00\x01\x07\x08\t\x0b\x0c\r\x1b\x7f\x85\xa0\u00ad\u0301\u0336\u0660\u0663\u06f5\u0966\u200b\u200c\u200d"
    "\u200e\u200f\u2028\u2029\u202e\u2066\u2069\ufeff\ufffd\uff10\uff21\u2160\u2167\u00b2\u00bd\u221e\u0130\u0131"
    "\u00df\u1e9e\u03a3\u2126\U0001f600\U0001f44d\U0001d400\U00010348\U000e0041\u3000\u4e2d\uac00"
    "\"'`{}()[]%#@$\\<>:;,.=!?+-*/|&^~_"
)


# ---------------------------------------------------------------- mutations


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@st.composite
def token_edit(draw: st.DrawFn, text: str) -> str:
    parts = tokens(text) or [""]
    at = draw(st.integers(0, len(parts) - 1))
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace"]))
    if kind == "delete":
        del parts[at : at + draw(st.integers(1, 8))]
    elif kind == "duplicate":
        parts[at:at] = parts[at : at + draw(st.integers(1, 12))] * draw(st.integers(1, 3))
    elif kind == "swap":
        other = draw(st.integers(0, len(parts) - 1))
        parts[at], parts[other] = parts[other], parts[at]
    else:
        new = draw(st.sampled_from(TOKENS))
        spaced = draw(st.sampled_from([new, f" {new} ", f"\n{new}\n"]))
        parts[at : at + (kind == "replace")] = [spaced]
    return "".join(parts)


@st.composite
def char_edit(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    kind = draw(st.sampled_from(["delete", "insert", "replace", "unicode"]))
    if kind == "delete":
        return text[:at] + text[at + draw(st.integers(1, 5)) :]
    if kind == "unicode":
        inserted = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=4))
    else:
        inserted = draw(st.text(st.sampled_from(ODD), min_size=1, max_size=4))
    return text[:at] + inserted + text[at + (kind == "replace") :]


@st.composite
def splice(draw: st.DrawFn, text: str) -> str:
    donor = draw(st.sampled_from(CORPUS))
    start = draw(st.integers(0, len(donor)))
    piece = donor[start : start + draw(st.integers(1, 400))]
    at = draw(st.integers(0, len(text)))
    return text[:at] + piece + text[at:]


@st.composite
def deep(draw: st.DrawFn, text: str) -> str:
    """Deep nesting where the grammar nests: parentheses, `not`, blocks, templates' braces."""
    n = draw(st.sampled_from([40, 100, 300, 1000, 5000]))
    shape = draw(st.sampled_from([
        "(" * n + "1" + ")" * n,
        "not " * n + "x",
        "(" * n,
        ")" * n,
        "if contact.vip\n" * n + "stop\n" + "end\n" * n,
        "if contact.vip\n" * n,
        "end\n" * n,
        "[" * n + "]" * n,
        "{{" * n + "}}" * n,
        "1 + " * n + "1",
        "- " * n + "1",
        '"{{ contact' + ".a" * n + ' }}"',
        '"{{ contact.first_name' + "|upper" * n + ' }}"',
    ]))  # fmt: skip
    at = draw(st.integers(0, len(text)))
    return text[:at] + shape + text[at:]


@st.composite
def long_line(draw: st.DrawFn, text: str) -> str:
    n = draw(st.sampled_from([1_000, 20_000, 200_000]))
    piece = draw(st.sampled_from(["x" * n, '"' + "й" * n + '"', "9" * n, "a." * (n // 2) + "b", "# " + "c" * n]))
    at = draw(st.integers(0, len(text)))
    return text[:at] + piece + text[at:]


MUTATIONS: list[Callable[[str], st.SearchStrategy[str]]] = [token_edit, char_edit, splice, deep, long_line]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 4))):
        text = draw(draw(st.sampled_from(MUTATIONS))(text))
    return text


@st.composite
def workspaces(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """The examples with one file mutated, or a docs example (next to the reference's
    shop.scn) mutated; with the templates and pools they name."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(SOURCES)))
        return {**SOURCES, name: draw(mutated(SOURCES[name]))}, RESOURCES
    block = draw(st.sampled_from(DOC_TEXTS))
    text = draw(mutated(block))
    files = {PRELUDE_FILE: prelude(), "example.scn": text}
    return files, resources_for(prelude(), block)


# ---------------------------------------------------------------- what must hold


def assert_inside(span: Span, texts: dict[str, str], what: Diagnostic) -> None:
    text = texts.get(span.file)
    assert text is not None, f"a diagnostic about {span.file!r}, which is no file of the workspace: {what}"
    lines = text.split("\n")
    assert 0 <= span.start <= span.end <= len(text), f"offsets outside the file: {what}"
    assert 1 <= span.line <= span.end_line <= len(lines), f"lines outside the file: {what}"
    assert 1 <= span.column <= len(lines[span.line - 1]) + 1, f"column outside its line: {what}"
    assert 1 <= span.end_column <= len(lines[span.end_line - 1]) + 1, f"end column outside its line: {what}"


#: However hostile the text, a check this slow is a defect (a quadratic step): the cases
#: are a few hundred kilobytes at most, and check in milliseconds to a second.
SLOW = 30.0


def check_like_the_cli(files: dict[str, str], resources: dict[str, str]) -> None:
    started = time.perf_counter()
    result = check_workspace(workspace_from_texts(files, resources))
    assert time.perf_counter() - started < SLOW, "the check took too long"
    texts = {**files, **resources}
    for diagnostic in result.diagnostics:
        assert diagnostic.code.code.startswith("SCN") and diagnostic.message, diagnostic
        assert_inside(diagnostic.span, texts, diagnostic)
        for related in diagnostic.related:
            assert_inside(related.span, texts, diagnostic)
    rendered = render_text(list(result.diagnostics), texts.get, frames=True)
    assert "Traceback" not in rendered
    render_json(list(result.diagnostics), len(files))
    render_sarif(list(result.diagnostics), "0")
    for path, text in files.items():
        parsed = parse(text, path)
        try:
            format_source(parsed)
        except FormatError:
            assert not parsed.ok, f"{path} parses, and the formatter refused it"


@pytest.mark.timeout(0 if LONG else 300)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=workspaces())
def test_mutated_examples_give_only_diagnostics(case: tuple[dict[str, str], dict[str, str]]) -> None:
    check_like_the_cli(*case)


#: Bytes that are no UTF-8 text, or that readers treat specially (a BOM, a lone CR).
ODD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\x00", b"\xf4\x90\x80\x80"]


@st.composite
def files_on_disk(draw: st.DrawFn) -> tuple[str, bytes]:
    """One example file as bytes, mutated as text and then, sometimes, as bytes."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    data = draw(mutated(SOURCES[name])).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(ODD_BYTES)) + data[at:]
    return name, data


@pytest.mark.timeout(0 if LONG else 300)
@settings(max_examples=EXAMPLES // 5, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=files_on_disk(), output=st.sampled_from(["text", "concise", "json", "github", "sarif"]))
def test_the_commands_read_mutated_files_from_disk(case: tuple[str, bytes], output: str) -> None:
    """`scn check` and `scn fmt --check` as run on a folder: reading (not UTF-8, a BOM, CR line
    ends), every output format, the exit codes; never "internal error"."""
    name, data = case
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(FOLDER, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.events.jsonl"))
        Path(folder, name).write_bytes(data)
        try:
            data.decode("utf-8")
            checked: set[int] = {0, 1}  # clean, findings
        except UnicodeDecodeError:
            checked = {2}  # could not run: a file is not UTF-8 (SCN000)
        runs: list[tuple[list[str], set[int]]] = [
            (["check", folder, "--format", output], checked),
            (["fmt", "--check", folder], {0, 1, 2}),  # 2: a file with syntax errors, or not UTF-8
        ]
        for argv, allowed in runs:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
            assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue(), err.getvalue()
            assert code in allowed, (argv[0], code, err.getvalue()[-2000:])


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_unmutated_examples_check_clean(name: str) -> None:
    """The corpus itself: the fuzzer starts from files that check (else it would test less)."""
    result = check_workspace(workspace_from_texts({name: SOURCES[name]}, RESOURCES))
    assert not result.errors, [d.message for d in result.diagnostics]


def test_the_corpus_is_what_it_says() -> None:
    # The five customer cases, the birthdays and the broadcast.
    assert len(SOURCES) == 7 and len(DOC_TEXTS) > 50 and len(TOKENS) > 300
    assert all(Path(FOLDER, path).exists() for path in RESOURCES)


# ---------------------------------------------------------------- what the fuzzer found


def test_a_very_long_word_is_not_compared_with_every_keyword_letter_by_letter() -> None:
    """Did-you-mean computed the whole edit distance between a 200,000-letter word and each
    keyword the parser expected (about 17 s for one such word): a word whose length differs
    from a keyword's by more than the distance allowed cannot be a typo of it."""
    text = 'scenario a "A"\n  on order.paid\n  ' + "x" * 200_000 + "\n  stop\nend\n"
    started = time.perf_counter()
    result = check_workspace(workspace_from_texts({"long.scn": text}))
    assert time.perf_counter() - started < 2.0
    assert [d.code.code for d in result.diagnostics] == ["SCN001"]
    assert closest_keyword("scenaro", ["scenario", "segment"]) == "scenario", "typos are still found"
    assert closest_name("thnaks", ["thanks", "vip"]) == "thanks"
    assert closest_name("t" * 100_000, ["thanks"]) is None


def test_fmt_says_which_file_is_not_utf8_and_formats_the_others(tmp_path: Path) -> None:
    """`scn fmt` read each file without a guard: a file that is not UTF-8 was an internal error."""
    (tmp_path / "bad.scn").write_bytes(b'list a "\xff"\n')
    (tmp_path / "good.scn").write_text('list  b "B"\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["fmt", "--check", str(tmp_path)])
    assert code == 2 and "internal error" not in err.getvalue(), err.getvalue()
    assert "bad.scn" in err.getvalue() and "not UTF-8" in err.getvalue(), err.getvalue()
    assert "would reformat" in out.getvalue() and "good.scn" in out.getvalue(), out.getvalue()


def test_a_file_named_with_a_nul_character_is_a_missing_file(tmp_path: Path) -> None:
    """A template or pool path holding NUL made the file read raise ValueError (not an
    OSError): an internal error of `scn check` on a folder."""
    (tmp_path / "t.scn").write_text(
        'template t email\n  subject "x"\n  html "a\x00b.html"\nend\n\ncoupon P discount 10% from pool "c\x00.csv"\n',
        encoding="utf-8",
    )
    result = check_workspace(load_workspace([str(tmp_path)]))
    codes = sorted(d.code.code for d in result.diagnostics)
    assert codes == ["SCN201", "SCN210"], [d.message for d in result.diagnostics]


def test_a_long_run_of_refused_tokens_is_skipped_in_linear_time() -> None:
    """`a.a.a.…` after a step: each `.` was refused and tried against every repair (up to
    twelve `end`s on a copy of the parser), so 100,000 of them took about 50 s. After the
    errors of a file are reported, what follows them is skipped without trying repairs."""
    source = (ROOT / "examples" / "unpaid_recovery.scn").read_text(encoding="utf-8")
    at = source.index("\n", int(len(source) * 0.9))
    for piece in ("a." * 100_000 + "b", ". " * 100_000, "end " * 50_000):
        text = source[:at] + "\n" + piece + source[at:]
        started = time.perf_counter()
        result = parse(text, "unpaid_recovery.scn")
        assert time.perf_counter() - started < 5.0, piece[:4]
        assert not result.ok and result.diagnostics[0].code.code in ("SCN001", "SCN004"), result.diagnostics[0]
        line = source[:at].count("\n") + 2
        assert result.diagnostics[0].span.line == line, (piece[:4], result.diagnostics[0])


@pytest.mark.parametrize("digits", [4300, 4301, 200_000])
def test_a_template_number_too_long_for_int_is_a_finding(digits: int) -> None:
    """Jinja's lexer reads numbers with int(), which refuses more than 4300 digits: a
    ValueError, an internal error of scn check."""
    text = f'template y email\n  subject "{{{{ {"9" * digits} }}}}"\n  text "Hello"\nend\non order.paid send email y\n'
    result = check_workspace(workspace_from_texts({"long.scn": text}))
    codes = [d.code.code for d in result.diagnostics if d.severity.name.lower() == "error"]
    if digits <= 4300:
        assert not any(c == "SCN202" for c in codes), result.diagnostics
    else:
        found = [d for d in result.diagnostics if d.code.code == "SCN202"]
        assert found and "4300 digits" in found[0].message, result.diagnostics
