"""The NATS JetStream tap: a durable pull consumer of its own on each configured stream.

The consumer is named from the collector's group (``choreoscope-<group>``), never one of the
services' durables and never an ephemeral push consumer. Messages are acknowledged only after
the store commit of their batch; the highest stream sequence read is stored with the batch
(`Position`, for lag tools and the health page). The durable consumer resumes where its
acknowledgements end; what a killed collector had in flight is delivered again after
`ACK_WAIT_S` (a clean stop naks it: at once), and a redelivered message is located at its
stream sequence, so it is stored once, a poison one as one dead letter. A redelivery may come
after later messages, so the stored sequence is no watermark to skip by.

Core NATS subjects (``nats.subjects``, wildcards allowed) are read by plain subscriptions: at
most once by nature (nothing is kept while the collector is away; nothing to acknowledge),
located at a hash of subject and body (`_message.core_identity`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from collector.model import Location, Observation
from collector.nats._connect import connect_options, where
from collector.nats._loop import LoopThread
from collector.nats._message import core_identity, headers_of, observation_of, stored_name
from collector.nats.exceptions import NatsUnusable
from collector.settings import NatsSettings
from collector.store.base import ConsumerSeen, Position
from collector.tap import Lag

__all__ = ["NatsTap", "NatsTapOptions", "durable_name"]

logger = logging.getLogger(__name__)

ACK_WAIT_S = 30.0
"""How long JetStream waits for an acknowledgement before it delivers a message again (what a
collector killed with messages in flight costs its successor)."""

MAX_ACK_PENDING = 100_000
"""Messages delivered and not acknowledged yet before the server waits: above what the collect
loop holds (a batch gathered, one being written: 2 x ``kafka.batch_max``)."""

StoredPositions = Callable[[str], Mapping[tuple[str, int], int]]


def durable_name(group_id: str) -> str:
    """The tap's durable consumer on every stream it reads."""
    return "choreoscope-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in group_id)


@dataclass(frozen=True, slots=True)
class NatsTapOptions:
    settings: NatsSettings
    group_id: str = "choreoscope"

    @property
    def source(self) -> str:
        return f"nats:{self.group_id}"


class _Link:
    def __init__(self, where: str) -> None:
        self.where = where
        self.up = True


