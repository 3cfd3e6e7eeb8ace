"""Words for syntax errors: what the parser expected, and close keywords."""

from __future__ import annotations

from collections.abc import Iterable

_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a "string"',
    "NUMBER": "a number",
    "MONEY": "an amount such as 10 EUR",
    "DURATION": "a duration such as 30m",
    "PERCENT": "a percentage such as 10%",
    "DATE": "a date such as 2025-01-31",
    "TIME": "a time of day such as 09:00",
    "LABEL": "a step label such as @reminder",
    "ADDRESS": "an address such as <shop@example.com>",
    "STOP_IF": "`stop if`",
    "STOP_UNLESS": "`stop unless`",
    "ALL_ITEMS": "`all items`",
    "ANY_ITEM": "`any item`",
    "SEND_ONLY": "`send only`",
    "$END": "the end of the file",
}

STEP_WORDS = frozenset(
    {"wait", "if", "bands", "split", "stop", "send", "add", "remove", "issue", "award", "set", "call"}
)
HEADER_WORDS = frozenset({"on", "entry", "frequency", "exit", "quiet", "attribution", "ignore"})
DECLARATION_WORDS = frozenset(
    {
        "list",
        "segment",
        "coupon",
        "template",
        "program",
        "group",
        "event",
        "attribute",
        "currency",
        "policy",
        "scenario",
        "broadcast",
    }
)
#: Headers whose keyword is a terminal of its own (`send only`: a step starts with `send`).
HEADER_TERMINALS = frozenset({"SEND_ONLY"})
#: Keywords that open a block closed by `end`, mapped to how we name the block.
BLOCK_OPENERS = {
    "SCENARIO": "scenario",
    "BROADCAST": "broadcast",
    "TEMPLATE": "template",
    "PROGRAM": "program",
    "POLICY": "policy",
    "IF": "if",
    "BANDS": "bands",
    "SPLIT": "split",
    "TIMEOUT": "on timeout",
}
VALUE_STARTS = frozenset(
    {"NAME", "NUMBER", "MONEY", "PERCENT", "DURATION", "STRING", "DATE", "TIME", "LPAR", "LSQB", "MINUS"}
)
#: Words people write after `is` for "no value" (`x is null` means `x is not set`).
NULL_WORDS = frozenset({"null", "none", "nil", "empty", "unset", "missing", "undefined", "blank", "nothing"})
DURATION_WORDS = {
    "ms": "ms",
    "msec": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "wk": "w",
    "week": "w",
    "weeks": "w",
}


OPERATORS = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "and", "or", "in", "not", "is", ".", "(", ")", ",", "]"}
)
MAX_LISTED = 8


def describe_expected(expected: Iterable[str], keyword_of: dict[str, str]) -> str:
    """Say what the parser wanted, grouping long lists into kinds of things."""
    terminals = set(expected)
    words = {keyword_of[t] for t in terminals if t in keyword_of}
    phrases: list[str] = []
    for group, phrase, minimum in (
        (STEP_WORDS, "a step", 6),
        (HEADER_WORDS, "a scenario header", 4),
        (DECLARATION_WORDS, "a declaration", 6),
        (OPERATORS, "an operator", 5),
    ):
        if len(words & group) >= minimum:
            phrases.append(phrase)
            words -= group
            if group is HEADER_WORDS:
                terminals -= HEADER_TERMINALS
    if len(terminals & VALUE_STARTS) >= 6:
        phrases.append("a value")
        terminals -= VALUE_STARTS
        words -= {"not", "true", "false", "(", "[", "-"}
    phrases.extend(f"`{w}`" for w in sorted(words))
    phrases.extend(_TERMINAL_WORDS[t] for t in sorted(terminals) if t in _TERMINAL_WORDS)
    if not phrases:
        return "something else"
    if len(phrases) > MAX_LISTED:
        phrases = phrases[:MAX_LISTED] + ["..."]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


_TOKEN_WORDS = {
    "STRING": "string",
    "NUMBER": "number",
    "MONEY": "amount",
    "DURATION": "duration",
    "PERCENT": "percentage",
    "DATE": "date",
    "TIME": "time",
    "ADDRESS": "address",
    "LABEL": "label",
}


def describe_token(kind: str, value: str) -> str:
    """How to name an unexpected token: "the end of the file", "string `"a"`", "`send`"."""
    if kind == "$END":
        return "the end of the file"
    if kind in _TOKEN_WORDS:
        return f"{_TOKEN_WORDS[kind]} `{value}`"
    return f"`{value}`"
