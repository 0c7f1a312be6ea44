"""GraphSpec: a collaboration topology as data.

A spec is a set of agent nodes, edges saying whose output each node reads, round
controls, a selection step and a budget. It round-trips through JSON and YAML, the
optimizer edits it, and :func:`thinktank.graphs.compile` turns it into a LangGraph
graph.

Execution model (see ``compiler.py``): each round runs the nodes in dependency
order; a node with ``n > 1`` runs ``n`` independent samples in parallel. Edges are
*same-round* (the target waits for the source) unless ``feedback=True``, in which
case the target reads the source's output from the previous round (this is how
debate and refinement loops are written, and why a cycle needs a round limit).
An edge with ``when="disagree"`` runs its target only when the source's answers
disagree (MAgICoRe's hard cases, ModelSwitch's escalation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from thinktank._strict import StrictModel
from thinktank.agents.roles import (
    ANSWER_ROLES,
    RoleAct,
    RoleDecl,
    role_does,
)
from thinktank.errors import ConfigError

if TYPE_CHECKING:
    from thinktank._configfile import Document

SelectMethod = Literal[
    "vote",
    "verifier",
    "mav",
    "judge",
    "fuser",
    "first_finish",
    "short_m_at_k",
    "ceo",
    "last",
    "hybrid",
    "test_vote",
]
SELECT_METHODS: tuple[str, ...] = SelectMethod.__args__  # type: ignore[attr-defined]


class SamplingSpec(StrictModel):
    """How a node's samples are drawn."""

    mode: Literal["parallel", "adaptive", "first_m"] = "parallel"
    """``parallel``: all ``n`` at once. ``adaptive``: waves until the vote settles
    (self-consistency with adaptive stopping). ``first_m``: start ``n``, keep the first ``m`` to finish."""
    wave: int = Field(default=4, ge=1)
    """Samples per wave (adaptive)."""
    confidence: float = Field(default=0.95, gt=0.5, le=1.0)
    """Adaptive: stop when the posterior probability that the leading answer is the majority reaches this."""
    min_samples: int = Field(default=2, ge=1)
    """Adaptive: never stop before this many samples."""
    rule: Literal["posterior", "predictive", "margin"] = "posterior"
    """Adaptive stopping rule (see :mod:`thinktank.graphs.stopping`): ``posterior`` (the
    leader is the true majority), ``predictive`` (the full-``n`` vote would keep the
    leader) or ``margin`` (the leader is ``margin`` votes ahead)."""
    margin: int = Field(default=3, ge=1)
    """Adaptive, rule ``margin``: votes the leader must be ahead of the runner-up."""
    m: int = Field(default=1, ge=1)
    """first_m: how many finished samples to keep."""


class NodeSpec(StrictModel):
    """One agent node (``n`` parallel samples of one role)."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    """Unique node name."""
    role: str
    """solver, verifier, critic, refiner, fuser, judge, debater, ceo, a role of the
    graph's ``roles:`` block or registered with ``register_role``, or the import path
    ``module:function`` of a function node."""
    model: str = "default"
    """Model alias from the models mapping given at compile time, or a model string."""
    instructions: str | None = None
    """System prompt; default the role's packaged prompt."""
    aspect: str | None = None
    """For verifiers: the one aspect to check (multi-agent verification)."""
    tools: list[str] = Field(default_factory=list)
    """Names of injected tools this node may call."""
    n: int = Field(default=1, ge=1, le=256)
    """Parallel samples (best-of-n, debaters, verifiers per candidate)."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_steps: int = Field(default=6, ge=1)
    """Tool-loop steps per sample."""
    memory: bool = False
    """Retrieve memory items into this node's prompt."""
    memory_k: int = Field(default=3, ge=0, le=20)
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    active: int | None = Field(default=None, ge=0)
    """How many of the ``n`` instances are active at the start (CEO recruitment changes it)."""
    first_round: int = Field(default=1, ge=1)
    """The node runs from this round on."""
    last_round: int | None = Field(default=None, ge=1)
    """The node runs up to this round (``None``: every round); e.g. drafts only in round 1."""

    @property
    def does(self) -> RoleAct | None:
        """What this node's role does for the graph (``None`` for an unknown role)."""
        return role_does(self.role)


class EdgeSpec(StrictModel):
    """``target`` reads ``source``'s outputs."""

    source: str
    target: str
    feedback: bool = False
    """Read the source's output of the previous round (allows cycles; needs ``rounds.max_rounds``)."""
    when: Literal["always", "disagree", "agree"] = "always"
    """Run the target only if the source's answers disagree / agree (vote margin below / above ``agreement``)."""
    agreement: float = Field(default=1.0, gt=0.0, le=1.0)
    """Share of the source's answers the top answer needs to count as agreement."""


class RoundSpec(StrictModel):
    """Round controls."""

    max_rounds: int = Field(default=1, ge=1, le=64)
    controller: str | None = None
    """Id of a CEO node that decides after each round (its decisions are enforced)."""
    stop_on_agreement: float | None = Field(default=None, gt=0.0, le=1.0)
    """End early when this share of the round's answers agree."""


