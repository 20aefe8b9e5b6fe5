"""Send a message to an actor by its name: the service layer never imports the actors it starts.

The message is what `actor.message(...)` builds (same queue, actor name and empty options), so the worker
that declares the actor applies its own options (retries, time limit) when it runs the message.
"""

from __future__ import annotations

from typing import Any

import dramatiq


def message_for(actor_name: str, queue_name: str, *args: Any) -> dramatiq.Message:
    """A message for the named actor on its queue, not yet sent (its id is known before it is)."""
    return dramatiq.Message(queue_name=queue_name, actor_name=actor_name, args=args, kwargs={}, options={})


def enqueue(message: dramatiq.Message) -> dramatiq.Message:
    """Send a message built by `message_for` through the process's broker; returns what was enqueued."""
    return dramatiq.get_broker().enqueue(message)


def send(actor_name: str, queue_name: str, *args: Any) -> dramatiq.Message:
    """Build and send a message for the named actor; raises what the broker raises (Redis down)."""
    return enqueue(message_for(actor_name, queue_name, *args))
