"""Delivering the outbox: email over SMTP, SMS/Viber/push over HTTP providers, webhooks.

The runtime only writes messages to the outbox, in the transaction of the step that
sends them. The `Sender` claims due messages, hands each to the `Channel` for its
channel, and records what came of it: sent, to be retried later (with exponential
backoff, up to a maximum age), or undeliverable (with the address suppressed when the
provider says it does not exist).
"""

from .base import Channel, Outcome
from .sender import RetryPolicy, Sender

__all__ = ["Channel", "Outcome", "RetryPolicy", "Sender"]
