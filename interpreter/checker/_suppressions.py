"""`# scn: ignore[CODE]` comments: warnings their authors have looked at and accepted.

`# scn: ignore[SCN308]` at the end of a line ignores those warnings on findings that
start on that line; `# scn: file-ignore[SCN308]` anywhere in a file ignores them in the
whole file. Without a list the comment ignores every warning there, and is itself
reported (SCN902) so that it gets its codes. Only warnings can be ignored: an error
means the scenario cannot run as written, and `scn check` passing promises that it can
(SCN903 says so). A comment that ignores nothing is reported (SCN901) with a fix that
removes it, or the codes it no longer needs, as Ruff's RUF100 does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import msgspec

from ...grammar import Comment
from .. import codes
from ..diagnostics import Diagnostic, Fix, make
from ..span import Span, span_of_offsets

_DIRECTIVE = re.compile(r"#\s*scn:\s*(?P<kind>file-ignore|ignore)\b(?:\[(?P<codes>[^\]]*)\])?")
_CODE = re.compile(r"SCN\d{3}")


class Directive(msgspec.Struct):
    comment: Comment
    #: Offsets of the directive in the file's text (from its `#`).
    start: int
    end: int
    whole_file: bool
    #: The codes named, in order; None for a bare directive (every warning).
    codes: list[str] | None
    used: set[str] = msgspec.field(default_factory=set)
    used_bare: bool = False


def directives(comments: Iterable[Comment]) -> list[Directive]:
    found = []
    for comment in comments:
        match = _DIRECTIVE.search(comment.text)
        if match is None:
            continue
        listed = None
        if match.group("codes") is not None:
            listed = [c.strip() for c in match.group("codes").split(",") if c.strip()]
        start = comment.span.start + match.start()
        found.append(
            Directive(comment, start, comment.span.start + match.end(), match.group("kind") == "file-ignore", listed)
        )
    return found


def _covers(directive: Directive, d: Diagnostic) -> bool:
    if d.is_error or d.code.category is codes.Category.SUPPRESSIONS:
        return False
    if not directive.whole_file and directive.comment.span.line != d.span.line:
        return False
    if directive.codes is None:
        directive.used_bare = True
        return True
    if d.code.code in directive.codes:
        directive.used.add(d.code.code)
        return True
    return False


def apply_suppressions(
    diagnostics: Sequence[Diagnostic], files: Iterable[tuple[str, str, Sequence[Comment]]], lossy: set[str]
) -> list[Diagnostic]:
    """``diagnostics`` without the ignored warnings, with findings about the comments.

    ``files`` are (path, text, comments) of the .scn files; in a file in ``lossy`` (the
    parser skipped input, so its other findings are not reported) no comment is called unused.
    """
    by_file = {path: (text, directives(comments)) for path, text, comments in files}
    kept: list[Diagnostic] = []
    for d in diagnostics:
        _text, found = by_file.get(d.span.file, ("", []))
        # Each directive that covers the finding counts as used (a line's and the file's).
        if not [x for x in found if _covers(x, d)]:
            kept.append(d)
    for path, (text, found) in by_file.items():
        for directive in found:
            kept.extend(_about(directive, text, path in lossy))
    return kept


def _about(directive: Directive, text: str, lossy: bool) -> list[Diagnostic]:
    """The findings about one directive: blanket, bad codes, codes that ignored nothing."""
    out = []
    span = span_of_offsets(directive.comment.span.file, text, directive.start, directive.end)
    if directive.codes is None:
        out.append(make(codes.BLANKET_SUPPRESSION, "`# scn: ignore` without codes ignores every warning here", span))
        if not directive.used_bare and not lossy:
            out.append(_unused(directive, text, span, "this comment ignores no warning", []))
        return out
    valid = []
    for code in directive.codes:
        known = codes.REGISTRY.get(code) if _CODE.fullmatch(code) else None
        if known is None:
            out.append(make(codes.BAD_SUPPRESSION, f"`{code}` is not a diagnostic code", span))
        elif known.severity is codes.Severity.ERROR:
            out.append(make(codes.BAD_SUPPRESSION, f"{code} is an error, and errors cannot be ignored: fix it", span))
        else:
            valid.append(code)
    unused = [c for c in valid if c not in directive.used]
    if unused and not lossy:
        named = ", ".join(unused)
        keep = [c for c in valid if c in directive.used]
        verb = "is" if len(unused) == 1 else "are"
        out.append(_unused(directive, text, span, f"{named} {verb} not found here", keep))
    return out


def _unused(directive: Directive, text: str, span: Span, message: str, keep: list[str]) -> Diagnostic:
    if keep:
        kind = "file-ignore" if directive.whole_file else "ignore"
        replacement = f"# scn: {kind}[{', '.join(keep)}]"
        fix = Fix(span, replacement, f"write `{replacement}`")
    else:
        fix = Fix(_removal(directive, text), "", "remove the comment")
    return make(codes.UNUSED_SUPPRESSION, f"unused suppression: {message}", span, fix=fix)


def _removal(directive: Directive, text: str) -> Span:
    """What removing a directive takes away: from its `#` (the comment's, when the comment
    starts with it) to the end of the comment, the spaces before it, and the line when
    nothing else is on it."""
    file = directive.comment.span.file
    start, end = directive.start, directive.comment.span.end
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if (start == 0 or text[start - 1] == "\n") and text[end : end + 1] == "\n":
        end += 1
    return span_of_offsets(file, text, start, end)
