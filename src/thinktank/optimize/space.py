"""The search space: which GraphSpecs the optimizer may propose, as data (YAML).

A :class:`SearchSpace` is a graph *template*: candidate nodes (each with the
settings searched over: presence, sample count, model from the pool, temperature,
memory, copies), candidate edges (searched on/off, or always on), the selection
methods and round counts to choose from, and constraints every proposal must meet::

    name: verified-sampling
    nodes:
      - {id: solver, role: solver, n: [1, 4, 8, 16], model: [small, large]}
      - {id: verifier, role: verifier, present: [false, true]}
      - {id: critic, role: critic, present: [false, true]}
    edges:
      - {source: solver, target: verifier, optional: false}
      - {source: solver, target: critic}
      - {source: critic, target: solver, feedback: true}
    selection: [vote, verifier]
    rounds: [1, 2]
    constraints: {max_calls_per_task: 40, max_cost_per_task: 0.01}

A node's ``role`` may be a list: the role is then a dimension too, its options any
registered role, a role of the space's ``roles:`` block (declared as in a graph, and
copied into every proposal) or a function node's ``module:function``; ``selection``
may offer selection functions (``module:function``) beside the methods::

    roles:
      - {name: careful, instructions: "You are a careful solver. ...", does: answer}
    nodes:
      - {id: solver, role: [solver, careful], n: [4]}
      - {id: check, role: [verifier, "mypackage.checks:exact"], present: [false, true]}

Every choice is one *dimension* (a categorical; an optional edge is a Bernoulli);
:mod:`thinktank.optimize.decode` turns an assignment of the dimensions into a
valid :class:`~thinktank.graphs.spec.GraphSpec` or a rejection with its reason.
Follows the search spaces of Archon (layers of generators, verifiers, fusers,
rankers) and GPTSwarm (candidate edges with on/off probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError

from thinktank._strict import StrictModel
from thinktank.agents.roles import (
    SELECTION_NEEDS,
    RoleAct,
    RoleDecl,
    declare_role,
    lookup_role,
    role_does,
)
from thinktank.errors import ConfigError
from thinktank.graphs.checks import selection_function_problems
from thinktank.graphs.spec import ANSWER_ROLES, SELECT_METHODS, SelectMethod

if TYPE_CHECKING:
    from thinktank._configfile import Document

NEEDS_ACT: dict[str, RoleAct] = {**SELECTION_NEEDS, "ceo": "decide"}
"""Selection methods that need a node doing something (that node is switched on)."""

ACT_EXAMPLE: dict[RoleAct, str] = {
    "score": "verifier",
    "select": "judge",
    "fuse": "fuser",
    "decide": "ceo",
    "critique": "critic",
    "refine": "refiner",
    "answer": "solver",
}
"""A built-in role doing each act (for messages)."""

READERS: frozenset[RoleAct] = frozenset({"score", "critique", "select", "fuse", "refine"})
"""What roles do that only makes sense reading another node's output."""

SELECTORS: frozenset[RoleAct] = frozenset({"score", "select", "fuse"})
"""What roles do that runs in the final round only by default (round count fixed)."""


_NONE: float | None = None


class SpaceError(ConfigError):
    """The search space is empty or contradictory; the message lists every reason."""


class NodeChoice(StrictModel):
    """A node the optimizer may put in the graph, with the settings it searches over.

    Every list is the set of options of one dimension; a one-element list is fixed.
    """

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,55}$")
    """Node id in the proposed graphs (copies get ``id2``, ``id3``, …)."""
    role: str | list[str]
    """solver, verifier, critic, refiner, fuser, judge, debater, ceo, your own role or a
    function node's ``module:function``; a list makes the role a dimension."""
    present: list[bool] = Field(default_factory=lambda: [True])
    """``[true]``: always in the graph; ``[false, true]``: searched (roles a selection
    method needs are switched on by that method)."""
    n: list[int] = Field(default_factory=lambda: [1])
    """Parallel samples to choose from (1–256): best-of-n size, debaters, verifier samples."""
    model: list[str] | None = None
    """Model aliases from the model pool to choose from; ``None``: every alias in the pool."""
    temperature: list[float | None] = Field(default_factory=lambda: [_NONE])
    """Sampling temperatures to choose from (``null``: the model's default)."""
    memory: list[bool] = Field(default_factory=lambda: [False])
    """Memory retrieval on/off choices (needs a memory bank at evaluation time)."""
    copies: list[int] = Field(default_factory=lambda: [1])
    """How many copies of the node (e.g. aspect verifiers for multi-agent verification)."""
    aspects: list[str] = Field(default_factory=list)
    """Aspect of each copy (copy i checks ``aspects[i]``); for verifiers."""
    rounds: Literal["all", "last", "first"] | None = None
    """Rounds the node runs in; default ``last`` for verifier/judge/fuser when the round
    count is fixed (no coordinator, no early stop), ``all`` otherwise."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Fixed :class:`~thinktank.graphs.spec.NodeSpec` fields (``max_tokens``,
    ``max_steps``, ``instructions``, ``tools``, ``sampling``, …)."""

    @property
    def roles(self) -> list[str]:
        """The role options."""
        return [self.role] if isinstance(self.role, str) else list(self.role)

    def can(self, act: RoleAct | None) -> bool:
        """One of its role options does ``act``."""
        return any(role_does(r) == act for r in self.roles)

    def option_lists(self) -> dict[str, list[Any]]:
        """The node's dimensions (suffix → options), ``present`` first."""
        return {
            "present": list(self.present),
            "role": self.roles,
            "n": list(self.n),
            "model": list(self.model or []),
            "temperature": list(self.temperature),
            "memory": list(self.memory),
            "copies": list(self.copies),
        }


