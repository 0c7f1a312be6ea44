"""Ended spans on their way to the exporting process, in batches, as the SDK's batch
span processor hands them to an exporter (``OTEL_BSP_*``)."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("thinktank.telemetry")


class Batches:
    """Ended spans on their way to the exporting process: a queue that a thread empties in
    batches when it holds a batch's worth or when the schedule delay has passed, as the
    SDK's batch span processor does (a full queue drops spans, said once)."""

    def __init__(
        self,
        send: Callable[[list[Any]], Any],
        *,
        schedule_delay_s: float,
        max_queue: int,
        max_batch: int,
    ) -> None:
        self._send = send
        self._delay = schedule_delay_s
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._dropped = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="thinktank-spans", daemon=True)
        self._thread.start()

    def put(self, span: Any) -> None:
        q = self._queue
        if len(q) < self._max_batch - 1:  # the common case: nothing to check or wake
            q.append(span)
        else:
            self._put_many(span)

    def _put_many(self, span: Any) -> None:
        q = self._queue
        if len(q) >= self._max_queue:
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "the span queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): spans are dropped",
                    self._max_queue,
                )
            return
        q.append(span)
        if not self._wake.is_set():  # a batch's worth: the thread sends it
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        q = self._queue
        with self._lock:  # one sender at a time: the thread, or a flush
            while q:
                batch = [q.popleft() for _ in range(min(len(q), self._max_batch))]
                try:
                    self._send(batch)
                except Exception:
                    log.warning(
                        "sending %d spans failed; they are dropped", len(batch), exc_info=True
                    )

    def flush(self) -> None:
        """Send what is queued now."""
        self._drain()

    def close(self) -> None:
        """Send what is queued, then stop the thread."""
        self._stop = True
        self._wake.set()
        if os.getpid() == self._pid:
            self._thread.join(timeout=60)
        self._drain()


def env_int(name: str, default: int) -> int:
    """The positive integer of variable ``name`` (a warning and ``default`` for another
    value)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("%s=%r is not a positive integer: using %d", name, raw, default)
        return default
    return value
