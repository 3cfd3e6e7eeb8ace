"""What each diagnostic code means, for `scn explain` and the links in JSON and SARIF output.

docs/language.md §9.4 is the reference, but it is not installed with the package: these
texts are its table's "Means" column (tests/test_explain.py keeps the two the same) and,
for the codes the document shows an example of, that example.
"""

from __future__ import annotations

from .. import DOCS_URL as DOCS_URL  # re-exported: the reports link codes with it
from .codes import REGISTRY, Code, Severity
from .suggest import closest_name


def doc_url(code: str) -> str:
    """The address of the code's row in the table of docs/language.md §9.4."""
    return f"{DOCS_URL}#{code.lower()}"


MEANS: dict[str, str] = {
    "SCN000": "a path does not exist, or a file cannot be read or is not UTF-8 text",
    "SCN001": "a word or symbol the grammar does not allow here",
    "SCN002": "a character that starts nothing: a non-Latin name, a stray symbol, a typographic or single quote",
    "SCN003": "a string is not closed on its line",
    "SCN004": "a block is not closed with `end`",
    "SCN005": "a word close to the keyword expected here",
    "SCN006": "a number and a unit word apart, such as `30 min`",
    "SCN007": "`=` where a comparison `==` is meant",
    "SCN008": "an unknown escape in a string",
    "SCN009": "the file ends in the middle of a statement",
    "SCN010": "a scenario header after the steps have begun",
    "SCN011": "an expression with more than 128 operators inside one another, or steps nested more than 32 blocks deep",
    "SCN012": '`is` used other than in `PATH is set` / `PATH is not set`: `x is null`, `x is "a"`, `1 + x is set`',
    "SCN101": "a name that is not declared (or an undeclared attribute)",
    "SCN102": "a name, event, field or attribute declared twice in the workspace",
    "SCN103": "an event that is neither built in nor declared",
    "SCN104": "a record has no field of this name",
    "SCN105": "values of types that do not fit together or do not fit this place",
    "SCN106": "money of two currencies, or not in the workspace currency",
    "SCN107": "a declaration of the wrong kind, such as a segment where a list is needed",
    "SCN108": "a function that does not exist",
    "SCN109": "a missing, unknown, extra or repeated argument",
    "SCN110": "an attribute or event field of a type that does not exist",
    "SCN111": "a currency code that is not supported",
    "SCN112": "a condition that is not true or false",
    "SCN113": (
        "`order`, `item` or `event` where no such record exists, or `entry … per order` with a trigger "
        "that carries no order"
    ),
    "SCN114": "a custom attribute with the name of a built-in contact field",
    "SCN115": "a field that may be unset is compared or computed with, and nothing says what unset means there (§6.7)",
    "SCN116": (
        "without a workspace `currency`, a run's step compares money whose currency only the data knows (an "
        "order's total, a contact's spend) with money of a written currency, or adds them: the run fails for a "
        "record in another currency"
    ),
    "SCN117": "a segment whose condition reads itself through `in_segment()`, directly or through other segments",
    "SCN201": "an `html` or `plain` file that does not exist or is not UTF-8",
    "SCN202": "a Jinja syntax error in a template",
    "SCN203": "a template reads a variable or field that does not exist, or that this send does not provide",
    "SCN204": "a template sent on a channel it was not declared for",
    "SCN205": "an email's html has no `{{ unsubscribe_url }}`",
    "SCN206": "a template or language variant lacks a required part, or a required part prints nothing but blanks",
    "SCN207": "a template with languages has no fallback, or the fallback has no `lang` block",
    "SCN208": "a setting, part, language, option or webhook field given twice",
    "SCN209": (
        "a coupon without a discount, without codes, with two sources, with an empty value, or a static code "
        "written as a template"
    ),
    "SCN210": "a coupon pool file that does not exist, is not UTF-8 or holds no codes",
    "SCN211": (
        "a sender or reply-to address or SMS sender name that is not valid, or a sender's name written as a template"
    ),
    "SCN212": (
        "a webhook URL that is not `https://` (or holds `{{ }}`, which is not filled in), or a Viber or push "
        "`url`/`image` that is not an `https://` link with its site written in the template, or an email link or "
        "image whose whole address is a field that may be unset, with no `if` around it"
    ),
    "SCN213": "a part or setting the channel does not take",
    "SCN214": "a generated-code pattern with fewer than 40 random bits",
    "SCN215": "a language code that is not supported",
    "SCN216": "two default groups, or `award bonus` without an amount and no group with a program",
    "SCN217": (
        "a template uses what message templates cannot: an unknown filter or test, a macro, an include, "
        "a call of a function or method, `**`, `|safe` on data"
    ),
    "SCN218": (
        "a template gives a filter, test or operator a value it does not take, compares values that "
        "cannot be compared, prints a record, a list or true/false, or reads a coupon's prices without "
        "an order"
    ),
    "SCN219": (
        "a required part (an email's subject or html, a text) prints something only inside `{% if %}` or "
        "`{% for %}`, or only from values that may be unset: for a contact it prints nothing for, the message fails"
    ),
    "SCN220": "an `award bonus` amount written as zero or below",
    "SCN301": "a split's shares do not add up to 100%",
    "SCN302": "two bands overlap, or a band is empty",
    "SCN303": "values between two bands fall into none",
    "SCN304": "a step after an unconditional stop",
    "SCN305": "a time of day outside 00:00–23:59",
    "SCN306": "quiet hours that start and end at the same time",
    "SCN307": "an issued code expires before the send that delivers it",
    "SCN308": "a frequent trigger and nothing capping the sends",
    "SCN309": "two variants of one name, or two control groups",
    "SCN310": "loyalty tiers that do not go up, or no last `above` tier",
    "SCN311": "a step label used twice in a scenario",
    "SCN312": "a wait, timeout, window or validity of zero",
    "SCN313": "a scenario without `on`",
    "SCN314": "a header given twice, or `entry every time` with a limit",
    "SCN315": "a date that does not exist",
    "SCN316": (
        "a count that is not a whole number of 1 or more (an entry rule's or cap's `N`, a recommendation's `limit`)"
    ),
    "SCN317": "a percentage out of its range (a discount, tier or share above 0% and up to 100%)",
    "SCN318": "a split without any variant",
    "SCN319": (
        "a day of the month outside 1st–31st or with the wrong ending (`2st`), or a date trigger shifted by "
        "other than whole days"
    ),
    "SCN320": (
        "a send window that starts and ends at the same time, names a day twice, or lies wholly inside the quiet hours"
    ),
    "SCN401": "a second `policy` in the workspace, or a rule given twice in one",
    "SCN402": "a policy rate for a provider scn does not send through",
    "SCN403": "a scenario's frequency cap lets through more than the policy's cap of a channel it sends on",
    "SCN404": "a transactional template sent with a coupon or products, or showing them",
    "SCN330": "a broadcast's time has passed: it goes as soon as it is deployed",
    "SCN331": "a time zone the IANA database does not know",
    "SCN332": "a broadcast without steps",
    "SCN901": "a `# scn: ignore` comment (or one of its codes) that ignores nothing; `--fix` removes it (§9.5)",
    "SCN902": "`# scn: ignore` without codes, which ignores every warning on its line",
    "SCN903": "a suppression naming an unknown code or an error (errors cannot be ignored)",
}
EXAMPLES: dict[str, str] = {
    "SCN330": (
        "# SCN330 (a warning): 10:00 on 1 January 2020 has passed: it would go at once\n"
        "broadcast too_late to list vip at 2020-01-01 10:00\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN331": (
        '# SCN331: there is no zone "Mars/Olympus"\n'
        'broadcast nowhere to list vip at 2030-01-01 10:00 "Mars/Olympus"\n'
        "  send email thanks\n"
        "end\n"
    ),
    "SCN332": "# SCN332: a broadcast without steps sends nothing\nbroadcast nothing_to_say to list vip\nend\n",
    "SCN002": ("# SCN002: a name must use Latin letters, digits and `_`\nlist неоплачені\n"),
    "SCN005": (
        "# SCN005: `sned` is not a keyword; did you mean `send`?\n"
        "scenario typo\n"
        "  on contact.registered\n"
        "  sned sms hello\n"
        "end\n"
    ),
    "SCN304": (
        "# SCN304: `stop` on its own line ends the run; the `if` after it can never run\n"
        "scenario stop_then_if\n"
        "  on contact.registered\n"
        "  stop\n"
        "  if contact.subscribed.sms\n"
        "    send sms hello\n"
        "  end\n"
        "end\n"
    ),
    "SCN006": (
        "# SCN006: write `30m`, not `30 min`\n"
        "scenario spaced\n"
        "  on order.unpaid\n"
        "  wait 30 min\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN214": (
        "# SCN214: `{XXXX}` is only 20 random bits; codes need at least 40\n"
        'coupon WEAK discount 10% generated "A-{XXXX}"\n'
    ),
    "SCN010": (
        "# SCN010: headers (here `exit when`) must come before the first step\n"
        "scenario late_header\n"
        "  on order.unpaid\n"
        "  wait 30m\n"
        "  exit when order.paid\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN308": (
        "# SCN308 (a warning): order.paid fires on every order, and nothing caps these sends\n"
        "scenario uncapped\n"
        "  on order.paid\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN303": (
        "# SCN303: values from 200 PLN up to 300 PLN fall into no band\n"
        "scenario gap\n"
        "  on order.paid\n"
        "  entry once per contact\n"
        "  bands order.total\n"
        "    below 200 PLN\n"
        "      send email thanks\n"
        "    from 300 PLN\n"
        "      send email offer with coupon THANKS10\n"
        "  end\n"
        "end\n"
    ),
    "SCN301": (
        "# SCN301: the shares add up to 90%, not 100%\n"
        "scenario short_split\n"
        "  on contact.registered\n"
        "  split\n"
        "    variant a 45%\n"
        "      send sms hello\n"
        "    variant b 45%\n"
        "      send email thanks\n"
        "  end\n"
        "end\n"
    ),
    "SCN307": (
        "# SCN307 (a warning): the code is valid for 24h, but 2d pass before the send\n"
        'coupon DAY_ONLY discount 10% generated "DAY-{XXXXXXXX}" valid 24h\n'
        "scenario expired\n"
        "  on contact.registered\n"
        "  issue coupon DAY_ONLY\n"
        "  wait 2d\n"
        "  send email offer with coupon DAY_ONLY\n"
        "end\n"
    ),
    "SCN007": (
        "# SCN007: compare with `==`; a single `=` is only for `set`\n"
        "scenario single_equals\n"
        '  on order.paid where order.offer = "course-a"\n'
        "  entry once per contact\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN105": (
        "# SCN105: money needs its currency: write `100 EUR`\n"
        'segment untyped_money "Missing currency" where contact.orders.total > 100\n'
    ),
    "SCN106": (
        "# SCN106: money of different currencies cannot be compared\n"
        "currency UAH\n"
        'segment mixed_currency "Two currencies" where contact.lifetime_spend > 100 EUR\n'
    ),
    "SCN113": (
        "# SCN113: contact.registered carries no order\n"
        "scenario no_order_here\n"
        "  on contact.registered\n"
        "  stop if order.paid\n"
        "  send sms hello\n"
        "end\n"
    ),
    "SCN115": (
        "# SCN115 (a warning): a contact who was never active has no last_activity_at\n"
        'segment inactive "Inactive for 30 days" where contact.last_activity_at < ago(30d)\n'
    ),
    "SCN320": (
        "# SCN320: the quiet hours cover the whole send window\n"
        'scenario never "Never sends"\n'
        "  on contact.registered\n"
        "  quiet hours 20:00 to 10:00\n"
        "  send only sat, sun 21:00 to 23:00\n"
        "  send email thanks\n"
        "end\n"
    ),
    "SCN004": (
        "# SCN004: the `if` is closed, but `scenario first` is not\n"
        "scenario first\n"
        "  on order.paid\n"
        "  entry once per contact\n"
        "  if order.total > 100 EUR\n"
        "    add to list vip\n"
        "  end\n"
        "scenario second\n"
        "  on contact.registered\n"
        "  send sms hello\n"
        "end\n"
    ),
}


def explain(code: Code) -> str:
    """The code's documentation as `scn explain` prints it."""
    kind = "a warning: it fails the check only with --strict" if code.severity is Severity.WARNING else "an error"
    lines = [
        f"{code.code} {code.name} ({kind})",
        "",
        f"Means: {MEANS[code.code]}.",
        f"Help: {code.help}.",
        f"Category: {code.category.value}.",
    ]
    example = EXAMPLES.get(code.code)
    if example is not None:
        lines += ["", "Example:", "", *("    " + line if line else "" for line in example.splitlines())]
    lines += ["", f"Documentation: {doc_url(code.code)}"]
    return "\n".join(lines) + "\n"


def find_code(text: str) -> Code | None:
    """The code ``text`` names: `SCN214`, `scn214`, `214` or its name `weak-coupon-pattern`."""
    wanted = text.strip()
    if wanted.isdigit():
        wanted = f"SCN{wanted.zfill(3)}"
    found = REGISTRY.get(wanted.upper())
    return found or next((c for c in REGISTRY.values() if c.name == wanted.lower()), None)


def closest_code(text: str) -> str | None:
    """The code (or code name) a misspelt one most likely meant."""
    return closest_name(text.strip(), [*REGISTRY, *(c.name for c in REGISTRY.values())])
