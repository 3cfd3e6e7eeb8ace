"""The steps that give a contact something: a message (`send`) and a coupon code.

A send that cannot be made for this contact now (no code left, an address that is not
one, a render over budget) becomes a failed message with the reason; a send that must
not go (quiet hours, a cap, unsubscribed, no products) is skipped or deferred, with why.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel import Locale

from ...grammar._format import expr_text
from ...stdlib import formatting, messages, tracking
from ...stdlib.coupons import generate_code
from ...stdlib.failures import ADDRESS, COUPON, TEMPLATE, address_problem, template_reason
from .. import program as p
from ..clock import ms_of
from ..store import UNDELIVERED, CouponIssue
from ..timing import after_quiet_hours, end_of_month, next_in_send_window, start_of_day
from ..values import Money, Percent, to_decimal
from ..views import ADDRESS_FIELDS, CHANNEL_PARTS, BonusView, CouponView, OrderView, channel_flags, moment
from .evaluate import evaluate
from .facts import contact_zone
from .run_context import RunContext, duration_text, iso


def _plain_text(value: Any) -> str:
    """A subclass of str (Markup) as its text, as `json.dumps` writes it; anything else
    is no JSON, as before."""
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: The message as the outbox keeps it (JSON text, read back by the channels' `content`).
_encode_json = msgspec.json.Encoder(enc_hook=_plain_text).encode

logger = logging.getLogger("scn.runtime")


class SendSteps(RunContext):
    """`send` and `issue coupon`, and the coupon codes both give."""

    async def visit_Send(self, i: p.Send) -> None:
        run, batch = self.run, self.batch
        contact = await self.contact()
        skip = await self._why_not_send(i, contact)
        if skip == "quiet":
            return  # deferred: the run sleeps at this step until the quiet hours end
        products: list[Any] | None = None
        if skip is None and i.products is not None:
            products = list(await evaluate(i.products, await self.env()) or [])
            if not products:
                # A "products for you" mail with no products in it does more harm than good.
                skip = f"no products to show: {expr_text(i.products)} found none"
        if skip is not None:
            self.log(i, "skipped", skip)
            batch.changes.outbox.append(self.outbox_row(i, contact, "", "{}", None, status="skipped", error=skip))
            run.position += 1
            return
        recipient = _address(contact, i.channel) or ""
        try:
            parts, variant, code, context = await self._compose(i, contact, recipient, products)
        except _SendFailed as failure:
            # In plain sight: a failed message with the reason, counted like any other.
            self.log(i, "failed", failure.reason)
            batch.changes.outbox.append(self.outbox_row(i, contact, recipient, "{}", failure.code, status=UNDELIVERED,
                                                     error=failure.reason, failure=failure.kind))  # fmt: skip
            run.position += 1
            return
        template = self.bundle.templates[i.template]
        links: list[str] = []
        if i.channel == "email" and "html" in parts:
            key = tracking.message_key(run.id, i.id)
            parts["html"], links = tracking.track_html(parts["html"], key, self.settings)
        message = {
            **parts,
            "links": links,
            "lang": variant.lang,
            "from_name": template.sender_name,
            "from_address": template.sender_address,
            "reply_to": template.reply_to,
            "unsubscribe_url": context["unsubscribe_url"],
        }
        batch.changes.outbox.append(self.outbox_row(i, contact, recipient, _encode_json(message).decode(), code))
        policy = self.policy
        counted = policy is not None and i.channel in policy.caps and not template.transactional
        batch.message_queued(contact["id"], run.scenario, i.channel if counted else None)
        detail = f"{i.channel} {i.template} ({variant.lang or 'default'})" + (f" with code {code}" if code else "")
        detail += self.stock_note
        if products is not None:
            detail += "; products: " + ", ".join(getattr(p, "id", None) or str(p) for p in products)
        self.log(i, "sent", detail)
        run.position += 1

    async def _compose(
        self, i: p.Send, contact: dict[str, Any], recipient: str, products: list[Any] | None
    ) -> tuple[dict[str, str], p.TemplateVariant, str | None, dict[str, Any]]:
        """The rendered parts, the variant, the coupon code and the template context of a
        message; `_SendFailed` when it cannot be made for this contact now."""
        problem = address_problem(i.channel, recipient)
        if problem is not None:  # before a code is drawn: a pool's code is not spent on it
            raise _SendFailed(ADDRESS, problem)
        template = self.bundle.templates[i.template]
        variant = messages.choose_variant(template, contact.get("language"))
        language = messages.message_language(variant, contact.get("language"))
        coupon_view: CouponView | None = None
        code: str | None = None
        if i.coupon is not None:
            code = await self.code_for(i.coupon, None)
            if code is None:
                raise _SendFailed(COUPON, _no_code_left(i.coupon))
            ends = self.run.vars["coupons"][i.coupon].get("valid_until")
            if ends is not None and self.batch.now_ms > ends:  # as redemption counts: it would not work
                raise _SendFailed(COUPON, _expired_before_send(i.coupon, code, ends), code)
            coupon_view = await self._coupon_view(i.coupon, code, formatting.locale_of(language))
        context = await self._template_context(contact, template, coupon_view, products, i)
        zone = contact_zone(contact, self.settings.default_timezone)
        try:
            parts = messages.render_variant(variant, context, language, zone)
        except Exception as error:  # what one contact's data does to a template must not stop other runs
            reason = _render_failure(i.template, variant, context, error, language, zone)
            raise _SendFailed(TEMPLATE, reason, code) from error
        required = CHANNEL_PARTS[i.channel][1] if i.channel in CHANNEL_PARTS else ()
        blank = next((part for part in required if not parts.get(part, "").strip()), None)
        if blank is not None:  # a provider refuses an empty text; a contact gets nothing from one
            raise _SendFailed(TEMPLATE, _blank_reason(i.template, variant, blank), code)
        return parts, variant, code, context

    async def _why_not_send(self, i: p.Send, contact: dict[str, Any]) -> str | None:
        """Why this message must not go now: a reason to skip it, "quiet", or None."""
        run, batch, program = self.run, self.batch, self.program
        if "bonus" in self.bundle.templates[i.template].uses and "bonus" not in run.vars:
            # "+0 bonuses" is worse than no message: the template is about a bonus
            return f"template {i.template} tells of a bonus, but none was awarded: " + str(
                run.vars.get("bonus_missing", "no `award bonus` ran before it")
            )
        if program.frequency is not None:
            count, window = program.frequency
            sent = await batch.count_messages(contact["id"], run.scenario, batch.now_ms - window)
            if sent >= count:
                return f"frequency cap: {sent} message(s) in the last {duration_text(window)}"
        # The workspace policy holds back what is not transactional: its cap over every
        # scenario, and its quiet hours and send window where the scenario sets none.
        policy = None if self.bundle.templates[i.template].transactional else self.policy
        if policy is not None and i.channel in policy.caps:
            count, window = policy.caps[i.channel]
            sent = await batch.count_policy_messages(contact["id"], i.channel, batch.now_ms - window, policy.exempt)
            if sent >= count:
                return (f"held by the workspace policy ({i.channel} at most {count} per {duration_text(window)}): "
                        f"{sent} {i.channel} message(s) in the last {duration_text(window)}")  # fmt: skip
        quiet, quiet_whose = program.quiet_hours, "quiet hours"
        if quiet is None and policy is not None and policy.quiet_hours is not None:
            quiet, quiet_whose = policy.quiet_hours, "the workspace policy's quiet hours"
        opens, opens_whose = program.send_window, "the send window"
        if opens is None and policy is not None and policy.send_window is not None:
            opens, opens_whose = policy.send_window, "the workspace policy's send window"
        if quiet is not None or opens is not None:
            tz = contact_zone(contact, self.settings.default_timezone)
            allowed, why = _allowed_moment(batch.now, quiet, quiet_whose, opens, opens_whose, tz)
            if allowed > batch.now:
                self.sleep_until(allowed)
                self.log(i, "deferred", why)
                return "quiet"
        if not _address(contact, i.channel):
            return f"no {ADDRESS_FIELDS[i.channel]} for {i.channel}"
        subscribed, reachable = channel_flags(contact)
        if not subscribed[i.channel]:
            return f"unsubscribed from {i.channel}"
        if not reachable[i.channel]:
            return f"{i.channel} unreachable (bounced)"
        return None

    async def _template_context(
        self, contact: dict[str, Any], template: p.Template, coupon: CouponView | None, products: list[Any] | None,
        i: p.Send,
    ) -> dict[str, Any]:  # fmt: skip
        """The variables a template sees; those it does not read are not computed."""
        env = await self.env()
        roots = env.roots
        context: dict[str, Any] = {
            "contact": roots["contact"],
            "scenario": self.program.title,
            "unsubscribe_url": self.settings.link("unsubscribe", contact["id"], i.channel),
            "preferences_url": self.settings.link("preferences", contact["id"], i.channel),
        }
        if "bestsellers" in template.uses:
            context["bestsellers"] = await self.batch.recommend(contact["id"], "bestsellers", 4)
        if "event" in template.uses:
            context["event"] = roots["event"]
        order = roots.get("order")
        if order is not None:
            context["order"] = order
            context["purchased"] = order.items
        if coupon is not None:
            context["coupon"] = coupon
        if products is not None:
            context["products"] = products
        bonus = self.run.vars.get("bonus")
        if bonus is not None:
            balance = Money(to_decimal(contact.get("bonus_balance") or 0), bonus["currency"])
            percent = Percent(bonus["percent"]) if bonus.get("percent") else None
            context["bonus"] = BonusView(Money(to_decimal(bonus["amount"]), bonus["currency"]), percent, balance)
        return context

    async def _valid_until(self, coupon: p.Coupon, valid_ms: int | None, until: str | None) -> int | None:
        """When a code issued now ends (ms), by the step's own validity or else the coupon's;
        a date ends with that day and `end of month` with this month, in the contact's zone."""
        if valid_ms is None and until is None:
            valid_ms, until = coupon.valid_ms, coupon.until
        if valid_ms is not None:
            return self.batch.now_ms + valid_ms
        if until is None:
            return None
        tz = contact_zone(await self.contact(), self.settings.default_timezone)
        if until == "end of month":
            return ms_of(end_of_month(self.batch.now, tz))
        return ms_of(start_of_day(dt.date.fromisoformat(until) + dt.timedelta(days=1), tz))

    async def code_for(self, name: str, valid_ms: int | None, until: str | None = None) -> str | None:
        """The code this run gave the contact for ``name``, issuing one if there is none yet."""
        codes = self.run.vars.setdefault("coupons", {})
        if name in codes:
            return str(codes[name]["code"])
        coupon = self.bundle.coupons[name]
        if coupon.source == "code":
            code: str | None = coupon.code
        elif coupon.source == "pool":
            code = await self.batch.draw_pool_code(name)
            left = await self.batch.pool_left(name)
            if coupon.warn_below is not None and left < coupon.warn_below:
                # Said on the run (the operator sees it in traces and reports) and in the log.
                self.stock_note = f"; pool {name} is running low: {left} codes left (warn below {coupon.warn_below})"
                logger.warning("coupon pool %s is running low: %d codes left", name, left)
        else:
            code = await self._fresh_code(coupon)
        if code is None:
            return None
        valid_until = await self._valid_until(coupon, valid_ms, until)
        codes[name] = {"code": code, "valid_until": valid_until}
        self.batch.changes.coupons.append(
            CouponIssue(coupon=name, code=code, contact_id=self.run.contact_id, run_id=self.run.id,
                        issued_at=self.batch.now_ms, valid_until=valid_until, from_pool=coupon.source == "pool",
                        shared=coupon.source == "code")
        )  # fmt: skip
        return code

    async def _fresh_code(self, coupon: p.Coupon) -> str:
        assert coupon.pattern is not None
        issued = self.batch.remember(("codes", coupon.name), self.batch.cached(("codes", coupon.name)) or set())
        rng = None
        if self.settings.code_seed is not None:
            rng = random.Random(f"{self.settings.code_seed}:{coupon.name}:{self.run.id}:{len(issued)}")
        while True:  # 40+ random bits: a clash is rare, but a million codes make one likely
            code = generate_code(coupon.pattern, rng)
            if code not in issued and await self.batch.store.coupon_code(code) is None:
                issued.add(code)
                return code

    async def _coupon_view(self, name: str, code: str, locale: Locale) -> CouponView:
        coupon = self.bundle.coupons[name]
        issued = self.run.vars["coupons"][name]
        order = await self.batch.order(self.run.order_id)
        total = OrderView(order).total if order is not None else None
        return messages.coupon_view(
            code,
            name,
            Percent(coupon.percent) if coupon.percent is not None else None,
            Money(Decimal(coupon.amount), coupon.currency or "XXX") if coupon.amount is not None else None,
            moment(issued.get("valid_until")),
            total,
            locale,
        )

    async def visit_IssueCoupon(self, i: p.IssueCoupon) -> None:
        code = await self.code_for(i.coupon, i.valid_ms, i.until)
        if code is None:
            self.log(i, "failed", _no_code_left(i.coupon))
        else:
            valid = self.run.vars["coupons"][i.coupon].get("valid_until")
            self.log(i, "issued", f"{code}" + (f" valid until {iso(moment(valid))}" if valid else "") + self.stock_note)
        self.run.position += 1


