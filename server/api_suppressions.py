"""The suppression list over HTTP: list (paged), add, remove, import and export as CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from ..interpreter.clock import ms_of
from ..interpreter.store.suppressions import Suppression
from ..stdlib.suppression import CHANNELS, MAX_IMPORT_ROWS, SuppressionError, csv_lines, entry, normal_address, read_csv
from .bodies import body_operation
from .deps import KEYED, AfterName, Limit, instant, not_found, require_api_key
from .models import Strict
from .problems import Problem, problems
from .services import SuppressionService, dependencies

SuppressibleChannel = Literal["email", "sms", "viber", "push", "webpush"]
assert CHANNELS == SuppressibleChannel.__args__  # type: ignore[attr-defined]
Reason = Literal["hard_bounce", "soft_bounce", "complaint", "unsubscribe", "manual"]
#: Entries one JSON request may add (more: an import, or several requests).
MAX_BATCH = 10_000
#: Entries per page of an export (each page one read of the store).
EXPORT_PAGE = 1000


class SuppressionIn(Strict):
    """An address to suppress: why (default `manual`), who says so (default `api`), a note,
    and since when (default now; UTC unless it carries an offset)."""

    address: str
    reason: Reason = "manual"
    source: str = "api"
    detail: str | None = None
    created_at: dt.datetime | None = None


class SuppressionOut(msgspec.Struct, kw_only=True):
    channel: str
    #: In the form the list compares addresses in (an email in lower case, its domain in
    #: A-labels; a phone number's digits); `sha256:...` for an erased contact's.
    address: str
    reason: str
    source: str
    detail: str | None
    created_at: dt.datetime


class SuppressionPage(msgspec.Struct, kw_only=True):
    items: list[SuppressionOut]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class SuppressionsAdded(msgspec.Struct, kw_only=True):
    #: Addresses new to the list.
    added: int
    #: Addresses already on it, whose reason, source and detail were replaced (their date kept).
    updated: int


def _view(found: Suppression) -> SuppressionOut:
    return SuppressionOut(channel=found.channel, address=found.address, reason=found.reason, source=found.source,
                          detail=found.detail, created_at=instant(found.created_at))  # fmt: skip


def _address(channel: str, address: str) -> str:
    try:
        return normal_address(channel, address)
    except SuppressionError as error:
        raise Problem(
            422, "invalid-request", str(error), errors=[{"field": error.field, "message": error.message}]
        ) from None


@get("/suppressions/{channel:str}", responses=problems(400, 401, 422))
async def list_suppressions(
    suppressions: NamedDependency[SuppressionService], channel: FromPath[SuppressibleChannel],
    address: FromQuery[str | None] = None, after: AfterName = "", limit: Limit = 100,
) -> SuppressionPage:  # fmt: skip
    """The channel's suppression list in address order (or the one entry of ``address``)."""
    if address is not None:
        found = await suppressions.find(channel, _address(channel, address))
        return SuppressionPage(items=[_view(found)] if found else [], next=None)
    rows = await suppressions.page(channel, after, limit + 1)
    page = rows[:limit]
    return SuppressionPage(items=[_view(r) for r in page], next=page[-1].address if len(rows) > limit else None)


