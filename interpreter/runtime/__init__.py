"""The runtime: the engine that runs scenarios for every contact, durably."""

from .engine import Engine
from .events import EventError, EventInput, normalise
from .settings import Settings

__all__ = ["Engine", "EventError", "EventInput", "Settings", "normalise"]