class _SendFailed(Exception):
    """A message that cannot be made for this contact now: it is recorded as failed."""

    def __init__(self, kind: str, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        #: The coupon code already given to the contact for it, if any.
        self.code = code


def _allowed_moment(
    now: dt.datetime, quiet_hours: tuple[int, int, int, int] | None, quiet_whose: str,
    window: p.SendWindow | None, window_whose: str, tz: ZoneInfo,
) -> tuple[dt.datetime, str]:  # fmt: skip
    """The first moment from ``now`` outside the quiet hours and inside the send window, and
    what held the message back until then (``*_whose``: the scenario's or the policy's)."""
    allowed, why = now, ""
    for _ in range(8):  # each moves it forward to a moment the other may refuse; the checker
        before = allowed  # refuses windows the quiet hours cover, so this settles at once
        if quiet_hours is not None:
            start_h, start_m, end_h, end_m = quiet_hours
            later = after_quiet_hours(allowed, dt.time(start_h, start_m), dt.time(end_h, end_m), tz)
            if later > allowed:
                allowed, why = later, f"{quiet_whose} until {later.astimezone(tz):%H:%M} {tz.key}"
        if window is not None:
            start, end = dt.time(*window.start), dt.time(*window.end)
            later = next_in_send_window(allowed, window.days, start, end, tz)
            if later > allowed:
                allowed, why = later, f"outside {window_whose} until {later.astimezone(tz):%a %H:%M} {tz.key}"
        if allowed == before:
            break
    return allowed, why


def _no_code_left(coupon: str) -> str:
    return f"no code left for coupon {coupon}: its pool is used up; import more codes"


def _render_failure(
    template: str, variant: p.TemplateVariant, context: dict[str, Any], error: Exception, language: str | None,
    zone: ZoneInfo,
) -> str:  # fmt: skip
    """Why ``variant`` did not render, naming the part that fails (each is rendered alone
    to find it: only on this path, which is rare)."""
    for part, text in variant.parts.items():
        try:
            messages.render_variant(msgspec.structs.replace(variant, parts={part: text}), context, language, zone)
        except Exception as alone:
            return template_reason(template, variant.lang, part, variant.sources.get(part), text, alone)
    return template_reason(template, variant.lang, None, None, None, error)


def _address(contact: dict[str, Any], channel: str) -> str | None:
    field = ADDRESS_FIELDS[channel]
    value = contact.get(field) if field in contact else (contact.get("attributes") or {}).get(field)
    return str(value) if value else None


def _expired_before_send(coupon: str, code: str, ends: int) -> str:
    return (
        f"the code {code} of coupon {coupon} expired at {moment(ends):%Y-%m-%d %H:%M} UTC, before this send:"
        " give the code closer to the send, or make it valid for longer"
    )


def _blank_reason(template: str, variant: p.TemplateVariant, part: str) -> str:
    return (
        f"template {template} ({variant.lang or 'default'}): the {part} is empty for this contact (the values it "
        'shows are unset): give them a default, e.g. {{ contact.first_name|default("friend") }}'
    )
