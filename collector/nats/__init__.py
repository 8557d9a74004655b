"""The NATS edge: the JetStream tap (a durable pull consumer of its own per stream) and a
publisher for the simulator.

The only package that imports nats-py (ruff ``TID251`` keeps it so). nats-py is asyncio; the
tap runs its client on an event loop thread of its own, so the collect loop stays synchronous.
"""

from __future__ import annotations

__all__: list[str] = []
