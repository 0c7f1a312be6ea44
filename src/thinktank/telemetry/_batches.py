"""Ended spans on their way to the exporting process, in batches, as the SDK's batch
span processor hands them to an exporter (``OTEL_BSP_*``)."""

from __future__ import annotations

import logging
import marshal
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("thinktank.telemetry")

CHUNK = 64
"""Spans the thread packs at a time (fewer when a batch is smaller)."""


def pack(spans: list[Any]) -> bytes:
    """A chunk of ended spans as it crosses the pipe: ``M`` and their :mod:`marshal`
    (plain values only: in C, a third of pickle's time), or ``P`` and their pickle when
    a value is of another type."""
    try:
        return b"M" + marshal.dumps(spans, 4)
    except ValueError:  # a type marshal does not write (a subclass of str, say)
        return b"P" + pickle.dumps(spans, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(chunk: bytes) -> list[Any]:
    """The spans of a :func:`pack` ed chunk (read in the exporting process)."""
    view = memoryview(chunk)[1:]
    if chunk[:1] == b"M":
        return marshal.loads(view)
    return pickle.loads(view)


class Batches:
    """Ended spans on their way to the exporting process: a queue that a thread empties in
    batches when it holds a batch's worth or when the schedule delay has passed, as the
    SDK's batch span processor does (a full queue drops spans, said once).

    The thread packs the queue every :data:`CHUNK` spans (:func:`pack`: bytes, which the
    garbage collector never counts) and keeps the packed chunks until a batch's worth or
    the delay: spans waiting as tuples and dicts would count towards starting the traced
    process's next collection, a batch's worth of them about 1,500 objects at once."""

    def __init__(
        self,
        send: Callable[[list[bytes]], Any],
        *,
        schedule_delay_s: float,
        max_queue: int,
        max_batch: int,
    ) -> None:
        self._send = send
        self._delay = schedule_delay_s
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._chunk = min(CHUNK, max_batch)
        self._queue: deque[Any] = deque()
        self._packed: list[tuple[bytes, int]] = []  # (chunk, its spans), oldest first
        self._packed_n = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._dropped = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="thinktank-spans", daemon=True)
        self._thread.start()

    def put(self, span: Any) -> None:
        q = self._queue
        if len(q) < self._chunk - 1:  # the common case: nothing to check or wake
            q.append(span)
        else:
            self._put_many(span)

    def _put_many(self, span: Any) -> None:
        q = self._queue
        if len(q) + self._packed_n >= self._max_queue:
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "the span queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): spans are dropped",
                    self._max_queue,
                )
            return
        q.append(span)
        if not self._wake.is_set():  # a chunk's worth: the thread packs it
            self._wake.set()

    def _loop(self) -> None:
        due = time.monotonic() + self._delay
        while not self._stop:
            self._wake.wait(max(due - time.monotonic(), 0.0))
            self._wake.clear()
            if time.monotonic() >= due:
                self._drain()
                due = time.monotonic() + self._delay
            else:
                self._drain(only_full=True)

    def _drain(self, only_full: bool = False) -> None:
        """Pack the queue; send the packed spans in batches (``only_full``: whole
        batches only, the rest kept for the delay)."""
        q = self._queue
        with self._lock:  # one sender at a time: the thread, or a flush
            while q and (not only_full or len(q) >= self._chunk):
                spans = [q.popleft() for _ in range(min(len(q), self._chunk))]
                self._packed.append((pack(spans), len(spans)))
                self._packed_n += len(spans)
            while self._packed and (not only_full or self._packed_n >= self._max_batch):
                batch: list[bytes] = []
                n = 0
                while self._packed and n + self._packed[0][1] <= self._max_batch:
                    chunk, k = self._packed.pop(0)
                    batch.append(chunk)
                    n += k
                self._packed_n -= n
                try:
                    self._send(batch)
                except Exception:
                    log.warning("sending %d spans failed; they are dropped", n, exc_info=True)

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