class EdgeChoice(StrictModel):
    """A candidate edge: ``target`` reads ``source`` when the edge is on."""

    source: str
    target: str
    feedback: bool = False
    """Read the source's previous-round output (a cycle across rounds)."""
    when: Literal["always", "disagree", "agree"] = "always"
    """Run the target only when the source's answers disagree / agree."""
    optional: bool = True
    """``true``: searched on/off (a Bernoulli); ``false``: on whenever both ends are present."""

    @property
    def key(self) -> str:
        """The dimension name of this edge."""
        arrow = "~>" if self.feedback else "->"
        return f"edge:{self.source}{arrow}{self.target}"


class Constraints(StrictModel):
    """Limits every proposed graph must meet (checked before it is evaluated)."""

    max_calls_per_task: int | None = Field(default=None, ge=1)
    """Model calls one task may take: graphs whose nominal call count is higher are
    rejected, and the limit is set as the graph's per-task ``budget.max_calls``."""
    max_cost_per_task: float | None = Field(default=None, gt=0)
    """Dollars one task may cost: graphs whose estimated cost is higher are rejected,
    and the limit is set as the graph's per-task ``budget.max_usd``."""
    max_nodes: int | None = Field(default=None, ge=1)
    """Largest number of nodes (copies counted) in a proposed graph."""


