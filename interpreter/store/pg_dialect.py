"""The SQL the SQLite store writes, said as PostgreSQL says it.

The stores share their SQL where the dialects agree (most of it: upserts with a conflict
target, RETURNING, partial indexes, window-free aggregates); this turns the rest into
PostgreSQL's form, once per distinct statement (cached):

* placeholders: `?` and `:name` become `$1`, `$2`... (named ones in order of appearance);
  an empty list, `IN ()`, an empty array;
* `a IS b` / `a IS NOT b` (SQLite's null-safe comparison) become `IS [NOT] DISTINCT FROM`;
* the scalar `min(a, b)` / `max(a, b)` become `LEAST` / `GREATEST`;
* `instr`, `json_extract(x, '$.a.b')`, `json_object` become `strpos`, `x::jsonb #>> '{a,b}'`,
  `json_build_object`; `json_each(x) j` (an array's elements) `jsonb_array_elements`;
  `CAST(x AS INTEGER | REAL)` casts to `BIGINT | DOUBLE PRECISION`;
* `PRAGMA`s are SQLite's own and are dropped, but for deferring foreign keys; so is
  `INDEXED BY` (PostgreSQL plans from statistics of its own);
* a subquery in FROM gets the alias PostgreSQL 15 requires; a parameter only tested for
  NULL gets a type;
* a claim (an UPDATE of the rows a LIMITed subquery of the same table picks) takes them
  `FOR UPDATE SKIP LOCKED`.

Schema scripts (`schema`) also map the types: `INTEGER PRIMARY KEY` becomes an identity
column (ids come from the database), `INTEGER` a `BIGINT` (times are milliseconds),
`BLOB` a `BYTEA`; `WITHOUT ROWID` goes; foreign keys become deferrable (as SQLite's
`defer_foreign_keys` needs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Statement:
    sql: str
    #: The parameter names, in placeholder order, when the statement used `:name`s.
    names: tuple[str, ...] | None


def _outside_quotes(sql: str) -> list[tuple[bool, str]]:
    """The statement in pieces: (True, code) and (False, a quoted literal or identifier)."""
    pieces: list[tuple[bool, str]] = []
    start = i = 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"":
            if start < i:
                pieces.append((True, sql[start:i]))
            end = i + 1
            while end < len(sql):
                if sql[end] == ch:
                    if end + 1 < len(sql) and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            pieces.append((False, sql[i : end + 1]))
            start = i = end + 1
            continue
        i += 1
    if start < len(sql):
        pieces.append((True, sql[start:]))
    return pieces


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.IGNORECASE)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.IGNORECASE)
_CAST_INTEGER = re.compile(r"\bAS\s+INTEGER\s*\)", re.IGNORECASE)
_CAST_REAL = re.compile(r"\bAS\s+REAL\s*\)", re.IGNORECASE)
_UNTYPED_NULL_TEST = re.compile(r"(\$\d+)(\s+IS\s+(?:NOT\s+)?NULL\b)", re.IGNORECASE)
_NOT_AN_ALIAS = frozenset({"ORDER", "GROUP", "WHERE", "LIMIT", "UNION", "JOIN", "HAVING"})


def _call_args(sql: str, open_at: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose `(` is at ``open_at``, and where its `)` is."""
    depth, args, start, i = 0, [], open_at + 1, open_at
    in_quote: str | None = None
    while i < len(sql):
        ch = sql[i]
        if in_quote:
            if ch == in_quote:
                in_quote = None
        elif ch in "'\"":
            in_quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i
        elif ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
        i += 1
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _rewrite_calls(sql: str) -> str:
    """min/max of several arguments, json_extract: rewritten innermost first."""
    pattern = re.compile(r"\b(min|max|json_extract)\s*\(", re.IGNORECASE)
    position = 0
    while True:
        match = pattern.search(sql, position)
        if match is None:
            return sql
        name = match.group(1).lower()
        open_at = match.end() - 1
        args, close_at = _call_args(sql, open_at)
        inner = [_rewrite_calls(a) for a in args]
        if name == "json_extract" and len(args) == 2:
            path = inner[1].strip().strip("'")
            keys = ",".join(p for p in path.removeprefix("$").split(".") if p)
            replacement = f"(({inner[0].strip()})::jsonb #>> '{{{keys}}}')"
        elif name in ("min", "max") and len(args) > 1:
            replacement = f"{'LEAST' if name == 'min' else 'GREATEST'}({','.join(inner)})"
        else:
            replacement = f"{match.group(1)}({','.join(inner)})"
        sql = sql[: match.start()] + replacement + sql[close_at + 1 :]
        position = match.start() + len(replacement)


_JSON_EACH = re.compile(r"\bjson_each\s*\(([^()]*)\)\s+(\w+)", re.IGNORECASE)


