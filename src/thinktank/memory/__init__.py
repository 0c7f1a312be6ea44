"""Reasoning memory: lessons from earlier tasks, retrieved for later ones.

``MemoryBank`` is the contract, ``SQLiteMemoryBank`` the embedded default store
(one SQLite file, BM25 via FTS5, optional dense vectors and hybrid ranking), and
:mod:`thinktank.memory.learn` / :mod:`thinktank.memory.cheatsheet` distil items from
judged trajectories (ReasoningBank, MaTTS, Dynamic Cheatsheet) with any ChatModel.
:class:`MemoryLearner` wires them into graph runs and the eval runner: it reads
memory into agents before a task and learns from the judged run after it.
"""

from __future__ import annotations

from thinktank.memory.attempt import Attempt, AttemptStep, Judgement
from thinktank.memory.base import (
    KINDS,
    ConsolidationReport,
    ItemLimits,
    Kind,
    MemoryBank,
    MemoryFilter,
    MemoryItem,
    MergedOrigin,
    Outcome,
    Provenance,
    UsageStats,
    render_items,
)
from thinktank.memory.cheatsheet import (
    Cheatsheet,
    CheatsheetResult,
    curate,
    synthesize,
    synthesize_from_bank,
)
from thinktank.memory.config import (
    ConsolidationPolicy,
    EmbeddingConfig,
    HashingEmbeddingConfig,
    MemoryConfig,
    OpenAIEmbeddingConfig,
    RankingPolicy,
    SQLiteMemoryConfig,
    default_memory_path,
    parse_embedding_config,
    parse_memory_config,
)
from thinktank.memory.embeddings import Embedder, HashingEmbedder, OpenAIEmbedder
from thinktank.memory.errors import (
    CorruptMemoryDatabase,
    EmbeddingError,
    ForeignDatabase,
    ItemNotFound,
    MemoryBankNotFound,
    MemoryBusy,
    MemoryImportError,
    MemoryItemTooLarge,
    MemoryStoreError,
    SchemaTooNew,
)
from thinktank.memory.learn import (
    LearnResult,
    VerbatimGuard,
    extract_contrastive,
    extract_items,
    extract_sequential,
    learn,
    self_judge,
)
from thinktank.memory.runner_hook import (
    LEARN_MODES,
    LearnerConfig,
    LearnMode,
    MemoryLearner,
    TaskLearning,
)
from thinktank.memory.sheets import InMemorySheetStore, SheetStore, SQLiteSheetStore
from thinktank.memory.sqlite import SQLiteMemoryBank
from thinktank.memory.views import CumulativeSheetView, SynthesisView

__all__ = [
    "KINDS",
    "LEARN_MODES",
    "Attempt",
    "AttemptStep",
    "Cheatsheet",
    "CheatsheetResult",
    "ConsolidationPolicy",
    "ConsolidationReport",
    "CorruptMemoryDatabase",
    "CumulativeSheetView",
    "Embedder",
    "EmbeddingConfig",
    "EmbeddingError",
    "ForeignDatabase",
    "HashingEmbedder",
    "HashingEmbeddingConfig",
    "InMemorySheetStore",
    "ItemLimits",
    "ItemNotFound",
    "Judgement",
    "Kind",
    "LearnMode",
    "LearnResult",
    "LearnerConfig",
    "MemoryBank",
    "MemoryBankNotFound",
    "MemoryBusy",
    "MemoryConfig",
    "MemoryFilter",
    "MemoryImportError",
    "MemoryItem",
    "MemoryItemTooLarge",
    "MemoryLearner",
    "MemoryStoreError",
    "MergedOrigin",
    "OpenAIEmbedder",
    "OpenAIEmbeddingConfig",
    "Outcome",
    "Provenance",
    "RankingPolicy",
    "SQLiteMemoryBank",
    "SQLiteMemoryConfig",
    "SQLiteSheetStore",
    "SchemaTooNew",
    "SheetStore",
    "SynthesisView",
    "TaskLearning",
    "UsageStats",
    "VerbatimGuard",
    "curate",
    "default_memory_path",
    "extract_contrastive",
    "extract_items",
    "extract_sequential",
    "learn",
    "parse_embedding_config",
    "parse_memory_config",
    "render_items",
    "self_judge",
    "synthesize",
    "synthesize_from_bank",
]
