"""Message templates: sandboxed, autoescaped where HTML, strict about undefined names."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from scn.interpreter.program import TemplateVariant
from scn.interpreter.values import Money
from scn.stdlib.delivery.http import sms_segments
from scn.stdlib.messages import render_variant
from scn.stdlib.render_context import RenderBudgetError

from .harness import Harness

ROOT = Path(__file__).resolve().parent.parent


def variant(**parts: str) -> TemplateVariant:
    return TemplateVariant(lang="en", parts=parts, sources={k: f"<{k}>" for k in parts})


class Person:
    def __init__(self, name: str) -> None:
        self.first_name = name
        self.tags = ["a"]


class Box:
    """A type with fields named like the methods that change a list or a dict."""

    pop = "popped"
    clear = "cleared"


def test_html_is_autoescaped_and_text_and_subject_are_not() -> None:
    parts = render_variant(
        variant(subject="Hi {{ contact.first_name }}", html="<p>{{ contact.first_name }}</p>"),
        {"contact": Person("<b>Tom & Jerry</b>")},
    )
    assert parts["html"] == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert parts["subject"] == "Hi <b>Tom & Jerry</b>"
    assert parts["plain"].strip() == "<b>Tom & Jerry</b>", "the text part shows the name as written"


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__.__mro__ }}",
        "{{ contact.__init__.__globals__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ contact.tags.append('x') }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ '%s' % contact }}",
        "{{ 2 ** 1000000 }}",
    ],
)
def test_templates_cannot_reach_python_internals_or_change_data(source: str) -> None:
    person = Person("Ann")
    with pytest.raises((SecurityError, UndefinedError)):
        render_variant(variant(text=source), {"contact": person})
    assert person.tags == ["a"]


def test_the_sandbox_answers_the_same_the_second_time() -> None:
    """The sandbox remembers which attributes of a type are safe: a safe read of one kind
    must not open an unsafe one, on a type it has answered for or on another."""
    person, box = Person("Ann"), Box()
    for _ in range(3):  # the first render asks Jinja, the later ones are answered from memory
        parts = render_variant(variant(text="{{ contact.first_name }} {{ contact.tags|length }} {{ box.pop }}"),
                               {"contact": person, "box": box})  # fmt: skip
        assert parts["text"] == "Ann 1 popped", "`pop` of a type that is not a list is a field"
        for source in ("{{ contact.tags.append('x') }}", "{{ contact.__class__ }}", "{{ contact.tags.pop() }}",
                       "{{ data.clear() }}", "{{ data.__len__ }}"):  # fmt: skip
            with pytest.raises((SecurityError, UndefinedError)):
                render_variant(variant(text=source), {"contact": person, "data": {"a": 1}})
        assert person.tags == ["a"]
        # str.format is a method: Jinja wraps it in its sandboxed formatter every time.
        with pytest.raises(SecurityError):
            render_variant(variant(text="{{ '{0.__class__}'.format(contact) }}"), {"contact": person})


def test_the_loop_before_the_first_item_and_after_the_last_is_unset_every_time() -> None:
    """`loop.previtem` is Jinja's Undefined in the first round, which templates read as
    unset: so in every render, also once the sandbox knows the attribute is safe."""
    source = "{% for x in items %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %}"
    for _ in range(3):
        assert render_variant(variant(text=source), {"items": [1, 2]})["text"] == "[<1>2][1<2>]"


def test_a_field_that_is_an_item_and_an_unset_value_read_alike_every_time() -> None:
    for _ in range(3):
        parts = render_variant(
            variant(text="{{ order.number }}|{{ missing.name }}|{{ item.name }}"),
            {"order": {"number": "N1"}, "missing": None, "item": {"name": "Mug"}},
        )
        assert parts["text"] == "N1||Mug"


def test_an_undefined_name_is_an_error_not_empty_text() -> None:
    with pytest.raises(UndefinedError):
        render_variant(variant(text="Hello {{ contact.nickname }}"), {"contact": Person("Ann")})


async def test_a_template_over_its_budget_fails_the_step_with_a_readable_reason() -> None:
    text = """
template hello email
  subject "Hi"
  html "hello.html"
end
scenario hello "Hello"
  on contact.active
  send email hello
