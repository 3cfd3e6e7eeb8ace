"""Scenarios: deploying a workspace (checked first), summaries, versions and their sources,
pause / resume / archive, deleting, and the numbers per step."""

from __future__ import annotations

import asyncio

import msgspec

from ...interpreter.program import Jump, Program
from ...interpreter.render import as_json_records
from ...interpreter.store import LIVE, is_postgresql
from ...interpreter.versions import RUN_EXITED, RUN_MOVED, RUN_SENT, RunMove, ScenarioDiff, diff_programs, label_step
from ...interpreter.versions.backtest import BacktestError, BacktestResult, backtest_in_thread, parse_moment
from ...interpreter.workspace import CheckTimeout
from ..core import CheckFailed, Core, WorkspaceTooLarge, check_and_compile, within_limits
from ..deps import instant, not_found
from ..models import (
    AuditPage,
    AuditRecord,
    BacktestRequest,
    DeployResult,
    MoveCounts,
    PublishRequest,
    PublishResult,
    ScenarioSummary,
    ScenarioVersion,
    StepCount,
    StepPage,
    UnmatchedStep,
)
from ..problems import Problem


def check_failed(error: CheckFailed) -> Problem:
    diagnostics = as_json_records(error.result.diagnostics)
    errors = [d for d in diagnostics if d["severity"] == "error"]
    first = errors[0] if errors else {}
    where = f"{first.get('filename')}:{first['location']['row']}:{first['location']['column']}" if first else ""
    return Problem(
        422, "workspace-has-errors",
        f"the workspace has {len(errors)} error(s); nothing was deployed. First: {where}: {first.get('message', '')}",
        diagnostics=diagnostics,
    )  # fmt: skip


def _program_steps(program: Program) -> list[StepCount]:
    """Every step of a program in its order (a branch's steps where they are written),
    the start first; the jumps that join branches are not steps anyone wrote."""
    events = ", ".join(dict.fromkeys(t.header().removeprefix("on ") for t in program.triggers))
    spec = program.broadcast
    start = f"broadcast to {spec.audience_kind} {spec.audience}" if spec is not None else f"on {events}"
    steps = [StepCount(step="start", name=start, passed=0, outcomes={}, waiting=0, here={})]
    steps += [StepCount(step=i.id, name=i.name, passed=0, outcomes={}, waiting=0, here={})
              for i in program.instructions if not isinstance(i, Jump)]  # fmt: skip
    return steps


def _unmatched_rule(name: str, request: PublishRequest, new: Program) -> str | None:
    """The rule for `plan_moves` ("finish", "exit" or a label), None when runs stay; 422
    naming the field for a rule without a move or a label the new version lacks."""
    rule = request.unmatched
    if request.runs == "stay":
        if rule != "finish":
            raise Problem(422, "invalid-request", 'unmatched: only with "runs": "move" (runs that stay all finish '
                          "on their version)")  # fmt: skip
        return None
    if isinstance(rule, UnmatchedStep):
        if label_step(new, rule.step) is None:
            labels = ", ".join(i.id for i in new.instructions if i.id.startswith("@") and "." not in i.id) or "none"
            raise Problem(422, "invalid-request", f"unmatched.step: version {request.version} of {name} has no step "
                          f"labelled {rule.step}; its labels: {labels}")  # fmt: skip
        return rule.step
    return rule


def _counts(moves: list[RunMove]) -> MoveCounts:
    """Runs per target step (in the new version's order), exits and kept."""
    counts = MoveCounts(moved={}, exited=0, kept=0)
    for move in sorted(moves, key=lambda m: m.position if m.position is not None else -1):
        if move.outcome in (RUN_MOVED, RUN_SENT):
            key = move.step or "start"
            counts.moved[key] = counts.moved.get(key, 0) + 1
        elif move.outcome == RUN_EXITED:
            counts.exited += 1
        else:
            counts.kept += 1
    return counts


def _removed_labels(request: PublishRequest, new: Program, moves: list[RunMove]) -> list[str]:
    """A warning per labelled step the new version removes that runs are waiting at."""
    at: dict[str, list[RunMove]] = {}
    for move in moves:
        removed = move.outcome != RUN_MOVED and label_step(new, move.old_step or "") is None
        if removed and move.old_step is not None and move.old_step.startswith("@"):
            at.setdefault(move.old_step, []).append(move)
    warnings = []
    for label, runs in at.items():
        if request.runs == "stay":
            fate = "they stay on their version and finish there"
        elif isinstance(request.unmatched, UnmatchedStep):
            fate = f"they go to {runs[0].step}"
        else:
            fate = {"finish": "they finish on their old version", "exit": "they exit"}[request.unmatched]
        warnings.append(f"version {request.version} removes step {label}, where {len(runs)} run(s) are waiting: {fate}")
    return warnings


