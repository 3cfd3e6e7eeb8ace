"""Services per resource: what the API's handlers and the console's pages do, without HTTP.

Each is a small class built from the Core per request and given to handlers by Litestar's
dependency injection under its name (`contacts: NamedDependency[ContactService]`; the
routers take `dependencies()`). Handlers and pages read and change state only through these:
no module above them reaches into `core.store` or `core.engine` (tests/test_layers.py).
Services raise the API's problems (404, 409, 422) themselves, so that the API and the
console refuse the same things the same way.
"""

from __future__ import annotations

from typing import Any

from litestar.di import NamedDependency, Provide

from ..core import Core
from ..deps import get_core
from .broadcasts import BroadcastService
from .commerce import CommerceService
from .contacts import ContactService
from .events import EventService
from .experiments import ExperimentService
from .feedback import FeedbackService
from .health import HealthService
from .links import LinkService
from .messages import MessageService
from .privacy import PrivacyService
from .reports import ReportService
from .runs import RunService
from .scenarios import ScenarioService
from .suppressions import SuppressionService
from .templates import TemplateService

__all__ = [
    "BroadcastService",
    "CommerceService",
    "ContactService",
    "EventService",
    "ExperimentService",
    "FeedbackService",
    "HealthService",
    "LinkService",
    "MessageService",
    "PrivacyService",
    "ReportService",
    "RunService",
    "ScenarioService",
    "SuppressionService",
    "TemplateService",
    "dependencies",
]

#: Each service by the name a handler takes it as.
SERVICES: dict[str, Any] = {
    "broadcasts": BroadcastService,
    "commerce": CommerceService,
    "contacts": ContactService,
    "events": EventService,
    "experiments": ExperimentService,
    "feedback": FeedbackService,
    "health": HealthService,
    "links": LinkService,
    "messages": MessageService,
    "privacy": PrivacyService,
    "reports": ReportService,
    "runs": RunService,
    "scenarios": ScenarioService,
    "suppressions": SuppressionService,
    "templates": TemplateService,
}


def _provider(service: Any) -> Provide:
    def provide(core: Core) -> Any:
        return service(core)

    # Litestar reads what to inject from the annotations: the core, named; the service made.
    provide.__annotations__ = {"core": NamedDependency[Core], "return": service}
    return Provide(provide, sync_to_thread=False)


def dependencies() -> dict[str, Provide]:
    """A router's `dependencies`: the core and every service."""
    return {
        "core": Provide(get_core, sync_to_thread=False),
        **{name: _provider(service) for name, service in SERVICES.items()},
    }
