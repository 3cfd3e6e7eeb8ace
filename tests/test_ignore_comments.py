"""`# scn: ignore[CODE]` and `# scn: file-ignore[CODE]`: warnings accepted in place, and
the comments that ignore nothing, name no code, or name an error."""

from __future__ import annotations

from scn.interpreter.diagnostics import Diagnostic
from scn.interpreter.fixes import apply_fixes, is_safe

from .conftest import check_texts

HEAD = 'template thanks sms\n  text "Thanks"\nend\n'


def uncapped(comment: str = "", file_comment: str = "") -> str:
    """A send that SCN308 warns about (order.paid fires many times, nothing caps it), on line 6."""
    return file_comment + HEAD + f"scenario s\n  on order.paid\n  send sms thanks{comment}\nend\n"


def found(text: str) -> list[tuple[str, int, str]]:
    return [(d.code.code, d.span.line, d.message) for d in check_texts({"a.scn": text}).diagnostics]


def only(text: str, code: str) -> Diagnostic:
    matching = [d for d in check_texts({"a.scn": text}).diagnostics if d.code.code == code]
    assert len(matching) == 1, found(text)
    return matching[0]


def test_the_warning_is_there_without_a_comment() -> None:
    assert [c for c, _, _ in found(uncapped())] == ["SCN308"]
    assert found(uncapped())[0][1] == 6


def test_a_line_comment_ignores_its_codes_on_its_line() -> None:
    assert found(uncapped("  # scn: ignore[SCN308]")) == []
    assert found(uncapped("  # scn: ignore[SCN205, SCN308]  # reviewed")) == [
        ("SCN901", 6, "unused suppression: SCN205 is not found here")
    ]


def test_a_comment_on_another_line_ignores_nothing() -> None:
    text = HEAD + "scenario s  # scn: ignore[SCN308]\n  on order.paid\n  send sms thanks\nend\n"
    assert sorted(c for c, _, _ in found(text)) == ["SCN308", "SCN901"]


def test_a_file_comment_ignores_its_codes_everywhere_in_the_file() -> None:
    assert found(uncapped(file_comment="# scn: file-ignore[SCN308]\n")) == []
    other = {"a.scn": uncapped(), "b.scn": "# scn: file-ignore[SCN308]\nlist x\n"}
    codes = [(d.code.code, d.span.file) for d in check_texts(other).diagnostics]
    assert codes == [("SCN308", "a.scn"), ("SCN901", "b.scn")]  # not in another file


def test_a_bare_comment_ignores_every_warning_and_asks_for_codes() -> None:
    assert found(uncapped("  # scn: ignore")) == [
        ("SCN902", 6, "`# scn: ignore` without codes ignores every warning here")
    ]
    assert sorted(c for c, _, _ in found(HEAD + "list x  # scn: ignore\n")) == ["SCN901", "SCN902"]


def test_errors_cannot_be_ignored_and_unknown_codes_are_reported() -> None:
    text = uncapped().replace("send sms thanks", "send sms thank  # scn: ignore[SCN101, SCN999, nonsense]")
    codes = sorted((c, m) for c, _, m in found(text))
    assert codes == [
        ("SCN101", "unknown template `thank`: did you mean `thanks`?"),
        ("SCN308", "`order.paid` can fire many times per contact, and nothing caps these sends"),
        ("SCN903", "SCN101 is an error, and errors cannot be ignored: fix it"),
        ("SCN903", "`SCN999` is not a diagnostic code"),
        ("SCN903", "`nonsense` is not a diagnostic code"),
    ]


def test_unused_suppressions_are_removed_by_the_safe_fix() -> None:
    cases = {
        "list x  # scn: ignore[SCN308]\nlist y\n": "list x\nlist y\n",
        "# scn: file-ignore[SCN308]\nlist x\n": "list x\n",
        "list x  # keep this  # scn: ignore[SCN308]\n": "list x  # keep this\n",
    }
    for text, fixed in cases.items():
        unused = only(text, "SCN901")
        assert is_safe(unused) and unused.fix is not None
        assert apply_fixes(text, [unused.fix])[0] == fixed
    partly = uncapped("  # scn: ignore[SCN205, SCN308]")
    unused = only(partly, "SCN901")
    assert unused.fix is not None
    after = apply_fixes(partly, [unused.fix])[0]
    assert "send sms thanks  # scn: ignore[SCN308]\n" in after and found(after) == []


def test_a_file_the_parser_skipped_input_in_calls_no_comment_unused() -> None:
    text = "list x  # scn: ignore[SCN308]\nscenario s\n  on order.paid\n  send sms ??? thanks\nend\n"
    assert "SCN901" not in [c for c, _, _ in found(text)]


def test_check_fix_removes_an_unused_suppression(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "a.scn").write_text("list x  # scn: ignore[SCN308]\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "scn", "check", "--fix", "a.scn"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout
    assert "a.scn:1:9: fixed SCN901: remove the comment" in run.stdout
    assert (tmp_path / "a.scn").read_text(encoding="utf-8") == "list x\n"