def _code(sql: str) -> str:
    # SQLite takes an empty list (`IN ()`, nothing is in it); PostgreSQL an empty array
    sql = re.sub(r"\bNOT\s+IN\s*\(\s*\)", "<> ALL('{}')", sql, flags=re.IGNORECASE)
    sql = re.sub(r"\bIN\s*\(\s*\)", "= ANY('{}')", sql, flags=re.IGNORECASE)
    sql = re.sub(r"\s+INDEXED\s+BY\s+\w+", "", sql, flags=re.IGNORECASE)
    sql = _JSON_EACH.sub(r"jsonb_array_elements((\1)::jsonb) AS \2(value)", sql)
    sql = _IS_NOT.sub("IS DISTINCT FROM ", sql)
    sql = _IS.sub("IS NOT DISTINCT FROM ", sql)
    sql = _CAST_INTEGER.sub("AS BIGINT)", sql)
    sql = _CAST_REAL.sub("AS DOUBLE PRECISION)", sql)
    sql = re.sub(r"\binstr\s*\(", "strpos(", sql, flags=re.IGNORECASE)
    return re.sub(r"\bjson_object\s*\(", "json_build_object(", sql, flags=re.IGNORECASE)


_CLAIM = re.compile(r"^\s*UPDATE\s+(\w+)\s+SET\b.*?\bWHERE\s+id\s+IN\s*\(\s*SELECT\s+id\s+FROM\s+(\w+)\b", re.I | re.S)


def _skip_locked(sql: str) -> str:
    """A claim, `UPDATE t ... WHERE id IN (SELECT id FROM t ... LIMIT n)`, locks the rows it
    picks and skips those another transaction holds: under READ COMMITTED two claimers
    would otherwise pick the same rows, and the second would take them again once the
    first commits (its subquery is not looked at again)."""
    match = _CLAIM.match(sql)
    if match is None or match.group(1) != match.group(2):
        return sql
    open_at = sql.rindex("(", 0, match.start(2))
    _, close_at = _call_args(sql, open_at)
    inner = sql[open_at + 1 : close_at]
    if not re.search(r"\bLIMIT\s+\$\d+\s*$", inner, re.I):
        return sql
    return f"{sql[:close_at]} FOR UPDATE SKIP LOCKED{sql[close_at:]}"


def _alias_subqueries(sql: str) -> str:
    """`FROM (SELECT ...) ORDER BY`: PostgreSQL 15 wants the subquery named."""
    out, position = [], 0
    for match in re.finditer(r"\bFROM\s*\(\s*SELECT\b", sql, re.IGNORECASE):
        if match.start() < position:
            continue
        open_at = sql.index("(", match.start())
        _, close_at = _call_args(sql, open_at)
        after = sql[close_at + 1 :].lstrip()
        word = re.match(r"\w+", after)
        if not after or after[0] in "),;" or (word is not None and word.group(0).upper() in _NOT_AN_ALIAS):
            out.append(sql[position : close_at + 1] + " AS sub")
            position = close_at + 1
    out.append(sql[position:])
    return "".join(out)


@lru_cache(maxsize=4096)
def statement(sql: str) -> Statement | None:
    """PostgreSQL's form of a statement of the SQLite store (None: nothing to run there)."""
    head = sql.lstrip().upper()
    if head.startswith("PRAGMA"):
        return Statement("SET CONSTRAINTS ALL DEFERRED", None) if "DEFER_FOREIGN_KEYS" in head else None
    names: list[str] = []
    numbered = 0
    out: list[str] = []
    for code, piece in _outside_quotes(sql):
        if not code:
            out.append(piece)
            continue
        piece = _code(piece)

        def named(match: re.Match[str]) -> str:
            names.append(match.group(1))
            return f"${len(names)}"

        piece = _NAMED.sub(named, piece)
        parts = piece.split("?")
        text = parts[0]
        for part in parts[1:]:
            numbered += 1
            text += f"${numbered}{part}"
        out.append(text)
    if names and numbered:
        raise ValueError(f"a statement mixes ? and :name placeholders: {sql!r}")
    # `? IS NULL` says nothing of the parameter's type, which PostgreSQL must know: any will do
    said = _UNTYPED_NULL_TEST.sub(r"\1::text\2", "".join(out))
    return Statement(_skip_locked(_alias_subqueries(_rewrite_calls(said))), tuple(names) if names else None)


_INTEGER_KEY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?", re.IGNORECASE)
_REFERENCES = re.compile(r"(\bREFERENCES\s+\w+\s*\([^)]*\))")


def schema(script: str) -> str:
    """A migration script of the SQLite store (tables, indexes, columns) for PostgreSQL."""
    script = re.sub(r"--[^\n]*", "", script)
    script = _INTEGER_KEY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    script = re.sub(r"\bBLOB\b", "BYTEA", script)
    script = re.sub(r"\)\s*WITHOUT\s+ROWID", ")", script, flags=re.IGNORECASE)
    return _REFERENCES.sub(r"\1 DEFERRABLE", script)
