"""The scn grammar and parser: text in, typed AST and syntax diagnostics out.

Lark is an implementation detail of this package; nothing outside it sees a Lark type.
The parser is imported on first use, not with the package: a check whose files are all
in the parse cache (_parse_cache.py) never imports Lark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ..interpreter import ast
from ..interpreter.diagnostics import Diagnostic
from ..interpreter.span import Span, span_of_offsets

if TYPE_CHECKING:
    from ._driver import Expected, expected_at
    from ._transform import anonymous_scenario_name


class Comment(msgspec.Struct, frozen=True):
    """A `#` comment, kept so the formatter can put it back."""

    text: str
    span: Span


class ParseResult(msgspec.Struct, frozen=True):
    """The outcome of parsing one file.

    ``module`` is None only when the file could not be recovered into a tree at all;
    otherwise it may still come with syntax diagnostics.
    """

    module: ast.Module | None
    diagnostics: tuple[Diagnostic, ...]
    comments: tuple[Comment, ...]
    text: str
    #: Input was skipped to recover from an error. Repairs (a misspelt keyword, a
    #: missing `end`) do not count: the tree then is what the author meant.
    lossy: bool = False

    @property
    def ok(self) -> bool:
        return self.module is not None and not any(d.is_error for d in self.diagnostics)


def parse(text: str, file: str = "<input>") -> ParseResult:
    """Parse the text of one .scn file. Never raises on bad input."""
    from ._driver import parse_items

    parsed = parse_items(text, file)
    module = None
    if parsed.items is not None:
        module = ast.Module(path=file, items=tuple(parsed.items), span=span_of_offsets(file, text, 0, len(text)))
    comments = tuple(
        Comment(str(t.value), span_of_offsets(file, text, t.start_pos or 0, t.end_pos or 0)) for t in parsed.comments
    )
    return ParseResult(module, tuple(parsed.diagnostics), comments, text, parsed.lossy)


def __getattr__(name: str) -> Any:
    """The parser's names, imported when first asked for (see the module's docstring)."""
    if name in ("Expected", "expected_at"):
        from . import _driver

        return getattr(_driver, name)
    if name == "anonymous_scenario_name":
        from ._transform import anonymous_scenario_name

        return anonymous_scenario_name
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Comment", "Expected", "ParseResult", "anonymous_scenario_name", "expected_at", "parse"]