class SelectionSpec(StrictModel):
    """How the final answer is chosen."""

    method: SelectMethod | str = "vote"
    """A method (see :data:`SelectMethod`), or the import path ``module:function`` of a
    selection function ``fn(candidates, scores)`` returning the chosen candidate (or its
    id, or ``None`` for the vote)."""
    candidates: list[str] = Field(default_factory=list)
    """Nodes whose answers are candidates (default: every answer-producing node)."""
    by: str | None = None
    """The verifier / judge / fuser node that selects (for verifier, mav, judge, fuser)."""
    m: int = Field(default=1, ge=1)
    """For short_m_at_k: vote over the first m finished candidates."""
    exec_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    """For hybrid: weight of the execution verifier versus the LLM judge."""
    answer_kind: Literal["auto", "number", "choice", "text", "code"] = "auto"
    """How answers are compared when voting."""


class BudgetSpec(StrictModel):
    """Per-task limits (None = unlimited)."""

    max_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_calls: int | None = Field(default=None, ge=1)
    max_seconds: float | None = Field(default=None, gt=0)


_UNCHECKED = "thinktank.graphs.unchecked"
"""Validation context key: skip the graph-level checks (the caller runs them itself)."""

RESERVED_IDS = frozenset({"schedule", "select", "__start__", "__end__"})


class GraphSpec(StrictModel):
    """A collaboration topology."""

    name: str = "graph"
    description: str = ""
    roles: list[RoleDecl] = Field(default_factory=list)
    """Roles this graph declares (registered when the graph is read; see
    :class:`~thinktank.agents.roles.RoleDecl`)."""
    nodes: list[NodeSpec]
    edges: list[EdgeSpec] = Field(default_factory=list)
    rounds: RoundSpec = Field(default_factory=RoundSpec)
    selection: SelectionSpec = Field(default_factory=SelectionSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form (topology name and parameters, optimizer provenance)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A graph that declares no roles dumps as graphs did before ``roles:`` existed, so
        its hashes (optimizer caches, run directories) stay what they were."""
        data = handler(self)
        if not self.roles and isinstance(data, dict):
            data.pop("roles", None)
        return data

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> GraphSpec:
        if info.context and info.context.get(_UNCHECKED):
            return self  # the loader checks, placing each problem on its field
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- validation -------------------------------------------------------------------

    def problems(self, model_aliases: set[str] | None = None) -> list[str]:
        """Every reason this spec is invalid (empty when valid)."""
        return [message for _, message in self.located_problems(model_aliases)]

    def located_problems(
        self, model_aliases: set[str] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """:meth:`problems`, each with the path of the field it is about (``("nodes", 0, "role")``).
        Declares the graph's ``roles:`` first (see :mod:`thinktank.graphs.checks`)."""
        from thinktank.graphs.checks import located_problems

        return located_problems(self, model_aliases)

    def validate_models(self, aliases: set[str]) -> None:
        problems = self.problems(aliases)
        if problems:
            raise ConfigError(f"invalid graph {self.name!r}: " + "; ".join(problems))

    # --- queries ------------------------------------------------------------------------

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ConfigError(
            f"no node {node_id!r} in graph {self.name!r}; nodes: {[n.id for n in self.nodes]}"
        )

    def candidate_nodes(self) -> list[str]:
        if self.selection.candidates:
            return list(self.selection.candidates)
        return [n.id for n in self.nodes if n.role in ANSWER_ROLES]

    def inputs_of(self, node_id: str) -> list[EdgeSpec]:
        return [e for e in self.edges if e.target == node_id]

    def order(self) -> list[str]:
        """Node ids in a same-round topological order (stable)."""
        indeg = {n.id: 0 for n in self.nodes}
        for e in self.edges:
            if not e.feedback:
                indeg[e.target] += 1
        ready = [n.id for n in self.nodes if indeg[n.id] == 0]
        out: list[str] = []
        while ready:
            u = ready.pop(0)
            out.append(u)
            for e in self.edges:
                if not e.feedback and e.source == u:
                    indeg[e.target] -= 1
                    if indeg[e.target] == 0:
                        ready.append(e.target)
        return out

    # --- serialisation --------------------------------------------------------------------

    def to_yaml(self) -> str:
        import yaml  # only specs read or written as YAML pay for it

        return yaml.safe_dump(self.model_dump(mode="json", exclude_defaults=True), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> GraphSpec:
        from thinktank._configfile import parse

        return cls._from_document(parse(text, what="graph spec"))

    @classmethod
    def parse_data(cls, data: Any) -> GraphSpec:
        from thinktank._configfile import Document

        return cls._from_document(Document(data))

    @classmethod
    def load(cls, path: str | Path) -> GraphSpec:
        """Read a YAML or JSON spec; every error names the file, line and field."""
        from thinktank._configfile import read

        return cls._from_document(read(path, "graph spec"))

    @classmethod
    def _from_document(cls, doc: Document) -> GraphSpec:
        try:
            spec = cls.model_validate(doc.data, context={_UNCHECKED: True})
        except ValidationError as exc:
            raise ConfigError(doc.explain(exc, "graph spec")) from exc
        problems = spec.located_problems()
        if problems:
            raise ConfigError(doc.report(problems, "graph spec"))
        return spec

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.write_text(
            self.model_dump_json(indent=2, exclude_defaults=True)
            if p.suffix == ".json"
            else self.to_yaml()
        )