end
"""
    # Over a list whose length only the data tells: `scn check` refuses loops of numbers
    # written in the template that go over the budget (tests/bad/templates_loops_over_budget).
    loops = "{% for tag in contact.tags %}{% for b in range(1000) %}{% endfor %}{% endfor %}"
    tags = [f"tag-{n}" for n in range(100)]
    async with Harness(text, resources={"hello.html": f"<p>{loops}</p><a href='{{{{ unsubscribe_url }}}}'>u</a>"}) as h:
        await h.play([h.event("contact.active", "ann", person={"first_name": "Ann", "tags": tags})])
        ((outcome, detail),) = await h.rows("SELECT outcome, detail FROM step_log WHERE name LIKE 'send%'")
        assert outcome == "failed" and detail.startswith("template hello (default), html from "), detail
        # The loop count runs out first, unless a loaded machine runs out of time first.
        assert detail.endswith(
            ("the template loops more than 100000 times for one message", "the template took longer than 1 s to render")
        ), detail
        assert await h.rows("SELECT status, failure, error FROM outbox") == [("failed", "template", detail)]


def test_a_field_without_a_value_prints_as_nothing() -> None:
    parts = render_variant(variant(text="Hi {{ contact.first_name }}!", subject="{{ contact.first_name or 'friend' }}"),
                           {"contact": Person(None)})  # type: ignore[arg-type]  # fmt: skip
    assert parts == {"text": "Hi !", "subject": "friend"}


# ---------------------------------------------------------------- what used to fail at send time

SHOP = """
currency UAH
segment regulars "Regulars" where contact.orders.count >= 1
coupon TEN discount 12.5% code "TEN" valid 36h
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 5% above 1000 UAH
end
group members "Members" with program cashback default
template thanks email
  subject "{{ coupon.percent|percent }} / {{ bonus.percent|percent }} / {{ bonus.amount|money }}"
  html "thanks.html"
end
template comeback email
  subject "{{ coupon.discount }} until {{ coupon.valid_until|date }}"
  html "comeback.html"
end
scenario thanks "Thanks"
  on order.paid
  entry once per order
  award bonus
  send email thanks with coupon TEN
end
scenario comeback "Comeback"
  on segment.entered where event.segment == regulars
  entry once per contact
  send email comeback with coupon TEN
end
"""
PAGES = {
    "thanks.html": "<p>{{ coupon.price_before|money }} → {{ coupon.price_after|money }}</p>"
    "<a href='{{ unsubscribe_url }}'>u</a>",
    "comeback.html": "<p>{{ coupon.valid_until|datetime }}</p><a href='{{ unsubscribe_url }}'>u</a>",
}


def paid(h: Harness, contact: str, language: str, total: str) -> Any:
    person = {"first_name": "Ann", "language": language, "timezone": "Europe/Kyiv"}
    order = {"id": f"{contact}-1", "total": total, "currency": "UAH"}
    return h.event("order.paid", contact, person=person, order=order)


async def subjects(h: Harness) -> dict[tuple[str, str | None], str]:
    found = {}
    for contact, template, message in await h.rows("SELECT contact_id, template, message FROM outbox ORDER BY id"):
        found[(contact, template)] = json.loads(message)["subject"]
    return found


async def test_percentages_money_and_dates_print_by_the_language_of_the_message() -> None:
    """`|percent` failed on every percentage; `|date` printed 09.12.2026 in every language."""
    async with Harness(SHOP, resources=PAGES) as h:
        await h.play([paid(h, "ann", "uk", "1200.00"), paid(h, "jan", "pl", "1200.00"), paid(h, "joe", "en", "80")])
        got = await subjects(h)
    assert got[("ann", "thanks")] == "12,5% / 2% / 24,00\xa0₴"
    assert got[("jan", "thanks")] == "12,5% / 2% / 24,00\xa0UAH"
    assert got[("joe", "thanks")] == "12.5% / 2% / UAH\xa01.60"
    # Valid 36 hours from 2025-03-03 08:00 UTC: 2025-03-04 20:00 UTC, 22:00 in Kyiv.
    assert got[("ann", "comeback")] == "12,5% until 4 березня 2025\u202fр."
    assert got[("jan", "comeback")] == "12,5% until 4 marca 2025"
    assert got[("joe", "comeback")] == "12.5% until March 4, 2025"


async def test_a_coupon_price_needs_an_order_and_the_checker_says_so() -> None:
    """price_before/after printed nothing (or failed under |money) in a run without an order."""
    bad = SHOP.replace('html "comeback.html"', 'html "thanks.html"')
    from .harness import checked as check_ok

    with pytest.raises(AssertionError, match=r"`coupon.price_before` needs an order to price"):
        check_ok(bad, PAGES)


async def test_the_triggering_event_is_in_the_template_with_its_declared_types() -> None:
    text = """
event quiz.passed(course: string, score: number)
template done sms
  text "{{ event.course|upper }}: {{ event.score|number(1) }} ({{ event.occurred_at|date('short') }})"