@post("/suppressions/{channel:str}", status_code=200, responses=problems(400, 401, 413, 415, 422))
async def add_suppressions(
    suppressions: NamedDependency[SuppressionService], channel: FromPath[SuppressibleChannel],
    data: JSONBody[SuppressionIn | Annotated[list[SuppressionIn], msgspec.Meta(min_length=1)]],
) -> SuppressionsAdded:  # fmt: skip
    """Suppress one address or a list of them: no message goes to them on this channel
    until they are taken off. All or nothing: one bad entry refuses the request, naming it."""
    given = data if isinstance(data, list) else [data]
    if not given:
        raise Problem(400, "invalid-request", "the list is empty: send one entry or a list of at least 1")
    if len(given) > MAX_BATCH:
        raise Problem(413, "too-large", f"{len(given)} entries in one request; send at most {MAX_BATCH}, or import "
                                        "a CSV")  # fmt: skip
    now = suppressions.now_ms()
    entries: list[Suppression] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        prefix = f"[{index}]." if isinstance(data, list) else ""
        try:
            at = ms_of(item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=dt.UTC)) \
                if item.created_at is not None else now  # fmt: skip
            entries.append(entry(channel, item.address, reason=item.reason, source=item.source, detail=item.detail,
                                 at=at))  # fmt: skip
        except SuppressionError as error:
            errors.append({"field": prefix + error.field, "message": error.message})
    if errors:
        first = errors[0]
        raise Problem(422, "invalid-request", f"{first['field']}: {first['message']}; nothing was added",
                      errors=errors)  # fmt: skip
    added, updated = await suppressions.add(entries)
    return SuppressionsAdded(added=added, updated=updated)


@delete("/suppressions/{channel:str}", status_code=204, responses=problems(400, 401, 404, 422))
async def remove_suppression(
    suppressions: NamedDependency[SuppressionService], channel: FromPath[SuppressibleChannel], address: FromQuery[str]
) -> None:
    """Take an address off the list: messages go to it again (its soft bounces are forgotten)."""
    if not await suppressions.remove(channel, _address(channel, address)):
        raise not_found(f"{address!r} on the {channel} suppression list")


#: An import's body.
SUPPRESSIONS_CSV = body_operation(
    "CSV with a header: address, and optionally reason (hard_bounce, soft_bounce, complaint, unsubscribe, manual; "
    "default manual), source (default csv), detail, created_at (ISO 8601, UTC unless it carries an offset)",
    {"text/csv": Schema(type=OpenAPIType.STRING)},
)


@post("/suppressions/{channel:str}/import", status_code=200, operation_class=SUPPRESSIONS_CSV,
      responses=problems(400, 401, 413, 422))  # fmt: skip
async def import_suppressions(
    suppressions: NamedDependency[SuppressionService],
    channel: FromPath[SuppressibleChannel],
    request: Request[Any, Any, Any],
) -> SuppressionsAdded:
    """Import addresses from CSV (as `export` writes it). All or nothing: a bad line
    refuses the import with every error (`line`, `field`, `message`)."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(400, "invalid-request", f"the CSV is not UTF-8 text (byte {error.start})") from error
    try:
        entries, errors = read_csv(channel, text, suppressions.now_ms())
    except Exception as error:  # csv.Error: a field longer than the reader's limit, a NUL
        raise Problem(422, "invalid-request", "the CSV is not readable CSV: " + str(error).split("\n")[0]) from None
    if errors:
        first = errors[0]
        raise Problem(422, "invalid-request", f"line {first['line']}, {first['field']}: {first['message']}; nothing "
                      f"was imported", errors=errors[:100])  # fmt: skip
    if len(entries) > MAX_IMPORT_ROWS:  # (read_csv stops there already)
        raise Problem(413, "too-large", f"import at most {MAX_IMPORT_ROWS} rows at a time")
    added, updated = await suppressions.add(entries)
    return SuppressionsAdded(added=added, updated=updated)


@get("/suppressions/{channel:str}/export", media_type="text/csv", responses=problems(400, 401))
async def export_suppressions(
    suppressions: NamedDependency[SuppressionService], channel: FromPath[SuppressibleChannel]
) -> Stream:
    """The whole list of a channel as CSV (the columns `import` reads), in address order."""

    async def pages() -> AsyncIterator[str]:
        after, header = "", True
        while True:
            rows = await suppressions.page(channel, after, EXPORT_PAGE)
            for text in csv_lines(rows, header):
                yield text
            header = False
            if len(rows) < EXPORT_PAGE:
                return
            after = rows[-1].address

    return Stream(pages(), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="suppressions-{channel}.csv"'})  # fmt: skip


router = Router(
    "/api",
    route_handlers=[list_suppressions, add_suppressions, remove_suppression, import_suppressions, export_suppressions],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["suppressions"],
)
