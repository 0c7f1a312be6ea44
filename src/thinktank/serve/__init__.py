"""Serve collaboration graphs as OpenAI models: ``thinktank serve``.

Each served graph is a model name; ``POST /v1/chat/completions`` runs it on the
conversation and replies with its answer and the tokens the whole run spent. Names are
imported on first use (Starlette and the compiler load only when a server is built).

    from thinktank.serve import GraphRegistry, ServeServer

    registry = GraphRegistry.build(["best_of_n:n=8"], models="openai:gpt-4o-mini")
    with ServeServer(registry) as server:
        ...  # point any OpenAI client at server.base_url, model "best_of_n:n=8"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinktank._lazy import lazy_names

if TYPE_CHECKING:
    from thinktank.serve.app import create_app
    from thinktank.serve.config import ServeConfig
    from thinktank.serve.registry import GraphRegistry, ServedGraph
    from thinktank.serve.server import ServeServer, serve_forever
    from thinktank.serve.store import MemoryTraceStore, StoredRun, TraceStore
    from thinktank.serve.wire import ServeError

_LAZY: dict[str, str] = {
    "create_app": "thinktank.serve.app",
    "ServeConfig": "thinktank.serve.config",
    "GraphRegistry": "thinktank.serve.registry",
    "ServedGraph": "thinktank.serve.registry",
    "ServeServer": "thinktank.serve.server",
    "serve_forever": "thinktank.serve.server",
    "MemoryTraceStore": "thinktank.serve.store",
    "StoredRun": "thinktank.serve.store",
    "TraceStore": "thinktank.serve.store",
    "ServeError": "thinktank.serve.wire",
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())

__all__ = [
    "GraphRegistry",
    "MemoryTraceStore",
    "ServeConfig",
    "ServeError",
    "ServeServer",
    "ServedGraph",
    "StoredRun",
    "TraceStore",
    "create_app",
    "serve_forever",
]
