"""Broadcasts: their state and progress, a preview for one contact, pause, resume and
cancel (the runtime side is interpreter/runtime/broadcasts.py)."""

from __future__ import annotations

from decimal import Decimal

from ...interpreter.program import BroadcastSpec, Program, Send
from ...interpreter.runtime.broadcasts import broadcast_start
from ...interpreter.store import BroadcastRow
from ...interpreter.values import Money, Percent
from ...stdlib import messages
from ...stdlib.formatting import locale_of
from ..broadcast_models import (
    Audience,
    BroadcastCancelled,
    BroadcastPreview,
    BroadcastProgress,
    BroadcastSummary,
)
from ..core import Core
from ..deps import instant, not_found
from ..problems import Problem
from .templates import TemplateService

#: The code a preview shows for a coupon whose codes are drawn or generated per contact.
SAMPLE_CODE = "SAMPLE-CODE"


def written_time(spec: BroadcastSpec) -> str | None:
    """The broadcast's time as the source says it (`2026-11-27 10:00 local`)."""
    if spec.date is None or spec.time is None:
        return None
    zone = " local" if spec.local else f' "{spec.zone}"' if spec.zone else ""
    return f"{spec.date} {spec.time}{zone}"


class BroadcastService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _programs(self) -> dict[str, tuple[Program, int, str | None]]:
        """Every broadcast of the workspace: its current program, version and file."""
        engine = self.core.engine
        found: dict[str, tuple[Program, int, str | None]] = {}
        for name, row in engine.scenarios.items():
            bundle = engine.bundles.get(row.bundle)
            program = bundle.scenarios.get(name) if bundle is not None else None
            if program is not None and program.broadcast is not None:
                found[name] = (program, row.version, program.file)
        return found

    async def summaries(self) -> list[BroadcastSummary]:
        """Every broadcast, by name."""
        store = self.core.store
        rows = {row.name: row for row in await store.broadcasts()}
        runs = await store.run_counts()
        sent = await self._message_counts()
        states = {row.name: row.state for row in await store.scenarios()}
        return [
            await self._summary(name, program, version, file, rows.get(name), runs, sent, states.get(name))
            for name, (program, version, file) in sorted(self._programs().items())
        ]

    async def summary(self, name: str) -> BroadcastSummary:
        """One broadcast (404 if there is none of that name)."""
        found = [s for s in await self.summaries() if s.name == name]
        if not found:
            raise not_found(f"broadcast {name!r}")
        return found[0]

    async def _message_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for scenario, _channel, _template, status, _failure, number in await self.core.store.message_counts():
            mine = counts.setdefault(scenario, {})
            mine[status] = mine.get(status, 0) + number
        return counts

    async def _summary(
        self, name: str, program: Program, version: int, file: str | None, row: BroadcastRow | None,
        runs: dict[str, dict[str, int]], sent: dict[str, dict[str, int]], scenario_state: str | None,
    ) -> BroadcastSummary:  # fmt: skip
        spec = program.broadcast
        assert spec is not None
        if row is None:
            state = "draft" if scenario_state == "draft" else "scheduled"
            starts = broadcast_start(spec, self.core.clock.now(), self.core.settings.default_timezone)
        else:
            state, starts = row.state, instant(row.due_at)
        audience = row.audience if row is not None and row.audience is not None else None
        if audience is None:
            audience = await self.core.store.audience_size(spec.audience_kind, spec.audience)
        return BroadcastSummary(
            name=name,
            title=program.title if program.title != name else None,
            state=state,
            audience=Audience(kind=spec.audience_kind, name=spec.audience),
            at=written_time(spec),
            starts_at=starts,
            queued_at=instant(row.expanded_at) if row is not None and row.expanded_at is not None else None,
            version=version,
            file=file,
            progress=BroadcastProgress(
                audience=audience,
                queued=row.queued if row is not None else 0,
                runs={s: n for s, n in runs.get(name, {}).items() if n},
                messages={s: n for s, n in sent.get(name, {}).items() if n},
            ),
        )

    # ------------------------------------------------------------ changes

    async def pause(self, name: str, actor: str) -> BroadcastSummary:
        """Stop making its runs and hold those made; 409 unless scheduled or running."""
        current = await self.summary(name)
        if not await self.core.engine.pause_broadcast(name):
            raise Problem(409, "conflict", f"broadcast {name!r} is {current.state}: only a scheduled or running "
                          "broadcast can be paused")  # fmt: skip
        await self.core.store.record_audit(name, self.core.now_ms(), actor, "pause")
        return await self.summary(name)

    async def resume(self, name: str, actor: str) -> BroadcastSummary:
        """Go on where it was paused (a time passed meanwhile: at once); 409 unless paused."""
        current = await self.summary(name)
        if not await self.core.engine.resume_broadcast(name):
            raise Problem(409, "conflict", f"broadcast {name!r} is {current.state}, not paused")
        await self.core.store.record_audit(name, self.core.now_ms(), actor, "resume")
        return await self.summary(name)

    async def cancel(self, name: str, actor: str) -> BroadcastCancelled:
        """No more runs; its runs not ended and messages not yet taken by a sender stop.
        409 when it is done or cancelled already."""
        current = await self.summary(name)
        stopped = await self.core.engine.cancel_broadcast(name, f"broadcast cancelled by {actor}")
        if stopped is None:
            raise Problem(409, "conflict", f"broadcast {name!r} is {current.state}: there is nothing to cancel")
        runs, messages_stopped = stopped
        detail = f"{runs} run(s) cancelled, {messages_stopped} message(s) stopped"
        await self.core.store.record_audit(name, self.core.now_ms(), actor, "cancel", detail)
        return BroadcastCancelled(
            broadcast=await self.summary(name), runs_cancelled=runs, messages_stopped=messages_stopped
        )

    # ------------------------------------------------------------ preview

    async def preview(self, name: str, contact: str | None) -> BroadcastPreview:
        """The audience's size now, and the broadcast's first message rendered for
        ``contact`` (by default the audience's first member)."""
        programs = self._programs()
        if name not in programs:
            raise not_found(f"broadcast {name!r}")
        program = programs[name][0]
        spec = program.broadcast
        assert spec is not None
        store = self.core.store
        size = await store.audience_size(spec.audience_kind, spec.audience)
        if contact is None:
            first = await store.audience_page(spec.audience_kind, spec.audience, "", 1)
            contact = first[0] if first else None
        send = next((i for i in program.instructions if isinstance(i, Send)), None)
        if contact is None or send is None:
            return BroadcastPreview(broadcast=name, audience=size, contact=contact, preview=None, samples=[])
        samples: list[str] = []
        extra = {}
        if send.coupon is not None:
            extra["coupon"], sample = await self._coupon(send.coupon, contact)
            samples += [sample] if sample else []
        shown = await TemplateService(self.core).preview(send.template, contact, extra=extra)
        return BroadcastPreview(broadcast=name, audience=size, contact=contact, preview=shown, samples=samples)

    async def _coupon(self, name: str, contact: str) -> tuple[object, str | None]:
        """`coupon` for a preview: the static code, or a sample of a per-contact one."""
        bundle = self.core.engine.current
        assert bundle is not None
        coupon = bundle.coupons[name]
        record = (await self.core.store.contacts([contact])).get(contact) or {}
        code = coupon.code if coupon.code else SAMPLE_CODE
        sample = None if coupon.code else f"coupon code {SAMPLE_CODE} is a sample: each contact gets its own"
        view = messages.coupon_view(
            code, coupon.name,
            Percent(Decimal(coupon.percent)) if coupon.percent else None,
            Money(Decimal(coupon.amount), coupon.currency or bundle.currency or "") if coupon.amount else None,
            None, None, locale_of(record.get("language")),
        )  # fmt: skip
        return view, sample
