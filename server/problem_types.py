"""The problem types the API answers with: each `type` URI's page says what happened and
what to do (served at /problems/{slug}, so that every `type` in an answer resolves)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Every problem type; `Problem` takes only these, so each one raised has its page.
Slug = Literal[
    "invalid-request",
    "unauthorized",
    "not-found",
    "method-not-allowed",
    "conflict",
    "key-conflict",
    "coupon-refused",
    "too-large",
    "unsupported-media-type",
    "invalid-event",
    "workspace-has-errors",
    "check-took-too-long",
    "template-failed",
    "http-error",
    "internal-error",
    "store-unavailable",
    "invalid-signature",
]


@dataclass(frozen=True)
class ProblemType:
    #: The statuses answers of this type come with.
    statuses: tuple[int, ...]
    #: A name for the type (the answer's `title` names its status).
    name: str
    #: What the answer means.
    means: str
    #: What to do about it.
    fix: str
    #: Members the answer carries besides type, title, status, detail and instance.
    members: str = ""


PROBLEM_TYPES: dict[Slug, ProblemType] = {
    "invalid-request": ProblemType(
        (400, 422),
        "Invalid request",
        "The request could not be read as this endpoint expects it: JSON that is malformed or not strict "
        "(a key twice in one object, NaN, nesting deeper than 32 levels), an unknown field, a value of the "
        "wrong type or outside its limits, a query or path parameter that does not fit, a CSV without its "
        "header, an upload without files. Products whose price or currency do not fit answer 422.",
        "Read `detail`: it names the field and what was expected. Fix that value and send the request again; "
        "nothing of the refused request was changed.",
        "`errors`: one entry per invalid field (`field`, or `key` and `source`, and `message`; `choices` "
        "lists the allowed values of an enumerated parameter).",
    ),  # fmt: skip
    "unauthorized": ProblemType(
        (401,),
        "Missing or wrong API key",
        "The server has an API key and the request did not carry it, or carried another.",
        "Send the key in the `X-API-Key` header, as `Authorization: Bearer <key>`, or as the password of "
        "basic authentication (any user name). The server's operator sets it with `--api-key` or "
        "`SCN_API_KEY`.",
    ),  # fmt: skip
    "not-found": ProblemType(
        (404,),
        "Not found",
        "What the path names does not exist: an unknown scenario, run, contact, message, list, template, "
        "import job, or a path the API does not have. Tracking, unsubscribe and preferences links that are "
        "not exactly as issued answer this too, and so does the development mail sink when the server runs "
        "without `--dev-smtp`.",
        "Check the name or id (lists such as /api/scenarios and /api/runs show what exists); for a link, use "
        "it exactly as it came in the message.",
    ),  # fmt: skip
    "method-not-allowed": ProblemType(
        (405,),
        "Method not allowed",
        "The path exists, but not with this HTTP method.",
        "Use one of the methods in the answer's `Allow` header (also what `OPTIONS` on the path lists).",
    ),  # fmt: skip
    "conflict": ProblemType(
        (409,),
        "Conflict",
        "The request is well formed but clashes with the current state: cancelling a run that has ended, "
        "pausing an archived scenario, deleting a scenario whose file declares more, a workspace call before "
        "any workspace is deployed, importing codes into a coupon that has no pool, a test send on a channel "
        "with no delivery configured.",
        "Read `detail` for the state that is in the way; change that first (resume the scenario, upload a "
        "workspace, configure delivery), or leave the request be.",
    ),  # fmt: skip
    "key-conflict": ProblemType(
        (409,),
        "Idempotency key reused",
        "An event's `key` was accepted before with other content. A key names one event: the same content "
        "again is a duplicate (accepted, recorded once), other content is refused.",
        "Send a new key for a new event, or the same content to repeat one. Nothing of the request was "
        "accepted: send its other events again.",
        "`key`: the key that clashed.",
    ),  # fmt: skip
    "coupon-refused": ProblemType(
        (409,),
        "Coupon cannot be used",
        "A redemption's code cannot be used by this contact for this order now (unknown, expired, used up, "
        "not for this contact's lists or the order's offer).",
        "Read `reason`; `POST /api/coupons/check` tells the same without using anything up. The order was not "
        "accepted: send it without the code, or with another.",
        "`reason`: why the code was refused.",
    ),  # fmt: skip
    "too-large": ProblemType(
        (413,),
        "Request too large",
        "The body is over 10 MB, or a batch holds more than 10,000 events.",
        "Split the request: several requests of at most 10,000 events each, or smaller uploads.",
    ),  # fmt: skip
    "unsupported-media-type": ProblemType(
        (415,),
        "Unsupported media type",
        "The body came with a Content-Type this endpoint does not read: JSON endpoints take "
        "`application/json` (or `application/...+json`); uploads take JSON, `text/plain` with `?path=`, or "
        "`multipart/form-data`.",
        "Send the body with the Content-Type the endpoint documents.",
    ),  # fmt: skip
    "invalid-event": ProblemType(
        (422,),
        "Event does not fit",
        "An event (or an order, contact or redemption, which become events) does not fit its declaration or "
        "the workspace: a missing or undeclared field, a value of the wrong type, money in another currency, "
        "an unknown time zone, language or group. Nothing of the request was accepted.",
        'Fix each field `errors` names (docs/api.md, "Events at the door", gives every wire form) and send '
        "the request again.",
        "`errors`: every field that does not fit (`field`, `message`; in a batch `event`, the index); "
        "`index`: the first refused event of a batch.",
    ),  # fmt: skip
    "workspace-has-errors": ProblemType(
        (422,),
        "Workspace has errors",
        "The uploaded files, with the rest of the workspace, do not pass `scn check`; nothing was deployed "
        "and runs go on as before.",
        "Fix what `diagnostics` says (the same records as `scn check --format json`: file, line, column, code, "
        "message, help), check locally with `scn check`, and upload again.",
        "`diagnostics`: every finding, errors and warnings.",
    ),  # fmt: skip
    "check-took-too-long": ProblemType(
        (422,),
        "Checking took too long",
        "Checking the uploaded files with the rest of the workspace took longer than the server allows "
        "(30 s unless its operator set another budget); nothing was deployed and runs go on as before.",
        "Upload fewer or smaller files at once, or check them locally with `scn check` to see which one is "
        "slow (a pool of many codes, a very long file), and split it.",
    ),  # fmt: skip
    "template-failed": ProblemType(
        (422,),
        "Template does not render",
        "A preview or test send could not render the template for this contact alone: it needs what only a "
        "run has (the order, a coupon code, products), or it failed within its budget.",
        "Preview a template that needs a run's data through a run (`scn simulate`), or fix the template as "
        "`detail` says.",
    ),  # fmt: skip
    "http-error": ProblemType(
        (),
        "HTTP error",
        "The HTTP layer refused the request with a status that has no type of its own here.",
        "Read `detail`, fix the request and send it again.",
    ),  # fmt: skip
    "internal-error": ProblemType(
        (500,),
        "Internal error",
        "The server failed on the request: a defect in scn. It is logged with its traceback, and nothing was changed.",
        "Send the request again later; if it keeps failing, report it with the answer's `instance` and the "
        "time, and the server's log from then.",
    ),  # fmt: skip
    "store-unavailable": ProblemType(
        (503,),
        "Store unavailable",
        "The database could not be written or read just now: another process held its lock for longer than the "
        "server waits (10 seconds), or the disk is full, or the database file is read-only. `detail` says which. "
        "Nothing of the request was changed (an event was not accepted).",
        "Send the request again after `Retry-After` seconds, as for any 503. If it lasts, the operator looks at "
        "what holds the database (a backup, a `sqlite3` session), the free disk space, or the file's permissions.",
    ),  # fmt: skip
    "invalid-signature": ProblemType(
        (403,),
        "Invalid webhook signature",
        "A provider's bounce or complaint webhook came without a valid signature: the signature does not match "
        "the body (SendGrid, SNS), the HMAC does not match (Mailgun), the basic authentication is wrong "
        "(Postmark), the signed timestamp is more than ten minutes away, the SNS certificate is not from an "
        "SNS address, or the SNS topic is not one the settings name.",
        "Check the secret in the delivery settings' `[feedback]` against the provider's console (SendGrid's "
        "verification key, Mailgun's webhook signing key, Postmark's webhook URL credentials, the SNS topic "
        "ARN). Nothing of the refused request was changed.",
    ),  # fmt: skip
}


def slugs_for(status: int) -> list[Slug]:
    """The problem types an answer with ``status`` may have."""
    return [slug for slug, kind in PROBLEM_TYPES.items() if status in kind.statuses]
