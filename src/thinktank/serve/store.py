"""Where a server keeps each run for ``GET /v1/thinktank/runs/{id}``.

:class:`TraceStore` is the contract; :class:`MemoryTraceStore` (the default) keeps the
last ``keep`` runs in this process, :class:`~thinktank.serve.sqlite_store.SQLiteTraceStore`
(``--store PATH``) keeps them in a SQLite file that outlives the server.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from pydantic import BaseModel

from thinktank.graphs.result import RunResult


class StoredRun(BaseModel):
    """One served run: the response id it answered with and its :class:`RunResult`."""

    id: str
    """The chat completion's ``id`` (``chatcmpl-…``)."""
    object: str = "thinktank.run"
    created: int
    """Unix time of the request."""
    model: str
    """The served graph's name."""
    seed: int
    result: RunResult


class TraceStore(Protocol):
    """Keeps served runs by response id."""

    async def put(self, run: StoredRun) -> None:
        """Keep ``run`` (the oldest may be dropped to stay within the store's bound)."""
        ...

    async def get(self, rid: str) -> StoredRun | None:
        """The run answered as ``rid``, or ``None`` (never stored, or dropped)."""
        ...

    async def aclose(self) -> None: ...


class MemoryTraceStore:
    """The last ``keep`` runs in memory (``keep=0``: every run, unbounded)."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._runs: OrderedDict[str, StoredRun] = OrderedDict()

    async def put(self, run: StoredRun) -> None:
        self._runs[run.id] = run
        while self.keep and len(self._runs) > self.keep:
            self._runs.popitem(last=False)

    async def get(self, rid: str) -> StoredRun | None:
        return self._runs.get(rid)

    async def aclose(self) -> None:
        self._runs.clear()

    def __len__(self) -> int:
        return len(self._runs)


def open_store(path: str | None, keep: int) -> TraceStore:
    """The store ``--store PATH`` / ``--keep N`` ask for (memory without a path)."""
    if path is None:
        return MemoryTraceStore(keep)
    from thinktank.serve.sqlite_store import SQLiteTraceStore

    return SQLiteTraceStore(path, keep)
