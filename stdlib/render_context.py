"""What one render of a message carries: its language, the contact's zone, its budget.

Rendering runs under a budget: strings, output and loop iterations have a size limit
and the whole render a time limit, checked at every loop iteration and every piece of
output. A render over budget fails that message with a readable reason
(RenderBudgetError) and nothing else.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from jinja2.runtime import Context

from . import formatting

#: Where a render's language, time zone and budget travel in the template context.
#: Templates cannot name it: the checker knows no such variable.
RENDER_KEY = "scn_render"
#: The longest string a template may build, and the longest part it may render.
MAX_TEXT = 1_000_000
#: Loop iterations one message may take, over all its parts.
MAX_ITERATIONS = 100_000
#: Wall-clock time one message may take to render, over all its parts.
MAX_SECONDS = 1.0
#: The largest `range()` a template may loop over (the checker enforces it).
MAX_RANGE = 1000


class RenderError(Exception):
    """A message could not be rendered; the message says why, for a marketer."""


class RenderBudgetError(RenderError):
    """A render took more time, loop iterations or text than a message may."""


class Budget:
    """What is left of one message's render budget."""

    __slots__ = ("deadline", "iterations")

    def __init__(self, seconds: float = MAX_SECONDS, iterations: int = MAX_ITERATIONS) -> None:
        self.deadline = time.monotonic() + seconds
        self.iterations = iterations

    def tick(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise RenderBudgetError(f"the template loops more than {MAX_ITERATIONS} times for one message")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderBudgetError(f"the template took longer than {MAX_SECONDS:g} s to render")


class RenderInfo:
    """The conventions a message is written in: its language, the contact's zone."""

    __slots__ = ("locale", "zone", "budget")

    def __init__(self, language: str | None, zone: ZoneInfo, budget: Budget | None = None) -> None:
        self.locale: Locale = formatting.locale_of(language)
        self.zone = zone
        self.budget = budget if budget is not None else Budget()


def info_of(context: Context) -> RenderInfo:
    info = context.get(RENDER_KEY)
    if not isinstance(info, RenderInfo):  # a render outside render_text, e.g. in a test
        info = RenderInfo(None, ZoneInfo("UTC"))
    return info


def bounded(text: Any) -> Any:
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise RenderBudgetError(f"the template builds a text longer than {MAX_TEXT} characters")
    return text


def as_number(value: Any) -> Any:
    """Jinja's literals are int and float; money and numbers at run time are Decimal."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