class SearchSpace(StrictModel):
    """A space of collaboration graphs (see the module docstring for the YAML form)."""

    name: str = "space"
    """Name of the space; proposed graphs are named after it."""
    description: str = ""
    roles: list[RoleDecl] = Field(default_factory=list)
    """Roles the space's nodes may take (declared as a graph declares them)."""
    nodes: list[NodeChoice]
    """Candidate nodes (at least one answer-producing node must be possible)."""
    edges: list[EdgeChoice] = Field(default_factory=list)
    """Candidate edges between candidate nodes."""
    selection: list[SelectMethod | str] = Field(default_factory=lambda: ["vote"])
    """Selection methods (or selection functions ``module:function``) to choose from."""
    rounds: list[int] = Field(default_factory=lambda: [1])
    """Round counts to choose from (feedback edges and debate need 2 or more)."""
    stop_on_agreement: list[float | None] = Field(default_factory=lambda: [_NONE])
    """End-early agreement thresholds to choose from (``null``: never end early)."""
    answer_kind: Literal["auto", "number", "choice", "text", "code"] = "auto"
    """How answers are compared when voting (copied into every proposal)."""
    constraints: Constraints = Field(default_factory=Constraints)
    """Limits on every proposal."""

    # --- loading ----------------------------------------------------------------------

    @classmethod
    def parse_data(cls, data: Any) -> SearchSpace:
        from thinktank._configfile import Document

        return cls._from_document(Document(data))

    @classmethod
    def from_yaml(cls, text: str) -> SearchSpace:
        from thinktank._configfile import parse

        return cls._from_document(parse(text, what="search space", error=SpaceError))

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Read a YAML or JSON space; every error names the file, line and field."""
        from thinktank._configfile import read

        return cls._from_document(read(path, "search space", error=SpaceError))

    @classmethod
    def _from_document(cls, doc: Document) -> SearchSpace:
        if not isinstance(doc.data, dict):
            where = doc.where()
            raise SpaceError(
                (f"{where}: " if where else "")
                + "a search space must be a mapping with at least 'nodes', "
                + f"not {type(doc.data).__name__}"
            )
        try:
            return cls.model_validate(doc.data)
        except ValidationError as exc:
            raise SpaceError(doc.explain(exc, "search space")) from exc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_defaults=True), sort_keys=False)

    # --- binding to a model pool --------------------------------------------------------

    def bind(self, pool: Sequence[str]) -> SearchSpace:
        """This space with every node's model options resolved against ``pool``.

        Raises :class:`SpaceError` when a node names an alias the pool lacks, or
        when the space is empty or contradictory (every reason listed).
        """
        aliases = list(dict.fromkeys(pool))
        if not aliases:
            raise SpaceError("the model pool is empty: give at least one model (alias=MODEL)")
        problems: list[str] = []
        nodes = []
        for node in self.nodes:
            models = node.model if node.model is not None else aliases
            unknown = [m for m in models if m not in aliases]
            if unknown:
                problems.append(
                    f"node {node.id!r} names unknown model(s) {unknown}; the model pool has: "
                    + ", ".join(aliases)
                )
            nodes.append(node.model_copy(update={"model": list(models)}))
        bound = self.model_copy(update={"nodes": nodes})
        problems += bound.problems()
        if problems:
            raise SpaceError(f"search space {self.name!r} cannot be used: " + "; ".join(problems))
        return bound

    # --- validation ---------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every reason the space is empty or contradictory (structure only)."""
        out: list[str] = []
        for decl in self.roles:
            try:
                declare_role(decl)
            except ConfigError as exc:
                out.append(str(exc))
        ids = [n.id for n in self.nodes]
        if not ids:
            return [*out, "the space has no nodes: add at least one solver node"]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            out.append(f"duplicate node ids: {dup}")
        for node in self.nodes:
            for role in node.roles:
                try:
                    lookup_role(role)
                except ConfigError as exc:
                    why = str(exc).removeprefix(f"unknown role {role!r}; ")
                    out.append(f"node {node.id!r} has unknown role {role!r}; {why}")
            for dim, options in node.option_lists().items():
                if not options and not (dim == "model" and node.model is None):
                    out.append(f"node {node.id!r}: {dim} has no options")
            bad_n = [v for v in node.n if not 1 <= v <= 256]
            if bad_n:
                out.append(f"node {node.id!r}: n options {bad_n} are outside 1..256")
            bad_c = [v for v in node.copies if v < 1]
            if bad_c:
                out.append(f"node {node.id!r}: copies options {bad_c} must be >= 1")
            bad_t = [t for t in node.temperature if t is not None and not 0 <= t <= 2]
            if bad_t:
                out.append(f"node {node.id!r}: temperatures {bad_t} are outside 0..2")
            if node.aspects and len(node.aspects) < max(node.copies, default=1):
                out.append(
                    f"node {node.id!r}: {len(node.aspects)} aspects for up to "
                    f"{max(node.copies)} copies; give one aspect per copy"
                )
        for key, options in (
            ("selection", self.selection),
            ("rounds", self.rounds),
            ("stop_on_agreement", self.stop_on_agreement),
        ):
            if not options:
                out.append(f"{key} has no options")
        if any(r < 1 or r > 64 for r in self.rounds):
            out.append(f"rounds options {self.rounds} must lie in 1..64")
        known = set(ids)
        seen: set[str] = set()
        for e in self.edges:
            for end in (e.source, e.target):
                if end not in known:
                    out.append(f"edge {e.source} -> {e.target}: no node {end!r} in the space")
            if e.key in seen:
                out.append(f"edge {e.source} -> {e.target} is listed twice")
            seen.add(e.key)
            if e.feedback and max(self.rounds, default=1) < 2 and not self._may_have_ceo():
                if not e.optional and self._always(e.source) and self._always(e.target):
                    out.append(
                        f"edge {e.source} -> {e.target} is a feedback edge (always on), but "
                        f"rounds offers only {self.rounds}: add a round count of 2 or more"
                    )
        acts = {role_does(r) for n in self.nodes for r in n.roles}
        for method in self.selection:
            if method not in SELECT_METHODS:
                out += [msg for _, msg in selection_function_problems(method)]
            need = NEEDS_ACT.get(method)
            if need is not None and need not in acts:
                out.append(
                    f"selection {method!r} is offered but no node has role "
                    f"{ACT_EXAMPLE[need]!r}: add one, or drop {method!r} from selection"
                )
        if not any(
            any(r in ANSWER_ROLES for r in n.roles) and True in n.present for n in self.nodes
        ):
            out.append(
                "no answer-producing node (solver, debater, refiner, fuser) can be present: "
                "every proposal would have nothing to select from"
            )
        return out

    def _always(self, node_id: str) -> bool:
        node = next((n for n in self.nodes if n.id == node_id), None)
        return node is not None and False not in node.present

    def _may_have_ceo(self) -> bool:
        return any(n.can("decide") and True in n.present for n in self.nodes)

    def node(self, node_id: str) -> NodeChoice:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise SpaceError(f"no node {node_id!r} in space {self.name!r}")
