"""The registry of diagnostic codes.

Ranges: SCN0xx syntax, SCN1xx names and types, SCN2xx actions and templates,
SCN3xx flow, timing and ranges, SCN4xx the workspace's sending policy, SCN9xx the
`# scn: ignore` comments themselves. A code never changes meaning once released; retired codes stay reserved.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from .ast import MAX_BLOCK_DEPTH, MAX_EXPRESSION_DEPTH


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Category(StrEnum):
    SYNTAX = "syntax"
    NAMES = "names and types"
    ACTIONS = "actions and templates"
    FLOW = "flow, timing and ranges"
    POLICY = "sending policy"
    SUPPRESSIONS = "suppressions"


class Code(msgspec.Struct, frozen=True):
    """One kind of finding: stable code, short name, severity and what to do about it."""

    code: str
    name: str
    severity: Severity
    category: Category
    help: str


REGISTRY: dict[str, Code] = {}


def _code(code: str, name: str, category: Category, help: str, *, warning: bool = False) -> Code:
    entry = Code(code, name, Severity.WARNING if warning else Severity.ERROR, category, help)
    assert code not in REGISTRY, code
    REGISTRY[code] = entry
    return entry


_S, _N, _A, _F = Category.SYNTAX, Category.NAMES, Category.ACTIONS, Category.FLOW

# ---- syntax
UNREADABLE = _code("SCN000", "unreadable-file", _S, "check the path, the permissions, and that the file is UTF-8 text")
UNEXPECTED_TOKEN = _code("SCN001", "unexpected-token", _S, "check the statement for a missing or extra word")
UNEXPECTED_CHARACTER = _code(
    "SCN002",
    "unexpected-character",
    _S,
    'names use Latin letters, digits and `_`; put other text inside a "string"',
)
UNTERMINATED_STRING = _code("SCN003", "unterminated-string", _S, 'close the string with `"` on the same line')
MISSING_END = _code("SCN004", "missing-end", _S, "close every block with `end`")
MISSPELLED_KEYWORD = _code(
    "SCN005", "misspelled-keyword", _S, "keywords are lowercase English words; see docs/language.md"
)
DURATION_WITHOUT_UNIT = _code(
    "SCN006",
    "duration-without-unit",
    _S,
    "write durations with a unit and no space: 30m, 24h, 7d, 2w, 1h30m",
)
ASSIGN_IN_CONDITION = _code(
    "SCN007", "assignment-in-condition", _S, "compare with `==`; a single `=` is only for `set`"
)
BAD_ESCAPE = _code(
    "SCN008", "bad-escape", _S, 'strings know the escapes \\" \\\\ \\n \\t and \\u followed by 4 hex digits'
)
UNEXPECTED_END_OF_FILE = _code("SCN009", "unexpected-end-of-file", _S, "the file ends in the middle of a statement")
MISPLACED_HEADER = _code(
    "SCN010",
    "misplaced-header",
    _S,
    "scenario headers (on, entry, frequency, exit when, quiet hours, attribution) come before the steps",
)
TOO_DEEP = _code(
    "SCN011",
    "too-deeply-nested",
    _S,
    f"an expression nests at most {MAX_EXPRESSION_DEPTH} operators inside one another, and steps at most"
    f" {MAX_BLOCK_DEPTH} blocks deep: write a long `or` about one value as `x in [a, b, c]`, or split the"
    " condition into segments",
)
BAD_SET_TEST = _code(
    "SCN012",
    "bad-set-test",
    _S,
    "`is` asks whether a field holds a value: write `PATH is set` or `PATH is not set`, and compare values"
    " with `==` or `!=`",
)

# ---- names and types
UNKNOWN_NAME = _code("SCN101", "unknown-name", _N, "declare the name, or check its spelling")
DUPLICATE_NAME = _code("SCN102", "duplicate-name", _N, "names are shared by all files of a workspace; rename one")
UNKNOWN_EVENT = _code(
    "SCN103",
    "unknown-event",
    _N,
    "use a built-in event (see docs/language.md) or declare it: event name(field: type)",
)
UNKNOWN_FIELD = _code("SCN104", "unknown-field", _N, "check the field name against the reference")
TYPE_MISMATCH = _code("SCN105", "type-mismatch", _N, "both sides must have compatible types")
CURRENCY_MISMATCH = _code(
    "SCN106", "currency-mismatch", _N, "money of different currencies cannot be compared or added"
)
WRONG_KIND = _code("SCN107", "wrong-kind", _N, "this place needs a different kind of declaration")
UNKNOWN_FUNCTION = _code("SCN108", "unknown-function", _N, "see docs/language.md for the built-in functions")
BAD_ARGUMENTS = _code("SCN109", "bad-arguments", _N, "check the function's parameters")
UNKNOWN_TYPE = _code(
    "SCN110",
    "unknown-type",
    _N,
    "types are: string, number, money, percent, duration, bool, date, datetime, time",
)
UNKNOWN_CURRENCY = _code("SCN111", "unknown-currency", _N, "use an ISO 4217 code in capitals such as EUR, UAH, PLN")
NOT_A_CONDITION = _code(
    "SCN112", "not-a-condition", _N, "a condition must be true or false, e.g. `order.total > 100 EUR`"
)
UNAVAILABLE_NAME = _code(
    "SCN113",
    "unavailable-name",
    _N,
    "this value exists only when every trigger of the scenario carries it",
)
ATTRIBUTE_CLASH = _code("SCN114", "attribute-clash", _N, "a custom attribute cannot reuse a built-in contact field")
MAYBE_UNSET = _code(
    "SCN115",
    "maybe-unset",
    _N,
    "say what an unset value means here with `PATH is set` or `PATH is not set`",
    warning=True,
)
MONEY_OF_ANY_CURRENCY = _code(
    "SCN116",
    "money-of-any-currency",
    _N,
    "declare the workspace currency (`currency PLN`), or make sure of the order's first: "
    '`stop unless order.currency == "PLN"`',
    warning=True,
)
SEGMENT_CYCLE = _code(
    "SCN117",
    "segment-cycle",
    _N,
    "a segment cannot be defined through itself: write out the condition that `in_segment()` reads",
)

# ---- actions and templates
TEMPLATE_FILE_MISSING = _code(
    "SCN201", "template-file-missing", _A, "paths are relative to the .scn file that names them"
)
TEMPLATE_SYNTAX = _code(
    "SCN202", "template-syntax", _A, "templates use Jinja syntax: {{ value }} and {% if %}...{% endif %}"
)
TEMPLATE_UNKNOWN_VARIABLE = _code(
    "SCN203",
    "template-unknown-variable",
    _A,
    "a template sees contact, unsubscribe_url, preferences_url, bestsellers and scenario; order and"
    " purchased when the triggers carry an order; coupon, products and bonus when the send gives them",
)
CHANNEL_MISMATCH = _code("SCN204", "channel-mismatch", _A, "send a template on the channel it was declared for")
MISSING_UNSUBSCRIBE = _code(
    "SCN205",
    "missing-unsubscribe-link",
    _A,
    "add a link to {{ unsubscribe_url }}; mailbox providers and the law expect one",
    warning=True,
)
MISSING_TEMPLATE_PART = _code(
    "SCN206", "missing-template-part", _A, "email needs subject and html; sms, viber, push and webpush need text"
)
MISSING_FALLBACK = _code(
    "SCN207",
    "missing-fallback",
    _A,
    "name the language for contacts whose language has no variant: fallback en",
)
DUPLICATE_SETTING = _code("SCN208", "duplicate-setting", _A, "say it once")
BAD_COUPON = _code(
    "SCN209",
    "bad-coupon",
    _A,
    "a coupon needs a discount and one source of codes: code, from pool or generated",
)
COUPON_POOL_MISSING = _code("SCN210", "coupon-pool-missing", _A, "paths are relative to the .scn file that names them")
BAD_ADDRESS = _code("SCN211", "bad-address", _A, "write an address as <name@example.com>")
BAD_URL = _code(
    "SCN212",
    "bad-url",
    _A,
    "webhooks and message links need an absolute https:// URL written out (http:// only to localhost, for webhooks)",
)
PART_NOT_FOR_CHANNEL = _code(
    "SCN213",
    "part-not-for-channel",
    _A,
    "email: subject preheader html plain; sms: text; viber: text image url; push, webpush: title text url image",
)
BAD_COUPON_PATTERN = _code(
    "SCN214",
    "weak-coupon-pattern",
    _A,
    "generated codes need at least 8 random characters: {XXXXXXXX} (8 × 5 bits = 40 bits)",
)
UNKNOWN_LANGUAGE = _code(
    "SCN215", "unknown-language", _A, "languages are ISO 639-1 codes in lowercase: en, ru, uk, lv, pl"
)
BAD_GROUP = _code(
    "SCN216",
    "bad-group",
    _A,
    "at most one group is the default for new contacts; `award bonus` without an amount needs a bonus program",
)
TEMPLATE_NOT_ALLOWED = _code(
    "SCN217",
    "template-not-allowed",
    _A,
    "a message template prints, tests, loops over lists and uses the documented filters; it cannot define macros, "
    "include other templates or call functions and methods (but range())",
)
TEMPLATE_TYPE = _code(
    "SCN218",
    "template-type",
    _A,
    "give each filter, test and operator a value of the kind it takes, and print values, not records or lists",
)
MAY_PRINT_NOTHING = _code(
    "SCN219",
    "may-print-nothing",
    _A,
    "a message whose subject or text prints nothing fails instead of going out: write text of its own beside the "
    'values, or give them a default: {{ contact.first_name|default("friend") }}',
    warning=True,
)
BAD_AMOUNT = _code(
    "SCN220", "bad-amount", _A, "a bonus is credited, never taken back: give an amount above zero, such as 50 UAH"
)

# ---- flow, timing and ranges
SPLIT_WEIGHTS = _code(
    "SCN301", "split-weights", _F,
    "the variants and control must add up to 100% (after `split with P% control`, the variants alone)",
)  # fmt: skip
BAND_OVERLAP = _code("SCN302", "band-overlap", _F, "each value must fall into one band at most")
BAND_GAP = _code("SCN303", "band-gap", _F, "start each band where the previous one ends, or add one for the gap")
UNREACHABLE_STEP = _code(
    "SCN304", "unreachable-step", _F, "steps after an unconditional stop never run; remove or move them"
)
TIME_OUT_OF_RANGE = _code("SCN305", "time-out-of-range", _F, "times of day run from 00:00 to 23:59")
EMPTY_QUIET_HOURS = _code("SCN306", "empty-quiet-hours", _F, "quiet hours need different start and end times")
COUPON_EXPIRES_BEFORE_SEND = _code(
    "SCN307",
    "coupon-expires-before-send",
    _F,
    "issue the coupon closer to the send, or make it valid for longer",
    warning=True,
)
UNCAPPED_SEND = _code(
    "SCN308",
    "uncapped-send",
    _F,
    "add `frequency at most 1 per 7d` or an entry rule such as `entry once per contact`",
    warning=True,
)
DUPLICATE_VARIANT = _code("SCN309", "duplicate-variant", _F, "give each variant its own name")
BAD_TIERS = _code(
    "SCN310",
    "bad-tiers",
    _F,
    "tiers go up: `up to` bounds increase and the last tier is `above` the last bound",
)
DUPLICATE_LABEL = _code("SCN311", "duplicate-label", _F, "step labels are unique within a scenario")
BAD_DURATION = _code("SCN312", "bad-duration", _F, "waits and windows must be longer than zero")
NO_TRIGGER = _code("SCN313", "no-trigger", _F, "start the scenario with `on <event>` so something can start it")
DUPLICATE_HEADER = _code(
    "SCN314",
    "duplicate-header",
    _F,
    "a scenario has one entry rule per contact and one per order, one frequency cap,"
    " one quiet hours, one send window and one attribution window",
)
BAD_DATE = _code("SCN315", "bad-date", _F, "write dates as YYYY-MM-DD with a real day")
BAD_COUNT = _code("SCN316", "bad-count", _F, "counts are whole numbers of 1 or more")
BAD_PERCENT = _code("SCN317", "bad-percent", _F, "percentages here are above 0% and at most 100%")
EMPTY_SPLIT = _code("SCN318", "empty-split", _F, "a split needs at least one variant")
BAD_CALENDAR = _code(
    "SCN319",
    "bad-calendar",
    _F,
    "days of the month run from 1st to 31st (1st, 2nd, 3rd, 4th …); a date trigger's shift is whole days",
)
EMPTY_SEND_WINDOW = _code(
    "SCN320",
    "empty-send-window",
    _F,
    "a send window needs different start and end times, each day once, and some time that quiet hours leave free",
)
# Broadcasts (a range of their own in the 3xx).
BROADCAST_IN_PAST = _code(
    "SCN330",
    "broadcast-in-past",
    _F,
    "give a time still to come: a broadcast whose time has passed goes as soon as it is deployed",
    warning=True,
)
UNKNOWN_ZONE = _code(
    "SCN331", "unknown-zone", _F, 'name a zone of the IANA database such as "Europe/Riga", or write `local`'
)
EMPTY_BROADCAST = _code("SCN332", "empty-broadcast", _F, "give the broadcast a step such as `send email <template>`")

# ---- the workspace's sending policy (`policy ... end`, docs/language.md)
_P = Category.POLICY
DUPLICATE_POLICY = _code(
    "SCN401", "duplicate-policy", _P,
    "a workspace has one `policy`; in it, cap each channel once, rate each provider once, set quiet hours once",
)  # fmt: skip
UNKNOWN_PROVIDER = _code(
    "SCN402", "unknown-provider", _P, "rate a provider scn sends through: `smtp` (email)"
)  # fmt: skip
LOOSER_THAN_POLICY = _code(
    "SCN403", "looser-than-policy", _P,
    "the policy holds back what this cap lets through: tighten the cap to the policy's, or drop it",
    warning=True,
)  # fmt: skip
MARKETING_IN_TRANSACTIONAL = _code(
    "SCN404", "marketing-in-transactional", _P,
    "a transactional message bypasses the policy, so keep offers out of it: send the coupon or the products in a "
    "marketing template",
    warning=True,
)  # fmt: skip

# ---- suppressions (`# scn: ignore[...]`, docs/language.md §9.5)
_X = Category.SUPPRESSIONS
UNUSED_SUPPRESSION = _code(
    "SCN901",
    "unused-suppression",
    _X,
    "remove the comment, or the codes it names that no longer occur there (`scn check --fix` does)",
    warning=True,
)
BLANKET_SUPPRESSION = _code(
    "SCN902",
    "blanket-suppression",
    _X,
    "name the codes to ignore, as in `# scn: ignore[SCN308]`, so that new warnings still show",
    warning=True,
)
BAD_SUPPRESSION = _code(
    "SCN903",
    "bad-suppression",
    _X,
    "name warning codes from the table in docs/language.md §9.4; errors cannot be ignored",
    warning=True,
)
