"""Dynamic-Cheatsheet sheets (:class:`Cheatsheet`) and where they live between tasks
(and between processes). Writing a sheet's text is the learner's business
(:mod:`thinktank.learning.cheatsheet`); this module only stores it.

A cumulative cheatsheet is one evolving document per bank (or per named sheet).
It is kept in the memory bank's own SQLite file, table ``documents`` (schema v3),
so a bank and its sheet travel together and every process that opens the bank
sees the same sheet. Writes are compare-and-set on the sheet's ``version``: a
curator that started from version *v* may only store version *v + 1* if nobody
stored another version in between, so two runs curating at once never silently
drop each other's rewrite (the loser re-curates from the newer sheet).

Banks other than :class:`~thinktank.memory.sqlite.SQLiteMemoryBank` get an
in-process store (:class:`InMemorySheetStore`), which is lost with the process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.memory.types import utcnow

DEFAULT_SHEET = "cheatsheet"
"""Name of the sheet a learner keeps when none is given."""


class Cheatsheet(StrictModel):
    """A bounded text of reusable guidance, versioned by each rewrite."""

    text: str = ""
    """The sheet (plain text or Markdown)."""
    max_chars: int = Field(default=6_000, ge=100)
    """Upper bound on ``len(text)``; longer rewrites are cut."""
    version: int = 0
    """Number of accepted rewrites."""
    updated: datetime = Field(default_factory=utcnow)
    """Time of the last accepted rewrite (UTC)."""
    sources: list[str] = Field(default_factory=list)
    """Ids of the tasks whose runs shaped the sheet (it is not shown to them again)."""

    def render(self, header: str = "Cheatsheet from earlier tasks") -> str:
        """The sheet as prompt text (empty when the sheet is)."""
        return f"{header}:\n{self.text}" if self.text.strip() else ""

    def save(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, *, max_chars: int = 6_000) -> Cheatsheet:
        """Read a saved sheet; a missing file gives an empty one."""
        path = Path(path)
        if not path.exists():
            return cls(max_chars=max_chars)
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


@runtime_checkable
class SheetStore(Protocol):
    """Named, versioned cheatsheets with compare-and-set updates."""

    async def load(self, name: str, *, max_chars: int = 6_000) -> Cheatsheet:
        """The stored sheet, or an empty one (version 0) with ``max_chars``."""
        ...

    async def save(self, name: str, sheet: Cheatsheet, *, expected_version: int) -> bool:
        """Store ``sheet`` if the stored version is still ``expected_version`` (0: none
        stored yet); returns False, storing nothing, when another writer got there first."""
        ...


class SQLiteSheetStore:
    """Sheets in the ``documents`` table of a :class:`~thinktank.memory.sqlite.SQLiteMemoryBank`."""

    def __init__(self, bank: Any) -> None:
        self.bank = bank
        self.db = bank.db

    def load_sync(self, name: str, *, max_chars: int = 6_000) -> Cheatsheet:
        """Blocking :meth:`load`."""
        row = self.db.read(
            lambda c: c.execute("SELECT body FROM documents WHERE name = ?", (name,)).fetchone()
        )
        if row is None:
            return Cheatsheet(max_chars=max_chars)
        return Cheatsheet.model_validate_json(row[0]).model_copy(update={"max_chars": max_chars})

    def save_sync(self, name: str, sheet: Cheatsheet, *, expected_version: int) -> bool:
        """Blocking :meth:`save`."""

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT version FROM documents WHERE name = ?", (name,)).fetchone()
            current = 0 if row is None else int(row[0])
            if current != expected_version:
                return False
            conn.execute(
                "INSERT INTO documents(name, version, body, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET version = excluded.version, "
                "body = excluded.body, updated = excluded.updated",
                (name, sheet.version, sheet.model_dump_json(), utcnow().isoformat()),
            )
            return True

        return self.db.write(tx)

    async def load(self, name: str, *, max_chars: int = 6_000) -> Cheatsheet:
        return await asyncio.to_thread(self.load_sync, name, max_chars=max_chars)

    async def save(self, name: str, sheet: Cheatsheet, *, expected_version: int) -> bool:
        return await asyncio.to_thread(
            self.save_sync, name, sheet, expected_version=expected_version
        )


class InMemorySheetStore:
    """Sheets in a dict of this process (for banks without a file of their own)."""

    def __init__(self) -> None:
        self._sheets: dict[str, Cheatsheet] = {}
        self._lock = threading.Lock()

    async def load(self, name: str, *, max_chars: int = 6_000) -> Cheatsheet:
        with self._lock:
            sheet = self._sheets.get(name)
        if sheet is None:
            return Cheatsheet(max_chars=max_chars)
        return sheet.model_copy(update={"max_chars": max_chars})

    async def save(self, name: str, sheet: Cheatsheet, *, expected_version: int) -> bool:
        with self._lock:
            current = self._sheets.get(name)
            if (current.version if current is not None else 0) != expected_version:
                return False
            self._sheets[name] = sheet.model_copy()
            return True


def sheet_store_for(bank: Any) -> SheetStore:
    """The bank's own sheet store when it has a SQLite file, else an in-process one."""
    from thinktank.memory.sqlite import SQLiteMemoryBank

    if isinstance(bank, SQLiteMemoryBank):
        return SQLiteSheetStore(bank)
    return InMemorySheetStore()
