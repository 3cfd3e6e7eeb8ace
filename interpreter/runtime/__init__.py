"""The runtime: the engine that runs scenarios for every contact, durably."""

from ..settings import Settings
from .engine import Engine
from .events import EventError, EventInput, normalise

__all__ = ["Engine", "EventError", "EventInput", "Settings", "normalise"]
