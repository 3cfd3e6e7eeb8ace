"""The check and the runtime agree on which messages may print nothing.

The runtime fails a message whose required part prints nothing (its reason says so);
`scn check` warns with SCN219 where a required part prints something only inside
`{% if %}` / `{% for %}` or only from values that may be unset, and refuses with SCN206
a part that prints nothing at all. Here every template is sent to a contact with no
optional field set: exactly the warned ones fail, and every other one goes out.
"""

from __future__ import annotations

import pytest

from scn.interpreter import codes
from scn.interpreter.store import PENDING, UNDELIVERED

from .conftest import check_texts
from .harness import Harness

#: Templates the check passes without SCN219: they print something for every contact.
ALWAYS = {
    "with_text": "Hi{% if contact.first_name %}, {{ contact.first_name }}{% endif %}",
    "with_default": "{{ contact.first_name|default('friend') }}",
    "with_or": "{{ contact.first_name or 'friend' }}",
    "always_set": "{{ contact.orders.count }}",
    "tested_field": "{% if contact.first_name %}{{ contact.first_name }}{% else %}Hi{% endif %}",
    "loop_else": "{% for p in bestsellers %}{{ p.id }}{% else %}Nothing new{% endfor %}",
    "range_loop": "{% for i in range(2) %}*{% endfor %}",
    "joined": "{{ contact.first_name ~ '!' }}",
    "both_ways": "{{ 'A' if contact.first_name else 'B' }}",
}
#: Templates the check warns about (SCN219); for a contact with nothing set they print nothing.
SOMETIMES = {
    "only_unset": "{{ contact.first_name }}",
    "only_inside_if": "{% if contact.first_name %}Hi {{ contact.first_name }}{% endif %}",
    "elif_without_else": "{% if contact.first_name %}A{% elif contact.last_name %}B{% endif %}",
    "only_in_loop": "{% for p in bestsellers %}{{ p.id }} {% endfor %}",
    "filtered_unset": "{{ contact.first_name|upper }}",
    "one_sided": "{{ contact.first_name if contact.first_name }}",
    "not_equal_tested": "{% if contact.first_name != 'x' %}{{ contact.first_name }}{% else %}y{% endif %}",
}


def workspace(templates: dict[str, str]) -> str:
    blocks = [f'template {name} sms\n  text "{text}"\nend\n' for name, text in templates.items()]
    sends = "".join(f"  send sms {name}\n" for name in templates)
    return "\n".join(blocks) + f'\nscenario s "S"\n  on contact.registered\n  entry once per contact\n{sends}end\n'


def test_the_check_warns_exactly_where_a_part_may_print_nothing() -> None:
    result = check_texts({"t.scn": workspace({**ALWAYS, **SOMETIMES})}, {})
    assert result.ok
    warned = {d.message.split("`")[1] for d in result.diagnostics if d.code is codes.MAY_PRINT_NOTHING}
    assert warned == set(SOMETIMES)


@pytest.mark.parametrize("text", [" ", "", "{% if contact.first_name %}{% endif %}", "{# a note #}", "{{ '' }}"])
def test_a_part_that_prints_nothing_at_all_is_an_error(text: str) -> None:
    result = check_texts({"t.scn": workspace({"blank": text})}, {})
    assert [d.code for d in result.diagnostics if d.is_error] == [codes.MISSING_TEMPLATE_PART]


async def test_the_runtime_fails_exactly_the_messages_the_check_warned_about() -> None:
    async with Harness(workspace({**ALWAYS, **SOMETIMES})) as h:
        await h.play([h.event("contact.registered", "bare", person={"phone": "+48500100200"})])
        rows = await h.rows("SELECT template, status, failure FROM outbox")
    assert {t for t, status, _ in rows if status == PENDING} == set(ALWAYS)
    assert {t for t, status, failure in rows if status == UNDELIVERED and failure == "template"} == set(SOMETIMES)
