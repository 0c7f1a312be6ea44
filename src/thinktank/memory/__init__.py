"""The memory store: lessons from earlier tasks, kept for later ones.

``MemoryBank`` is the contract (add, retrieve, scan, record use, consolidate),
``SQLiteMemoryBank`` the embedded default (one SQLite file, BM25 via FTS5,
optional dense vectors and hybrid ranking); Dynamic-Cheatsheet sheets are kept in
the same file (:class:`SQLiteSheetStore`). Graphs read a bank through
``retrieve``; what writes items into it — judging runs, extracting lessons,
curating sheets — is :mod:`thinktank.learning`, a layer above the evals.

The everyday names are exported here; errors are in :mod:`thinktank.memory.errors`,
the rest in the modules listed in README.md.
"""

from __future__ import annotations

from thinktank.memory.base import MemoryBank
from thinktank.memory.config import (
    ConsolidationPolicy,
    RankingPolicy,
    SQLiteMemoryConfig,
    default_memory_path,
)
from thinktank.memory.embeddings import Embedder, HashingEmbedder, OpenAIEmbedder
from thinktank.memory.sheets import Cheatsheet, SheetStore, SQLiteSheetStore
from thinktank.memory.sqlite import SQLiteMemoryBank
from thinktank.memory.types import (
    KINDS,
    ItemLimits,
    Kind,
    MemoryFilter,
    MemoryItem,
    Outcome,
    Provenance,
    UsageStats,
)

__all__ = [
    "KINDS",
    "Cheatsheet",
    "ConsolidationPolicy",
    "Embedder",
    "HashingEmbedder",
    "ItemLimits",
    "Kind",
    "MemoryBank",
    "MemoryFilter",
    "MemoryItem",
    "OpenAIEmbedder",
    "Outcome",
    "Provenance",
    "RankingPolicy",
    "SQLiteMemoryBank",
    "SQLiteMemoryConfig",
    "SQLiteSheetStore",
    "SheetStore",
    "UsageStats",
    "default_memory_path",
]
