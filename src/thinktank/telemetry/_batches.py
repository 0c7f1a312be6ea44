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
from itertools import repeat, starmap
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
    """Ended spans on their way to the exporting process: a queue sent in batches when it
    holds a batch's worth or when the schedule delay has passed, as the SDK's batch span
    processor does (a full queue drops spans, said once).

    The queue is packed every :data:`CHUNK` spans (:func:`pack`: bytes, which the
    garbage collector never counts) by the thread whose span fills the chunk — the event
    loop's, in a server: a few dozen µs of C, where handing the chunk to another thread
    would cost that thread's wake-up and the interpreter lock back and forth. The packed
    chunks wait for a batch's worth or the delay; a thread of its own sends them (the
    pipe's writes are its only waits). Spans waiting as tuples and dicts would count
    towards starting the traced process's next collection, a batch's worth of them
    about 1,500 objects at once."""

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
        self._packed: deque[tuple[bytes, int]] = deque()  # (chunk, its spans), oldest first
        self._packed_n = 0
        self._lock = threading.Lock()  # the packed chunks, and who packs the queue
        self._sending = threading.Lock()  # one sender at a time: batches go in order
        self._wake = threading.Event()
        self._stop = False
        self._dropped = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="thinktank-spans", daemon=True)
        self._thread.start()

    def put(self, span: Any) -> None:
        q = self._queue
        q.append(span)
        if len(q) >= self._chunk:  # a chunk's worth: packed now
            self._pack(whole=True)

    def _pack(self, whole: bool) -> None:
        """Pack the queue's spans, a chunk at a time (``whole``: whole chunks only); wake
        the sender when a batch's worth is packed."""
        q = self._queue
        chunk = self._chunk
        with self._lock:
            while q and (len(q) >= chunk or not whole):
                n = min(len(q), chunk)
                spans = list(starmap(q.popleft, repeat((), n)))  # n pops, in C
                if self._packed_n + n > self._max_queue:
                    self._drop(n)
                    continue
                self._packed.append((pack(spans), n))
                self._packed_n += n
            full = self._packed_n >= self._max_batch
        if full and not self._wake.is_set():
            self._wake.set()

    def _drop(self, n: int) -> None:
        self._dropped += n
        if self._dropped == n:
            log.warning(
                "the span queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): spans are dropped",
                self._max_queue,
            )

    def _loop(self) -> None:
        due = time.monotonic() + self._delay
        while not self._stop:
            self._wake.wait(max(due - time.monotonic(), 0.0))
            self._wake.clear()
            if time.monotonic() >= due:
                self._drain()
                due = time.monotonic() + self._delay
            else:
                self._send_packed(only_full=True)

    def _drain(self) -> None:
        """Pack what is queued and send it all."""
        self._pack(whole=False)
        self._send_packed(only_full=False)

    def _send_packed(self, only_full: bool) -> None:
        """Send the packed chunks in batches (``only_full``: whole batches only, the rest
        kept for the delay); the chunks are taken under the lock, sent outside it."""
        with self._sending:
            while True:
                with self._lock:
                    if not self._packed or (only_full and self._packed_n < self._max_batch):
                        return
                    batch: list[bytes] = []
                    n = 0
                    while self._packed and n + self._packed[0][1] <= self._max_batch:
                        chunk, k = self._packed.popleft()
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