class NatsTap:
    """Reads each stream's durable consumer; `poll` answers observations and the stream
    sequence after them."""

    @property
    def delivery(self) -> str:
        s = self.options.settings
        parts = []
        if s.streams:
            parts.append("JetStream streams effectively once (acknowledged after the store "
                         "commit)")
        if s.subjects:
            parts.append("core NATS subjects at most once (what is published while the "
                         "collector is away is never seen)")
        return "; ".join(parts)

    def __init__(self, options: NatsTapOptions, stored_positions: StoredPositions, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if options.settings.url is None:
            raise NatsUnusable("no NATS to read: set nats.url (--nats-url)")
        if not options.settings.streams and not options.settings.subjects:
            raise NatsUnusable("nothing to read: set nats.streams or nats.subjects")
        self.options = options
        self._stored = stored_positions
        self._now = now
        self._monotonic = monotonic
        self.link = _Link(where(options.settings.url))
        self.on_open: Callable[[], object] | None = None
        self.on_revoke: Callable[[], object] | None = None
        self._loop: LoopThread | None = None
        self._nc: Any = None
        self._subs: dict[str, Any] = {}
        self._core: list[Any] = []
        """Core NATS subscriptions; their messages wait in ``_heard`` (loop thread only)."""
        self._heard: list[Any] = []
        self._unacked: dict[str, list[Any]] = {}
        self._info: dict[str, Any] = {}
        self._next_check = 0.0
        self._turn = 0

    @property
    def source(self) -> str:
        return self.options.source

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self, stop: threading.Event | None = None) -> None:
        """Connect and bind a durable pull consumer on each stream; retry a refused connection
        until ``nats.connect_timeout_s`` has passed, then raise `NatsUnusable`."""
        s = self.options.settings
        self._loop = LoopThread()
        deadline = self._monotonic() + s.connect_timeout_s
        while True:
            try:
                self._nc = self._loop.run(self._connect(),
                                          timeout=max(0.5, deadline - self._monotonic()))
                break
            except (OSError, nats.errors.Error, TimeoutError) as exc:
                if self._monotonic() >= deadline or (stop is not None and stop.is_set()):
                    self.close()
                    raise NatsUnusable(
                        f"cannot connect to NATS at {self.link.where} within "
                        f"{s.connect_timeout_s:g} s: "
                        f"{str(exc) or 'connection refused or no answer'}"
                        " (check nats.url / --nats-url and the credentials)") from exc
                time.sleep(0.5)
        try:
            self._loop.run(self._bind(), timeout=30)
        except nats.js.errors.NotFoundError as exc:
            self.close()
            raise NatsUnusable(f"a stream of nats.streams ({', '.join(s.streams)}) does not "
                               f"exist on {self.link.where}: {exc.description}") from exc
        self.link.up = True
        if self.on_open is not None:
            self.on_open()
        logger.info("reading streams %s as durable %s from %s", ", ".join(s.streams),
                    durable_name(self.options.group_id), self.link.where)

    async def _connect(self) -> Any:
        async def on_disconnect() -> None:
            if self.link.up and self._loop is not None:  # not while closing
                logger.warning("NATS at %s unreachable; reconnecting", self.link.where)
            self.link.up = False

        async def on_reconnect() -> None:
            logger.warning("NATS at %s reachable again; resuming", self.link.where)
            self.link.up = True

        return await nats.connect(**connect_options(self.options.settings),
                                  disconnected_cb=on_disconnect, reconnected_cb=on_reconnect)

    async def _bind(self) -> None:
        js = self._nc.jetstream()
        durable = durable_name(self.options.group_id)
        for stream in self.options.settings.streams:
            await js.add_consumer(stream, api.ConsumerConfig(
                durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL, ack_wait=ACK_WAIT_S,
                max_ack_pending=MAX_ACK_PENDING))
            self._subs[stream] = await js.pull_subscribe_bind(durable=durable, stream=stream)
            self._unacked[stream] = []

        async def heard(msg: Any) -> None:
            self._heard.append(msg)

        for subject in self.options.settings.subjects:
            self._core.append(await self._nc.subscribe(subject, cb=heard,
                                                       pending_msgs_limit=1_000_000))

    def close(self) -> None:
        """Close the connection: what was not acknowledged is delivered again next time."""
        loop, self._loop = self._loop, None
        nc, self._nc = self._nc, None
        self._subs = {}
        self._core = []
        if loop is None:
            return
        unacked = [m for msgs in self._unacked.values() for m in msgs]
        self._unacked = {}
        if nc is not None:
            try:
                if unacked:  # not stored: delivered again at once, not after ACK_WAIT_S
                    loop.run(self._nak(unacked), timeout=10)
                loop.run(nc.close(), timeout=10)
            except Exception:  # closing anyway
                logger.debug("closing the NATS connection failed", exc_info=True)
        loop.close()

    def __enter__(self) -> NatsTap:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------------

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The next messages of one stream (in turn), and the stream sequence after them."""
        if self._loop is None:
            return [], []
        if self._core:
            heard = self._loop.run(self._take_heard(), timeout=10)
            if heard:
                return self._convert_core(heard), []
            if not self._subs:
                time.sleep(timeout_ms / 1000)
                heard = self._loop.run(self._take_heard(), timeout=10)
                return self._convert_core(heard), []
        if not self._subs:
            return [], []
        streams = list(self._subs)
        per = max(0.05, timeout_ms / 1000 / len(streams))
        for _ in streams:
            stream = streams[self._turn % len(streams)]
            self._turn += 1
            got = self._loop.run(self._fetch(stream, per), timeout=per + 30)
            self._check()
            if got:
                return self._convert(stream, got)
        return [], []

    async def _take_heard(self) -> list[Any]:
        heard, self._heard = self._heard, []
        return heard

    def _convert_core(self, msgs: list[Any]) -> list[Observation]:
        received = self._now()
        return [Observation(Location("nats", stored_name(m.subject), 0,
                                     core_identity(m.subject, m.data)),
                            received, m.data, None, headers_of(m.headers), None)
                for m in msgs]

    async def _fetch(self, stream: str, timeout: float) -> list[Any]:
        try:
            msgs: list[Any] = await self._subs[stream].fetch(
                self.options.settings.fetch_batch, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except nats.errors.Error as exc:
            logger.warning("fetching from stream %s failed (%s); retrying", stream,
                           type(exc).__name__)
            return []
        return msgs

    def _convert(self, stream: str, msgs: list[Any]) -> tuple[list[Observation],
                                                              list[Position]]:
        received = self._now()
        observations = []
        last = 0
        for m in msgs:
            meta = m.metadata
            seq = meta.sequence.stream
            last = max(last, seq)
            observations.append(observation_of(m.subject, seq, m.headers, m.data, received,
                                               meta.timestamp))
        self._unacked[stream].extend(msgs)
        return observations, [Position(self.source, stream, 0, last + 1)]

    # -- acknowledgements and health ------------------------------------------------------------

    def commit(self, positions: Sequence[Position]) -> bool:
        """Acknowledge the messages below each position (their batch is in the store)."""
        if self._loop is None:
            return False
        for p in positions:
            pending = self._unacked.get(p.topic, [])
            done = [m for m in pending if m.metadata.sequence.stream < p.next_offset]
            self._unacked[p.topic] = [m for m in pending
                                      if m.metadata.sequence.stream >= p.next_offset]
            if done:
                self._loop.run(self._ack(done), timeout=30)
        return True

    @staticmethod
    async def _ack(msgs: list[Any]) -> None:
        for m in msgs:
            await m.ack()

    @staticmethod
    async def _nak(msgs: list[Any]) -> None:
        for m in msgs:
            await m.nak()

    def due_commits(self) -> list[Position]:
        return []

    def _check(self, force: bool = False) -> None:
        now = self._monotonic()
        if (now < self._next_check and not force) or self._loop is None:
            return
        self._next_check = now + 1.0
        try:
            self._info = self._loop.run(self._consumer_infos(), timeout=10)
        except (nats.errors.Error, TimeoutError):
            return

    async def _consumer_infos(self) -> dict[str, Any]:
        return {stream: await sub.consumer_info() for stream, sub in self._subs.items()}

    def lag(self) -> Lag:
        """Per stream: messages not delivered yet, plus those delivered and not acknowledged
        (after a crash, they come again once their ack wait is over)."""
        return {(stream, 0): (int(info.num_pending) + int(info.num_ack_pending)
                              - len(self._unacked.get(stream, ())) if info is not None else None)
                for stream, info in ((s, self._info.get(s)) for s in self._subs)}

    def caught_up(self) -> bool:
        """JetStream: nothing pending on any consumer; core NATS: nothing heard unread (it
        keeps nothing, so there is never more to catch up on)."""
        if self._loop is None:
            return False
        lag = self.lag()
        streams_done = (bool(lag) and all(n == 0 for n in lag.values())) if self._subs else True
        return streams_done and not self._heard

    def consumers(self) -> list[ConsumerSeen]:
        """NATS does not show who receives a message: none."""
        return []

    def figures(self) -> Mapping[str, float]:
        """The consumers' pending, ack-pending and redelivered counts, over the streams."""
        self._check(force=True)
        infos = [i for i in self._info.values() if i is not None]
        return {"nats_pending": float(sum(i.num_pending or 0 for i in infos)),
                "nats_ack_pending": float(sum(i.num_ack_pending or 0 for i in infos)),
                "nats_redelivered": float(sum(i.num_redelivered or 0 for i in infos))}