class ScenarioService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def deploy(self, files: dict[str, str], *, draft: bool = False, actor: str = "system") -> DeployResult:
        """Check the workspace with ``files`` added and install it (as draft versions that take
        no runs until published, with ``draft``): 422 with the diagnostics when it has errors
        (or checking takes too long), 413 over the limits; nothing changes then."""
        core = self.core
        if not any(p.endswith(".scn") for p in files) and not any(p.endswith(".scn") for p in core.files):
            raise Problem(400, "invalid-request", "the upload holds no .scn file and the workspace has none")
        try:
            versions = await core.deploy(files, draft=draft, actor=actor)
        except CheckFailed as error:
            raise check_failed(error) from error
        except WorkspaceTooLarge as error:
            raise Problem(413, "too-large", f"{error}; nothing was deployed (limits: docs/api.md)") from error
        except CheckTimeout as error:
            raise Problem(
                422, "check-took-too-long",
                f"checking the workspace took longer than {core.check_seconds:g} s, so nothing was deployed: "
                "upload fewer or smaller files at once",
            ) from error  # fmt: skip
        warnings = as_json_records((await core.checked()).diagnostics)
        return DeployResult(versions=versions, warnings=warnings, files=sorted(files))

    async def summaries(self) -> list[ScenarioSummary]:
        """Every scenario by name: its title, state, version, file and runs by status."""
        store, engine = self.core.store, self.core.engine
        counts = await store.run_counts()
        files = await self.core.scenario_files()
        summaries = []
        for row in await store.scenarios():
            bundle = engine.bundles.get(row.bundle)
            program = bundle.scenarios.get(row.name) if bundle is not None else None
            summaries.append(ScenarioSummary(
                name=row.name, title=program.title if program else None, state=row.state, version=row.version,
                file=files.get(row.name), runs=counts.get(row.name, {}),
            ))  # fmt: skip
        return summaries

    async def summary(self, name: str) -> ScenarioSummary:
        """One scenario's summary (404 if unknown)."""
        found = next((s for s in await self.summaries() if s.name == name), None)
        if found is None:
            raise not_found(f"scenario {name!r}")
        return found

    async def names(self) -> list[str]:
        """The name of every scenario ever deployed, sorted."""
        return sorted(s.name for s in await self.core.store.scenarios())

    async def require(self, name: str) -> None:
        """404 unless scenario ``name`` was ever deployed."""
        if name not in {s.name for s in await self.core.store.scenarios()}:
            raise not_found(f"scenario {name!r}")

    def program(self, name: str) -> Program | None:
        """The program of a scenario's current version (None when no bundle has it any more)."""
        engine = self.core.engine
        return engine.program(name) if name in engine.scenarios else None

    async def versions(self, name: str) -> list[ScenarioVersion]:
        return [
            ScenarioVersion(version=v, bundle=b, digest=d, created_at=instant(at), draft=draft)
            for v, b, d, at, draft in await self.core.store.scenario_versions(name)
        ]

    async def source_at(self, name: str, version: ScenarioVersion) -> str:
        """The text of the file that declared scenario ``name`` in ``version`` ("" if none did)."""
        bundle = await self.core.engine.bundle(version.bundle)
        program = bundle.scenarios.get(name)
        return bundle.files.get(program.file, "") if program is not None else ""

    async def version(self, name: str, number: int, field: str) -> ScenarioVersion:
        """Version ``number`` of scenario ``name`` (404 for an unknown scenario, 422 naming
        ``field`` for a version it never had)."""
        await self.require(name)
        found = {v.version: v for v in await self.versions(name)}
        if number not in found:
            known = ", ".join(str(v) for v in sorted(found))
            raise Problem(422, "invalid-request", f"{field}: scenario {name} has no version {number}; it has {known}")
        return found[number]

    async def diff(self, name: str, old: int | None, new: int | None) -> ScenarioDiff:
        """What changed in scenario ``name`` from version ``old`` to ``new``, from the compiled
        programs (``new`` defaults to the current version, ``old`` to the one before it)."""
        current = await self.summary(name)
        new = current.version if new is None else new
        old = max(new - 1, 1) if old is None else old
        before, after = await self.version(name, old, "old"), await self.version(name, new, "new")
        engine = self.core.engine
        bundles = await engine.bundle(before.bundle), await engine.bundle(after.bundle)
        return diff_programs(bundles[0].scenarios[name], bundles[1].scenarios[name], *bundles)

    async def last_failure(self, name: str) -> tuple[str, int] | None:
        """Why and when the scenario's latest message or run failed."""
        return await self.core.store.last_failure(name)

    async def skips(self, name: str, step: str) -> list[tuple[str, int]]:
        """Why runs skipped a step, with how many."""
        return [(why, n) for at, why, n in await self.core.store.skip_reasons(name) if at == step]

    async def publish(self, name: str, request: PublishRequest, actor: str) -> PublishResult:
        """Make ``request.version`` current: new runs start on it (a draft's first publication,
        or a later version again after a rollback); runs in flight stay on their version or
        move to it (see `_make_current`)."""
        return await self._make_current(name, request, actor, "publish")

    async def rollback(self, name: str, request: PublishRequest, actor: str) -> PublishResult:
        """Make an earlier version current again (409 unless it is older than the current)."""
        current = await self.summary(name)
        if request.version >= current.version:
            raise Problem(409, "conflict", f"version: roll back to a version older than the current {current.version}; "
                          "publish a newer one instead")  # fmt: skip
        return await self._make_current(name, request, actor, "rollback")

    async def _make_current(self, name: str, request: PublishRequest, actor: str, action: str) -> PublishResult:
        """Publish (or only plan, with ``dry_run``) with the runs in flight staying or moving;
        the answer counts them and warns of removed labelled steps that runs are waiting at."""
        found = await self.version(name, request.version, "version")
        new = (await self.core.engine.bundle(found.bundle)).scenarios[name]
        unmatched = _unmatched_rule(name, request, new)
        engine = self.core.engine
        if request.dry_run or unmatched is None:
            # Runs that stay are planned as if moving with "finish": the steps they could
            # not have moved from are the ones to warn about.
            moves = await engine.plan_move(name, request.version, unmatched or "finish")
        if not request.dry_run:
            done = await self.core.publish(name, request.version, actor, action, unmatched)
            moves = done if unmatched is not None else moves
        counts = _counts(moves) if unmatched is not None else MoveCounts(moved={}, exited=0, kept=len(moves))
        summary = await self.summary(name)
        return PublishResult(
            **msgspec.structs.asdict(summary), dry_run=request.dry_run, moves=counts,
            warnings=_removed_labels(request, new, moves),
        )  # fmt: skip

    async def backtest(self, name: str, request: BacktestRequest) -> BacktestResult:
        """Replay the period's events through a version of scenario ``name`` (or the served
        workspace with ``request.files``) on an in-memory copy, beside what it sent: 404
        for an unknown scenario, 422 naming the field for a bad period, version or workspace."""
        await self.require(name)
        core = self.core
        if core.store.path == ":memory:":
            raise Problem(409, "conflict", "the server's store is in memory: there is no history to replay")
        if is_postgresql(core.store.path):
            why = "a backtest reads an SQLite store's history; on PostgreSQL it is not built yet"
            raise Problem(409, "conflict", why)
        now = core.clock.now()
        try:
            until = parse_moment("until", request.until, now, ago=False) if request.until else now
            since = parse_moment("since", request.since, until)
        except BacktestError as error:
            raise Problem(422, "invalid-request", str(error)) from error
        if since >= until:
            raise Problem(422, "invalid-request", f"since ({since:%Y-%m-%d %H:%M}) must come before until")
        checked = None
        if request.files is not None:
            if request.version is not None:
                raise Problem(422, "invalid-request", "files: give a version or files, not both")
            files = {**core.files, **request.files}
            try:
                within_limits(files)
                checked, candidate = await asyncio.to_thread(check_and_compile, files, core.check_seconds)
            except WorkspaceTooLarge as error:
                raise Problem(413, "too-large", f"{error} (limits: docs/api.md)") from error
            except CheckTimeout as error:
                raise Problem(422, "check-took-too-long", f"checking the files took longer than "
                              f"{core.check_seconds:g} s: send fewer or smaller files") from error  # fmt: skip
            if candidate is None:
                raise check_failed(CheckFailed(checked))
        else:
            newest = max(v.version for v in await self.versions(name))
            found = await self.version(name, newest if request.version is None else request.version, "version")
            candidate = await core.engine.bundle(found.bundle)
        if name not in candidate.scenarios:
            raise Problem(422, "invalid-request", f"files: the workspace they make has no scenario {name}")
        try:
            return await backtest_in_thread(core.store.path, candidate, [name], since, until, core.settings,
                                            checked=checked, limit=request.limit)  # fmt: skip
        except BacktestError as error:
            raise Problem(422, "invalid-request", str(error)) from error

    async def audit(self, name: str, after: int, limit: int) -> AuditPage:
        """A page of the scenario's audit records, oldest first (404 if unknown)."""
        await self.require(name)
        rows = await self.core.store.audit_records(name, after, limit + 1)
        items = [AuditRecord(**{**r, "at": instant(r["at"])}) for r in rows[:limit]]
        return AuditPage(items=items, next=items[-1].id if len(rows) > limit else None)

    async def set_state(self, name: str, state: str, actor: str = "system") -> ScenarioSummary:
        """Pause ("paused"), resume ("active") or archive ("archived") a scenario."""
        current = await self.summary(name)
        if current.state == "archived" and state == "paused":
            raise Problem(409, "conflict", f"scenario {name!r} is archived; resume it before pausing")
        if current.state == "draft":
            raise Problem(409, "conflict", f"scenario {name!r} is a draft: publish a version of it first")
        await self.core.engine.set_state(name, state)
        action = {"paused": "pause", "active": "resume", "archived": "archive"}[state]
        await self.core.store.record_audit(name, self.core.now_ms(), actor, action)
        return await self.summary(name)

    async def remove(self, name: str, actor: str = "system") -> ScenarioSummary:
        """Cancel the scenario's live runs, archive it, and drop its file from the workspace
        (409 when that file declares anything else)."""
        core = self.core
        summary = await self.summary(name)
        path = summary.file
        if path is not None:
            symbols = (await core.checked()).symbols
            others = [n for n, f in symbols.scenario_files.items() if f == path and n != name]
            others += [n for n, f in symbols.decl_files.items() if f == path]
            if others:
                raise Problem(
                    409, "conflict",
                    f"{path} also declares {', '.join(sorted(others))}; upload {path} without scenario {name} instead",
                )  # fmt: skip
        live: list[int] = []
        after = 0
        while page := await core.store.list_runs(scenario=name, after=after, limit=1000):
            live += [r.id for r in page if r.status in ("running", "waiting", "awaiting")]
            after = page[-1].id
        await core.store.cancel_runs(live, core.now_ms(), "the scenario was deleted")
        await core.engine.set_state(name, "archived")
        await core.store.record_audit(name, core.now_ms(), actor, "delete", f"{len(live)} live run(s) cancelled")
        if path is not None:
            try:
                await core.remove_files([path])
            except CheckFailed as error:
                raise check_failed(error) from error
        return await self.summary(name)

    async def step_counts(self, name: str) -> list[StepCount]:
        """Every step of a scenario in its order (steps only older versions had, exits and
        cancels after), with the runs that reached it and those at it now (404 if unknown)."""
        await self.require(name)
        store = self.core.store
        program = self.program(name)
        counts = {c.step: c for c in (_program_steps(program) if program is not None else [])}
        # Steps the current version lacks (older versions' runs, exits, cancels) follow, in
        # the order runs first reached them.
        for step, label, outcome, number in await store.step_counts(name):
            entry = counts.setdefault(step, StepCount(step=step, name=label, passed=0, outcomes={}, waiting=0, here={}))
            entry.outcomes[outcome] = entry.outcomes.get(outcome, 0) + number
            entry.passed += number
        for at, status, number in await store.runs_at(name):
            if at is None:
                continue
            entry = counts.setdefault(at, StepCount(step=at, name=at, passed=0, outcomes={}, waiting=0, here={}))
            entry.here[status] = number
            if status in LIVE:
                entry.waiting += number
        return list(counts.values())

    async def steps_page(self, name: str, after: str | None, limit: int) -> StepPage:
        """A page of `step_counts`, after the step named ``after`` (422 when there is no such step)."""
        counts = await self.step_counts(name)
        start = 0
        if after is not None:
            found = [i for i, c in enumerate(counts) if c.step == after]
            if not found:
                raise Problem(
                    422, "invalid-request", f"after: scenario {name} has no step {after!r}; pass a page's `next`"
                )
            start = found[0] + 1
        page = counts[start : start + limit]
        return StepPage(items=page, next=page[-1].step if start + limit < len(counts) else None)


# For modules that are given the Core rather than a service (console/figures.py).
async def scenario_summaries(core: Core) -> list[ScenarioSummary]:
    """`ScenarioService.summaries` of ``core``."""
    return await ScenarioService(core).summaries()


async def step_counts(core: Core, name: str) -> list[StepCount]:
    """`ScenarioService.step_counts` of ``core``."""
    return await ScenarioService(core).step_counts(name)
