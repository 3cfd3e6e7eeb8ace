"""Message templates: sandboxed, autoescaped where HTML, strict about undefined names."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from scn.interpreter.program import TemplateVariant
from scn.stdlib.messages import render_variant

from .harness import Harness


def variant(**parts: str) -> TemplateVariant:
    return TemplateVariant(lang="en", parts=parts, sources={k: f"<{k}>" for k in parts})


class Person:
    def __init__(self, name: str) -> None:
        self.first_name = name
        self.tags = ["a"]


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
    ],
)
def test_templates_cannot_reach_python_internals_or_change_data(source: str) -> None:
    person = Person("Ann")
    with pytest.raises((SecurityError, UndefinedError)):
        render_variant(variant(text=source), {"contact": person})
    assert person.tags == ["a"]


def test_an_undefined_name_is_an_error_not_empty_text() -> None:
    with pytest.raises(UndefinedError):
        render_variant(variant(text="Hello {{ contact.nickname }}"), {"contact": Person("Ann")})


async def test_a_template_that_fails_at_run_time_fails_the_step_with_the_reason() -> None:
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
    async with Harness(text, resources={"hello.html": "<p>{{ contact.first_name.__class__.__mro__ }}</p>"}) as h:
        await h.play([h.event("contact.active", "ann", person={"first_name": "Ann"})])
        ((outcome, detail),) = await h.rows("SELECT outcome, detail FROM step_log WHERE name LIKE 'send%'")
        assert outcome == "failed" and detail.startswith("template hello (default), html from "), detail
        assert "line 1: <p>{{ contact.first_name.__class__.__mro__ }}</p>: access to attribute" in detail
        assert await h.rows("SELECT status, failure, error FROM outbox") == [("failed", "template", detail)]


def test_a_field_without_a_value_prints_as_nothing() -> None:
    parts = render_variant(variant(text="Hi {{ contact.first_name }}!", subject="{{ contact.first_name or 'friend' }}"),
                           {"contact": Person(None)})  # type: ignore[arg-type]  # fmt: skip
    assert parts == {"text": "Hi !", "subject": "friend"}
