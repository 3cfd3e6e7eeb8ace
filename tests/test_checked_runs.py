"""What `scn check` passes, runs: mutated examples that check clean are played for real.

Each case changes an example the way a marketer editing it might: a field, a number, a
duration, an amount, a percentage, a filter, a string, a condition or a name swapped for
another from the examples; a guard `{% if %}` taken away from a template; a line
deleted or doubled; and sometimes the example's events lose a field, an event, or gain
a repeat. Where the check then reports nothing at all (no error, no warning), the
workspace runs on the real engine against those events, and nothing may go wrong that
the check could have said: no event set aside by an error in scn, no run failed, no
message failed for its template, nothing sent holds template code or a Python value
(`{{`, `{%`, `None`, `Undefined`, `object at 0x`), and the sender can write every email
(its headers, addresses and parts, as `build_email` does before SMTP). Failures the data alone decides (a
pool used up, an address that is not one) are not the check's to foresee.

A bounded run is part of the suite; `SCN_LONG_FUZZ=1` runs `SCN_FUZZ_EXAMPLES` cases
(default 20,000) with a new seed each time (hypothesis prints it on failure).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.runtime.events import EventError, read_event
from scn.interpreter.store import OutboxRow
from scn.interpreter.workspace import workspace_from_texts
from scn.stdlib.delivery.email import MailDefaults, build_email

from .harness import Harness
from .test_check_fuzz import EXAMPLES, FOLDER, LONG, RESOURCES, SOURCES

#: Failure classes the data decides, whatever the workspace says.
DATA_FAILURES = frozenset({"coupon", "address", "configuration", "suppressed"})
#: What a sent message must never hold.
LEAKS = re.compile(r"\{\{|\{%|\bNone\b|Undefined|object at 0x")

_TEXT = "\n".join([*SOURCES.values(), *RESOURCES.values()])
_SCN = "\n".join(SOURCES.values())
_PATH = r"\b(?:contact|order|item|event|product|coupon|bonus|run)\.[a-z_]+(?:\.[a-z_]+)?\b"
_CONDITION = re.compile(r"(?m)^(\s*(?:if|stop if|stop unless|elif) )(.+)$")
_IF_TAG = re.compile(r"\{%-?\s*if [^%]*%\}")
_ENDIF_TAG = re.compile(r"\{%-?\s*endif\s*-?%\}")
_BRANCH_TAG = re.compile(r"\{%-?\s*(?:if|else|elif)\b")
#: Each kind of edit: what it finds, and what it may put in its place.
SWAPS: dict[str, tuple[re.Pattern[str], list[str]]] = {
    "path": (re.compile(_PATH), sorted(set(re.findall(_PATH, _TEXT)))),
    "number": (re.compile(r"(?<![\w.])\d+(?![\w.%])"), ["0", "1", "2", "59", "60", "99", "100", "999", "1000", "1001"]),
    "duration": (
        re.compile(r"\b\d+[smhdw]\b"),
        [*sorted(set(re.findall(r"\b\d+[smhdw]\b", _SCN))), "0m", "1s", "365d"],
    ),
    "money": (
        re.compile(r"\b\d+(?:\.\d+)? ?(?=UAH|PLN|EUR)"),
        ["0 ", "0.01 ", "1 ", "999.99 ", "1000 ", "1000000000 "],
    ),
    "percent": (re.compile(r"\b\d+(?:\.\d+)?%"), ["0%", "0.5%", "1%", "50%", "99.99%", "100%"]),
    "filter": (re.compile(r"(?<=\|)\s*[a-z_]+"), sorted(set(re.findall(r"\|\s*([a-z_]+)", _TEXT)))),
    "string": (re.compile(r'"[^"\n{}]*"'), ['""', '" "', '"Ā"', '"ё"', '"{{ contact.first_name }}"']),
    "expression": (
        re.compile(r"(?<=\{\{)[^{}]*(?=\}\})"),
        [f" {e.strip()} " for e in re.findall(r"\{\{(.*?)\}\}", _TEXT)],
    ),
    "name": (re.compile(r"\b[a-z][a-z0-9_]+\b"), sorted(set(re.findall(r"\b[a-z][a-z0-9_]+\b", _SCN)))),
}
CONDITIONS = sorted({m.group(2).strip() for m in _CONDITION.finditer(_SCN)})


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    kind = draw(st.sampled_from([*SWAPS, "condition", "unguard", "drop line", "double line"]))
    if kind in SWAPS:
        pattern, choices = SWAPS[kind]
        found = list(pattern.finditer(text))
        if not found:
            return text
        at = draw(st.sampled_from(found))
        swapped: str = draw(st.sampled_from(choices))
        return text[: at.start()] + swapped + text[at.end() :]
    if kind == "condition":
        found = list(_CONDITION.finditer(text))
        if not found:
            return text
        at = draw(st.sampled_from(found))
        condition: str = draw(st.sampled_from(CONDITIONS))
        return text[: at.start(2)] + condition + text[at.end(2) :]
    if kind == "unguard":  # `{% if x %}…{% endif %}` (with no branch inside) → its body alone
        found = list(_IF_TAG.finditer(text))
        if not found:
            return text
        at = draw(st.sampled_from(found))
        rest = text[at.end() :]
        end = _ENDIF_TAG.search(rest)
        if end is None or _BRANCH_TAG.search(rest[: end.start()]):
            return text
        return text[: at.start()] + rest[: end.start()] + rest[end.end() :]
    lines = text.split("\n")
    number = draw(st.integers(0, len(lines) - 1))
    lines[number : number + 1] = [] if kind == "drop line" else [lines[number], lines[number]]
    return "\n".join(lines)


@st.composite
def timelines(draw: st.DrawFn, name: str) -> list[dict[str, Any]]:
    """The example's events, sometimes with a field of a contact or an order gone or
    blanked, an event gone, or an event repeated."""
    path = FOLDER / f"{name}.events.jsonl"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    documents: list[dict[str, Any]] = [json.loads(ln) for ln in lines]
    for document in documents:
        for part in ("contact", "order"):
            record = document.get(part)
            if isinstance(record, dict) and len(record) > 1 and draw(st.integers(0, 3)) == 0:
                field = draw(st.sampled_from(sorted(k for k in record if k != "id")))
                if draw(st.booleans()):
                    del record[field]
                elif isinstance(record[field], str):
                    record[field] = draw(st.sampled_from(["xx", "ā", "Europe/Nowhere", "0"]))
    if len(documents) > 1 and draw(st.integers(0, 4)) == 0:
        del documents[draw(st.integers(0, len(documents) - 1))]
    if draw(st.integers(0, 9)) == 0:
        documents.append(dict(draw(st.sampled_from(documents))))
    return documents


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, str], dict[str, str], list[dict[str, Any]]]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    stem = name.removesuffix(".scn")
    texts, resources = {name: SOURCES[name]}, dict(RESOURCES)
    own = [r for r in resources if r.endswith(".html") and r.split("/")[-1].split(".")[0] in SOURCES[name]]
    target = draw(st.sampled_from([name, *own]))
    for _ in range(draw(st.integers(1, 2))):
        if target == name:
            texts[name] = draw(edited(texts[name]))
        else:
            resources[target] = draw(edited(resources[target]))
    return stem, texts, resources, draw(timelines(stem))


async def what_went_wrong(checked: CheckResult, documents: list[dict[str, Any]]) -> list[str]:
    """Play the events on a real engine; what went wrong that the check could have said."""
    try:
        events = sorted((read_event(json.dumps(d)) for d in documents), key=lambda e: e.at or dt.datetime.min)
    except EventError:
        return []  # the door refuses such an event: nothing runs
    if not events or events[0].at is None:
        return []
    wrong: list[str] = []
    async with Harness("", start=events[0].at, checked_result=checked) as h:
        try:
            await h.play(events, until=dt.timedelta(days=60))
        except EventError:
            return []  # refused at the door (an order's currency, say): nothing ran
        aside = await h.rows("SELECT id, type, error FROM events WHERE error IS NOT NULL")
        failed_runs = await h.rows("SELECT scenario, step, reason FROM runs WHERE status = 'failed'")
        messages = await h.rows("SELECT template, status, failure, error, message FROM outbox")
        columns = ", ".join(OutboxRow.__struct_fields__)
        emails = [OutboxRow(*r) for r in await h.rows(f"SELECT {columns} FROM outbox WHERE channel = 'email'")]
    wrong += [f"event {number} ({kind}) set aside: {why}" for number, kind, why in aside]
    wrong += [f"run of {s} failed at {step}: {why}" for s, step, why in failed_runs]
    for template, status, failure, error, message in messages:
        if status == "failed" and failure not in DATA_FAILURES:
            wrong.append(f"message {template} failed ({failure}): {error}")
        leak = LEAKS.search(str(message or ""))
        if leak is not None:
            wrong.append(f"message {template} holds {leak.group()!r}")
    for email in emails:  # what the sender would write for each: its headers and parts
        if email.status == "pending":
            try:
                build_email(email, MailDefaults(), dt.datetime.now(dt.UTC))
            except Exception as error:
                wrong.append(f"email {email.template} cannot be written: {type(error).__name__}: {error}")
    return wrong


@pytest.mark.timeout(0 if LONG else 300)
@settings(max_examples=EXAMPLES * 2, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=cases())
def test_what_checks_clean_runs_clean(case: tuple[str, dict[str, str], dict[str, str], list[dict[str, Any]]]) -> None:
    stem, texts, resources, documents = case
    checked = check_workspace(workspace_from_texts(texts, resources))
    if checked.diagnostics:
        return  # the check said something: the marketer was told
    wrong = asyncio.run(what_went_wrong(checked, documents))
    assert wrong == [], (stem, wrong[:5])


def test_what_the_fuzzer_looks_for_is_seen() -> None:
    """The detector itself: a subject that prints nothing without a first name (SCN219, a
    warning, so the fuzzer would not play it) fails the messages of the contacts without
    one, and a failed message is reported."""
    name = "black_friday.scn"
    source = SOURCES[name].replace(
        "{{ contact.first_name or 'Friends' }}, Black Friday: {{ coupon.discount }} off everything",
        "{{ contact.first_name }}",
    )
    checked = check_workspace(workspace_from_texts({name: source}, RESOURCES))
    assert [d.code.code for d in checked.diagnostics] == ["SCN219"]
    documents = [
        json.loads(line)
        for line in (FOLDER / "black_friday.events.jsonl").read_text(encoding="utf-8").splitlines()
        if line.startswith("{")
    ]
    for document in documents:
        document.get("contact", {}).pop("first_name", None)
    wrong = asyncio.run(what_went_wrong(checked, documents))
    assert wrong and all("the subject is empty for this contact" in w for w in wrong), wrong
