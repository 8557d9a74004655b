"""Run the pipeline live: observations from a source thread, the detection clock ticking.

The source (the paced simulator, say) runs in its own thread and hands observations over a
bounded queue; this loop batches them into the pipeline and advances the flow tracker's clock at
least every ``tick_every`` seconds, so a flow is flagged stuck within about a second of its
deadline even when no further events arrive.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from collector.model import Observation
from collector.pipeline import Pipeline

__all__ = ["LiveRunner"]

logger = logging.getLogger(__name__)

_END = object()


class LiveRunner:
    def __init__(
        self,
        pipeline: Pipeline,
        *,
        now: Callable[[], datetime],
        batch_size: int = 1000,
        tick_every: float = 0.5,
        queue_size: int = 20_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self._now = now
        self._batch_size = batch_size
        self._tick_every = tick_every
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._monotonic = monotonic
        self.source_error: BaseException | None = None

    def _feed(self, source: Iterable[Observation], stop: threading.Event) -> None:
        try:
            for obs in source:
                while not stop.is_set():
                    try:
                        self._queue.put(obs, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # reported by run(); the loop must not hang on it
            self.source_error = exc
            logger.exception("source failed")
        finally:
            self._queue.put(_END)

    def run(self, source: Iterable[Observation], stop: threading.Event, *,
            until_source_ends: bool = False) -> None:
        """Process until ``stop`` is set (or the source ends, when asked), then flush."""
        feeder = threading.Thread(target=self._feed, args=(source, stop), daemon=True,
                                  name="choreoscope-source")
        feeder.start()
        last_tick = self._monotonic()
        ended = False
        while not stop.is_set():
            batch, ended = self._drain(ended)
            if batch:
                self.pipeline.process(batch)
            if self._monotonic() - last_tick >= self._tick_every:
                self.pipeline.advance(self._now())
                last_tick = self._monotonic()
            if ended and until_source_ends and self._queue.empty():
                break
            if ended and not batch:
                stop.wait(self._tick_every / 2)
        stop.set()
        feeder.join(timeout=5)
        rest, _ = self._drain(True, wait=False)
        if rest:
            self.pipeline.process(rest)
        self.pipeline.advance(self._now())

    def _drain(self, ended: bool, *, wait: bool = True) -> tuple[list[Observation], bool]:
        batch: list[Observation] = []
        timeout = None if not wait or ended else self._tick_every / 2
        try:
            item = self._queue.get(timeout=timeout) if wait and not ended else \
                self._queue.get_nowait()
        except queue.Empty:
            return batch, ended
        while True:
            if item is _END:
                ended = True
            else:
                batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= self._batch_size:
                return batch, ended
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, ended