end
scenario done "Done"
  on quiz.passed
  entry once per contact
  send sms done
end
"""
    async with Harness(text) as h:
        person = {"phone": "+380501234567", "language": "uk"}
        await h.play([h.event("quiz.passed", "ann", person=person, data={"course": "python", "score": 92})])
        ((message,),) = await h.rows("SELECT message FROM outbox")
    assert json.loads(message)["text"] == "PYTHON: 92,0 (03.03.25)"


def test_hostile_templates_are_refused_quickly_at_check_time() -> None:
    """`{{ 'x' * 10**9 }}` and `{{ 10**(10**7) }}` made the checker and the engine take
    gigabytes and minutes: `**` is refused, nothing is folded at check time."""
    import time

    from .conftest import check_texts

    for body in ("{{ 'x' * 10**9 }}", "{{ 10**(10**7) }}", "{{ '%s' % contact }}", "{{ '%s'|format(contact) }}"):
        started = time.monotonic()
        result = check_texts({"t.scn": 'template t sms\n  text "' + body + '"\nend\n'})
        assert time.monotonic() - started < 2
        assert [d.code.code for d in result.diagnostics] in (["SCN217"], ["SCN218"]), body


def test_a_long_text_built_at_send_time_fails_that_message_only() -> None:
    with pytest.raises(RenderBudgetError, match="longer than 1000000 characters"):
        render_variant(variant(text="{{ 'x' * 1000000000 }}"), {})
    with pytest.raises(RenderBudgetError):
        render_variant(variant(text="{% for a in range(1000) %}{{ 'x' * 999 }}{% endfor %}{{ 'y' * 999999 }}"), {})


@pytest.mark.parametrize("piece", ["<!--x", "</", "<?", "<![CDATA[", "<a href='x'>", "<"])
def test_the_text_version_of_any_html_takes_time_linear_in_its_size(piece: str) -> None:
    """The standard library's HTMLParser took 115 s on 100,000 unclosed `<!--`: a template
    whose output is like that must not stop the engine."""
    import time

    from scn.stdlib.messages import html_to_text

    started = time.monotonic()
    html_to_text(piece * 100_000)
    assert time.monotonic() - started < 5  # quadratic: minutes; linear: a fraction of a second


def test_the_text_version_keeps_paragraphs_and_spells_out_links() -> None:
    from scn.stdlib.messages import html_to_text

    markup = (
        "<html><head><title>T</title><style>p { color: red }</style></head><body>"
        "<p>Hi &amp; bye</p><a href='https://x.example/?a=1&amp;b=2'>Click <b>here</b></a><br>next"
        "<!--[if mso]><p>outlook only</p><![endif]--><div>Ціна: 10&nbsp;₴</div></body></html>"
    )
    assert html_to_text(markup) == "Hi & bye\nClick here (https://x.example/?a=1&b=2)\nnext\nЦіна: 10 ₴\n"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<!DOCTYPE html>\n<html><body><p>Hi</p></body></html>", "Hi\n"),
        ("<!doctype html><p>Hi</p>", "Hi\n"),
        ('<?xml version="1.0" encoding="utf-8"?><p>Hi</p>', "Hi\n"),
        ("<p>a<![CDATA[hidden]]>b</p>", "ab\n"),
        ("<p>a<!>b<?>c</p>", "abc\n"),  # the shortest declaration and instruction
        ("<p>1 <! 2</p>", "1 <! 2\n"),  # never closed: text, as written
        ("<p>x <1> y</p>", "x <1> y\n"),  # not a tag: text
        ("<p>5 < 7 > 3</p>", "5 < 7 > 3\n"),
    ],
)
def test_the_text_version_leaves_out_declarations_as_a_mail_client_does(markup: str, text: str) -> None:
    """`<!DOCTYPE html>` (every example template starts with it), `<?xml ...?>` and other
    `<!...>` / `<?...>` markup are not shown by a mail client, so the text part must not
    show them either; what is not closed stays text."""
    from scn.stdlib.messages import html_to_text

    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # A quantity and a price in cells side by side: "2150,00 zł" would read as 2,150 zł.
        ("<table><tr><td>Kubek × 2</td><td>150,00 zł</td></tr></table>", "Kubek × 2 | 150,00 zł\n"),
        ("<tr><th>Item</th><th>Price</th></tr><tr><td>Mug</td><td>75.00</td></tr>", "Item | Price\n\nMug | 75.00\n"),
        # Empty and blank cells (spacers) separate nothing; one cell a row is a line as it was.
        ("<tr><td></td><td>&nbsp;</td><td>A</td><td> </td><td>B</td><td></td></tr>", "A | B\n"),
        ("<tr><td>Only</td></tr>", "Only\n"),
        ("<tr><TD>x</TD ><td\nclass=a>y</td></tr>", "x | y\n"),
        # Cells in cells (a layout table around an order table), and a cell holding a link.
        ("<td><table><tr><td>a</td><td>b</td></tr></table></td><td>c</td>", "a | b\n\nc\n"),
        (
            '<tr><td><a href="https://x.example/m">Mug</a> × 2</td><td>150</td></tr>',
            "Mug (https://x.example/m) × 2 | 150\n",
        ),
        # `<tdx>` is no cell; a unit separator in the data is a space, not a cell.
        ("<tr><tdx>a</tdx><tdx>b</tdx></tr>", "ab\n"),
        ("<p>a\x1fb</p>", "a b\n"),
    ],
)
def test_the_text_version_keeps_table_cells_apart(markup: str, text: str) -> None:
    from scn.stdlib.messages import html_to_text

    assert html_to_text(markup) == text


def test_no_example_template_shows_markup_in_its_text_version() -> None:
    from scn.stdlib.messages import html_to_text

    paths = sorted((ROOT / "examples" / "templates").glob("*.html"))
    assert paths
    for path in paths:
        text = html_to_text(path.read_text(encoding="utf-8"))
        assert "<!" not in text and "<?" not in text, (path.name, text[:80])


def test_unset_values_compare_as_in_scenario_conditions() -> None:
    """`==` with an unset value is false, even with another unset one; `!=` is true."""

    class Nameless:
        first_name = None
        last_name = None

    text = (
        "{{ 'same' if contact.first_name == contact.last_name else 'differ' }} "
        "{{ 'ne' if contact.first_name != 'x' }} {{ 'lt' if contact.first_name < 'x' else 'not lt' }} "
        "{{ 'in' if contact.first_name in ['a'] else 'not in' }}"
    )
    assert render_variant(variant(text=text), {"contact": Nameless()}) == {"text": "differ ne not lt not in"}


@pytest.mark.parametrize(
    ("lang", "source", "expected"),
    [
        ("en", "Bonus: {{ 2|money('UAH') }}", "Bonus: UAH 2.00"),  # CLDR's currency spacing
        ("en", "Until {{ at|time }}", "Until 4:30 PM"),  # CLDR's narrow space before AM/PM
        ("lv", "{{ 1250|money('EUR') }}", "1 250,00 €"),  # Latvian groups digits by a no-break space
    ],
)
def test_a_short_text_has_plain_spaces_where_cldr_puts_no_break_ones(lang: str, source: str, expected: str) -> None:
    # An SMS with any character outside GSM-7 goes as UCS-2: 70 characters a segment,
    # not 160. CLDR's no-break spaces in money, numbers and times are such characters.
    at = dt.datetime(2026, 12, 9, 16, 30, tzinfo=dt.UTC)
    text = render_variant(TemplateVariant(lang=lang, parts={"text": source}, sources={}), {"at": at})["text"]
    assert text == expected
    assert sms_segments(text) == ("gsm7", 1)


def test_divisibleby_an_unset_number_is_false_not_a_failure() -> None:
    class Counts:
        first_name = None
        orders = 6

    text = (
        "{{ 'yes' if contact.orders is divisibleby(contact.first_name) else 'no' }} "
        "{{ 'yes' if contact.orders is divisibleby(3) else 'no' }} "
        "{{ 'yes' if contact.orders is divisibleby(0) else 'no' }}"
    )
    assert render_variant(variant(text=text), {"contact": Counts()}) == {"text": "no yes no"}


def test_numbers_past_28_digits_print_instead_of_failing() -> None:
    """The door takes numbers up to 15 digits and 10 decimals; two of them multiplied
    have more digits than Python's default decimal precision."""

    class Big:
        first_name = None
        score = Decimal("999999999999999.9999999999")
        spend = Money(Decimal("999999999999999.99"), "UAH")

    money = render_variant(variant(text="{{ (contact.spend * contact.score)|money }}"), {"contact": Big()})
    assert money["text"].replace("\xa0", " ").startswith("UAH 999,999,999,999,999,989,")
    text = (
        "{{ contact.score * contact.score }}|{{ 10000000000000000000000000000000 }}"
        "|{{ (contact.score * 1000)|number(2) }}"
    )
    parts = render_variant(variant(text=text), {"contact": Big()})
    first, second, third = parts["text"].split("|")
    assert first == "999,999,999,999,999,999,999,999,800,000"
    assert second == "10,000,000,000,000,000,000,000,000,000,000"
    assert third == "1,000,000,000,000,000,000.00"
