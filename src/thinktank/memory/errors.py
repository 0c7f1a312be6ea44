"""Errors of the memory bank, placed in the hierarchy of :mod:`thinktank.errors`.

Who must act decides the base class: an item over the size cap, a file that is
not a memory bank, a bank written by a newer thinktank or an unknown item id are
the caller's to fix (:class:`~thinktank.errors.UsageError`); a damaged database
file or a lock that never frees is infrastructure.
"""

from __future__ import annotations

from thinktank.errors import InfrastructureError, UsageError


class MemoryItemTooLarge(UsageError, ValueError):
    """An item exceeds a size cap and was refused; the message names the field and cap."""

    def __init__(self, message: str, *, item_id: str = "", field: str = "") -> None:
        super().__init__(message)
        self.item_id = item_id
        self.field = field


class ItemNotFound(UsageError, LookupError):
    """No item has the requested id (or the id prefix is ambiguous)."""


class MemoryBankNotFound(UsageError, FileNotFoundError):
    """The database file does not exist and the bank was opened with ``create=False``."""


class ForeignDatabase(UsageError):
    """The file is a SQLite database of some other application; it was left untouched."""


class SchemaTooNew(UsageError):
    """The bank was written by a newer thinktank (higher schema version); upgrade thinktank."""


class MemoryImportError(UsageError, ValueError):
    """A JSONL import file holds a line that is not a valid memory item."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class MemoryStoreError(InfrastructureError):
    """The memory database failed (disk, I/O, locking)."""


class CorruptMemoryDatabase(MemoryStoreError):
    """The file is not a readable SQLite database (damaged or not a database); nothing was written."""


class MemoryBusy(MemoryStoreError):
    """The database stayed locked by other writers longer than the busy timeout."""


class EmbeddingError(InfrastructureError):
    """An embeddings endpoint failed or returned vectors of the wrong shape."""


__all__ = [
    "CorruptMemoryDatabase",
    "EmbeddingError",
    "ForeignDatabase",
    "ItemNotFound",
    "MemoryBankNotFound",
    "MemoryBusy",
    "MemoryImportError",
    "MemoryItemTooLarge",
    "MemoryStoreError",
    "SchemaTooNew",
]
