"""The workspace's sending policy: its own rules, and what it means for scenarios and templates.

A `policy` caps what one contact receives on a channel over every scenario, sets the
quiet hours of scenarios that set none, and paces each provider. Transactional
templates (receipts, passwords) are exempt from its caps and quiet hours, so the checker
keeps offers out of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from ...stdlib.catalog import PROVIDER_CHANNELS as PROVIDERS
from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ._calendar import check_send_window
from ._exprs import check_count, check_positive, check_time

#: What a template reads that makes it an offer rather than a transaction.
MARKETING_VARIABLES = ("coupon", "products", "bestsellers")


def check_policy(policy: ast.PolicyDecl, sink: DiagnosticSink) -> None:
    """Each rule once, with counts, windows, times and providers that mean something."""
    seen: dict[str, ast.Node] = {}
    for rule in policy.rules:
        key = _rule_key(rule)
        if key in seen:
            sink.report(codes.DUPLICATE_POLICY, f"the policy already has {key}", rule.span,
                        related=(Related(seen[key].span, "first given here"),))  # fmt: skip
            continue
        seen[key] = rule
        if isinstance(rule, ast.PolicyCap):
            check_count(rule.count, sink)
            check_positive(rule.window, sink, "the policy's window")
        elif isinstance(rule, ast.PolicyRate):
            check_count(rule.count, sink)
            if rule.provider.name not in PROVIDERS:
                known = ", ".join(f"`{name}` ({channel})" for name, channel in PROVIDERS.items())
                sink.report(codes.UNKNOWN_PROVIDER, f"unknown provider `{rule.provider.name}`; scn paces {known}",
                            rule.provider.span)  # fmt: skip
        elif isinstance(rule, ast.SendWindow):
            quiet = next((r for r in policy.rules if isinstance(r, ast.QuietHours)), None)
            check_send_window(rule, quiet, sink)
        else:
            check_time(rule.start, sink)
            check_time(rule.end, sink)
            if (rule.start.hour, rule.start.minute) == (rule.end.hour, rule.end.minute):
                sink.report(codes.EMPTY_QUIET_HOURS, "quiet hours start and end at the same time", rule.span)


def _rule_key(rule: ast.PolicyCap | ast.PolicyRate | ast.QuietHours | ast.SendWindow) -> str:
    if isinstance(rule, ast.SendWindow):
        return "a send window"
    if isinstance(rule, ast.PolicyCap):
        return f"a cap for {rule.channel}"
    if isinstance(rule, ast.PolicyRate):
        return f"a rate for {rule.provider.name}"
    return "quiet hours"


def policy_caps(policy: ast.PolicyDecl | None) -> dict[str, ast.PolicyCap]:
    """The policy's cap of each channel (the first, when one is given twice)."""
    caps: dict[str, ast.PolicyCap] = {}
    for rule in policy.rules if policy is not None else ():
        if isinstance(rule, ast.PolicyCap):
            caps.setdefault(rule.channel, rule)
    return caps


def is_transactional(template: ast.TemplateDecl) -> bool:
    return any(isinstance(s, ast.TemplateTransactional) for s in template.settings)


def check_scenario_cap(
    scenario: ast.Scenario, policy: ast.PolicyDecl | None, decls: Mapping[str, ast.Node], sink: DiagnosticSink
) -> None:
    """SCN403: the scenario's own cap lets through, in the policy's window, more messages
    of a channel than the policy does (so the policy, not the cap, decides). Sends of
    transactional templates (``decls``: the workspace's declarations) pass the policy."""
    caps = policy_caps(policy)
    own = next((h for h in scenario.headers if isinstance(h, ast.FrequencyCap)), None)
    if own is None or not caps or own.window.milliseconds <= 0 or own.count.value < 1:
        return
    capped = {step.channel for step in _sends(scenario.steps)
              if step.channel in caps and not _transactional(decls.get(step.template.name))}  # fmt: skip
    for channel in sorted(capped):
        cap = caps.get(channel)
        if cap is None or cap.window.milliseconds <= 0:
            continue
        allowed = int(own.count.value) * math.ceil(cap.window.milliseconds / own.window.milliseconds)
        if allowed > cap.count.value:
            window = "".join(f"{n}{unit}" for n, unit in cap.window.parts)
            sink.report(
                codes.LOOSER_THAN_POLICY,
                f"this cap lets up to {allowed} {channel} messages through in {window}, but the policy allows "
                f"{cap.count.value} per {window}: the policy holds back the rest",
                own.span,
                related=(Related(cap.span, "the policy's cap"),),
            )


def caps_channel(policy: ast.PolicyDecl | None, channel: str, template: ast.TemplateDecl | None) -> bool:
    """Whether the policy caps this send (its channel is capped and its template is not transactional)."""
    return channel in policy_caps(policy) and (template is None or not is_transactional(template))


def check_transactional_send(
    step: ast.Send, template: ast.TemplateDecl, reads: Iterator[str], sink: DiagnosticSink
) -> None:
    """SCN404: a transactional template (exempt from the policy) with an offer in it."""
    if not is_transactional(template):
        return
    offer = next((o for o in step.options if isinstance(o, ast.WithCoupon | ast.WithProducts)), None)
    if offer is not None:
        what = "a coupon" if isinstance(offer, ast.WithCoupon) else "products"
        sink.report(codes.MARKETING_IN_TRANSACTIONAL,
                    f"template `{template.name.name}` is transactional, but this send gives it {what}",
                    offer.span)  # fmt: skip
        return
    marketing = next((name for name in reads if name in MARKETING_VARIABLES), None)
    if marketing is not None:
        message = f"template `{template.name.name}` is transactional, but it shows `{marketing}`"
        sink.report(codes.MARKETING_IN_TRANSACTIONAL, message, step.span)


def _transactional(decl: ast.Node | None) -> bool:
    return isinstance(decl, ast.TemplateDecl) and is_transactional(decl)


def _sends(steps: tuple[ast.Step, ...]) -> Iterator[ast.Send]:
    for step in steps:
        if isinstance(step, ast.Send):
            yield step
        for block in ast.child_blocks(step):
            yield from _sends(block)
