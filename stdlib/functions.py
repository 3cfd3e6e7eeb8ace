"""The built-in functions of expressions (their signatures are in catalog.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ..interpreter.environment import Env, Function, as_int, as_timedelta
from ..interpreter.values import Percent
from ..interpreter.views import OrderView
from .catalog import FUNCTIONS, bind

DEFAULT_LIMIT = 4
PAID = frozenset({"paid", "completed", "delivered", "shipped", "done"})


def _arg(spec_name: str, args: list[Any], kwargs: dict[str, Any], index: int) -> Any:
    name = FUNCTIONS[spec_name].params[index].name
    if index < len(args):
        return args[index]
    return kwargs.get(name)


async def _now(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return env.now


async def _today(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return env.now.astimezone(env.tz).date()


async def _ago(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return env.now - as_timedelta(_arg("ago", args, kwargs, 0))


def _paid(order: dict[str, Any]) -> bool:
    return order.get("paid_at") is not None or order.get("status") in PAID


def _matches_product(order: dict[str, Any], product: str, tariff: str | None) -> bool:
    if order.get("offer") == product and (tariff is None or order.get("tariff") == tariff):
        return True
    for item in order.get("items") or []:
        ids = {item.get("product_id"), item.get("id"), item.get("sku"), item.get("offer")}
        if product in ids and (tariff is None or tariff in (item.get("tariff"), order.get("tariff"))):
            return True
    return False


async def _bought(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    product = _arg("bought", args, kwargs, 0)
    tariff = _arg("bought", args, kwargs, 1)
    return any(_paid(o) and _matches_product(o, product, tariff) for o in await env.facts.contact_orders())


async def _has_access(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return _arg("has_access", args, kwargs, 0) in await env.facts.course_access()


async def _progress(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    access = (await env.facts.course_access()).get(_arg("progress", args, kwargs, 0))
    return Percent(Decimal(access[1]) if access else Decimal(0))


async def _in_list(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return await env.facts.in_list(str(_arg("in_list", args, kwargs, 0)))


async def _in_segment(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return await env.facts.in_segment(str(_arg("in_segment", args, kwargs, 0)))


async def _in_group(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    contact = env.roots["contact"]
    return contact.group is not None and contact.group.name == str(_arg("in_group", args, kwargs, 0))


async def _ordered_since(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    since = env.moment_of(_arg("ordered_since", args, kwargs, 0))
    if since is None:
        return False
    limit = int(since.timestamp() * 1000)
    return any(o["created_at"] > limit for o in await env.facts.contact_orders())


async def _messaged_within(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    within = as_timedelta(_arg("messaged_within", args, kwargs, 0))
    channel = _arg("messaged_within", args, kwargs, 1)
    last = await env.facts.last_message_at(channel)
    return last is not None and last >= int((env.now - within).timestamp() * 1000)


async def _tier_percent(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return env.facts.tier_percent(str(_arg("tier_percent", args, kwargs, 0)))


async def _len(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
    items = _arg("len", args, kwargs, 0)
    return Decimal(len(items)) if items is not None else Decimal(0)


def _recommender(kind: str) -> Function:
    spec = FUNCTIONS[kind]

    async def recommend(env: Env, args: list[Any], kwargs: dict[str, Any]) -> Any:
        bound = bind(spec, ["order" if isinstance(a, OrderView) else None for a in args])
        params = {p.name: None for p in spec.params} | kwargs
        params |= {p.name: a for p, a in zip(bound, args, strict=True) if p is not None}
        limit = as_int(params.pop("limit", None), DEFAULT_LIMIT)
        order = params.pop("order", None)
        for name, value in list(params.items()):
            if isinstance(value, dt.timedelta):
                params[name] = value
            elif value is not None:
                params[name] = str(value)
        if isinstance(order, OrderView):
            # `related(order)`: what goes with this order's items, not the last order's.
            params["basket"] = tuple(k for i in order.items if (k := i.product_id or i.sku or i.offer))
        return await env.facts.recommend(kind, limit, **params)

    return recommend


IMPLEMENTATIONS: dict[str, Function] = {
    "now": _now,
    "today": _today,
    "ago": _ago,
    "bought": _bought,
    "has_access": _has_access,
    "progress": _progress,
    "in_list": _in_list,
    "in_segment": _in_segment,
    "in_group": _in_group,
    "ordered_since": _ordered_since,
    "messaged_within": _messaged_within,
    "tier_percent": _tier_percent,
    "len": _len,
    **{
        kind: _recommender(kind)
        for kind in (
            "related",
            "popular",
            "new_arrivals",
            "bestsellers",
            "personal",
            "in_category",
            "bought_by_segment",
        )
    },
}
assert IMPLEMENTATIONS.keys() == FUNCTIONS.keys(), IMPLEMENTATIONS.keys() ^ FUNCTIONS.keys()
