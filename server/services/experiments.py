"""A/B tests decided: promoting a winning variant as a new version of its scenario."""

from __future__ import annotations

from ...interpreter.versions.promote import PromoteError, promote
from ..core import Core
from ..deps import not_found
from ..models import DeployResult
from ..problems import Problem
from .scenarios import ScenarioService


class ExperimentService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def promote(self, scenario: str, variant: str, actor: str) -> DeployResult:
        """Make ``variant`` take every new run of its split: the scenario's file with the split
        reduced to that variant at 100%, checked and deployed as a new version (runs already
        past the split keep their way). 404 for an unknown scenario, 422 for a variant it
        does not have."""
        path = (await self.core.scenario_files()).get(scenario)
        if path is None or path not in self.core.files:
            raise not_found(f"scenario {scenario!r}")
        try:
            text = promote(self.core.files[path], path, scenario, variant)
        except PromoteError as error:
            raise Problem(422, "invalid-request", f"variant: {error}") from None
        return await ScenarioService(self.core).deploy({path: text}, actor=f"{actor} (promoted {variant})")
