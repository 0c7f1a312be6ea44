"""The graphs a server offers, each under a model name.

A graph comes from a ``--graph`` value as ``thinktank eval`` reads it: a topology
string (``best_of_n:n=8``), a YAML/JSON spec file, ``NAME=…`` to name it; a sweep
(``best_of_n:n=1,4,16``) serves every member (``best_of_n[n=4]`` …). Without a name, a
topology string is served under itself and a spec file under its spec's name. Every
graph is compiled once, at start-up, with the models given (shared by all graphs:
one connection pool per endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from thinktank.errors import ConfigError
from thinktank.graphs.compiler import CompiledGraph, compile
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.base import ChatModel
from thinktank.llm.config import load_model
from thinktank.serve.wire import ServeError


@dataclass(frozen=True)
class ServedGraph:
    """One graph on offer."""

    name: str
    """The model name clients send."""
    spec: GraphSpec
    graph: CompiledGraph
    source: str
    """What it was built from (a ``--graph`` value or ``spec``)."""


class GraphRegistry:
    """Model name → compiled graph; owns the models it loaded (closed by :meth:`aclose`)."""

    def __init__(self, graphs: Iterable[ServedGraph], owned: Iterable[ChatModel] = ()) -> None:
        self.graphs: dict[str, ServedGraph] = {}
        for g in graphs:
            if g.name in self.graphs:
                raise ConfigError(
                    f"two graphs are served as {g.name!r} (from {self.graphs[g.name].source!r} "
                    f"and {g.source!r}); name one: --graph NAME=GRAPH"
                )
            self.graphs[g.name] = g
        if not self.graphs:
            raise ConfigError("no graph to serve: pass --graph GRAPH (e.g. --graph best_of_n:n=8)")
        self._owned = list(owned)

    @classmethod
    def build(
        cls,
        graphs: Iterable[str | GraphSpec] | Mapping[str, str | GraphSpec],
        models: Mapping[str, ChatModel | str] | ChatModel | str | None = None,
    ) -> GraphRegistry:
        """Compile ``graphs`` (``--graph`` values, specs, or a mapping name → either)
        with ``models`` (as :func:`thinktank.graphs.compile` takes them; strings are
        loaded here, once, and closed with the registry)."""
        from thinktank.evals.runs.sweep import expand_graph

        loaded, owned = _load(models)
        items = list(graphs.items()) if isinstance(graphs, Mapping) else [(None, g) for g in graphs]
        served: list[ServedGraph] = []
        for name, g in items:
            if isinstance(g, GraphSpec):
                label = name or g.name
                served.append(ServedGraph(label, g, compile(g, models=loaded), "spec"))
                continue
            arg = f"{name}={g}" if name else g
            for e in expand_graph(arg):
                served.append(ServedGraph(e.label, e.spec, compile(e.spec, models=loaded), arg))
        return cls(served, owned)

    def get(self, name: str) -> ServedGraph:
        """The graph served as ``name``; an unknown name is a 404 ``model_not_found``."""
        try:
            return self.graphs[name]
        except KeyError:
            raise ServeError(
                404,
                f"the model {name!r} does not exist: this server serves the graphs "
                f"{', '.join(self.graphs)} (GET /v1/models lists them)",
                code="model_not_found",
                param="model",
            ) from None

    def names(self) -> list[str]:
        return list(self.graphs)

    async def aclose(self) -> None:
        """Close the models this registry loaded (not the ones passed in as objects)."""
        for m in self._owned:
            await m.aclose()
        self._owned = []


def _load(
    models: Mapping[str, ChatModel | str] | ChatModel | str | None,
) -> tuple[dict[str, ChatModel] | ChatModel, list[ChatModel]]:
    if isinstance(models, ChatModel):
        return models, []
    if models is None or isinstance(models, str):
        m = load_model(models)
        return m, [m]
    out: dict[str, ChatModel] = {}
    owned: list[ChatModel] = []
    for alias, v in models.items():
        out[alias] = v if isinstance(v, ChatModel) else load_model(v)
        if not isinstance(v, ChatModel):
            owned.append(out[alias])
    return out, owned
