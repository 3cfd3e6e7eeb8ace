"""A/B tests: promoting the winner of a split (the report says which variant won)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ..interpreter.runtime.events import FieldName
from .deps import KEYED, api_actor, require_api_key
from .models import DeployResult
from .problems import problems
from .services import ExperimentService, dependencies


class PromoteRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The variant to promote."""

    variant: FieldName


@post("/{name:str}/promote", status_code=201, responses=problems(400, 401, 404, 413, 422))
async def promote(
    request: Request[Any, Any, Any], experiments: NamedDependency[ExperimentService], name: FromPath[str],
    data: JSONBody[PromoteRequest],
) -> DeployResult:  # fmt: skip
    """Make a variant take every new run of its split: the scenario's file with the split
    reduced to that variant at 100%, checked and deployed as a new version (in the audit).
    Runs already past the split keep the way they took."""
    return await experiments.promote(name, data.variant, api_actor(request))


router = Router(
    "/api/scenarios",
    route_handlers=[promote],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["scenarios"],
)
