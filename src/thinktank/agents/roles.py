"""Roles as data, in one registry: built-in and your own roles are registrations alike.

A role (:class:`RoleSpec`) is a name, how it is played — a model with instructions
and a typed output (see :mod:`thinktank.agents.outputs`), or a Python function
(a *function role*, run by the graph's function nodes) — and what it does for the
graph (:data:`RoleAct`) and reads. The scheduler, compiler, selection, diagram and
optimizer read those declarations, never role names.

* :func:`register_role` adds a role from Python; a graph's ``roles:`` block declares
  them in YAML (:class:`RoleDecl`, registered by :func:`declare_role` when the graph
  is read); the built-in roles below are registered the same way.
* A role name that is an import path (``module:function``) names a function role:
  the function is imported and registered the first time the name is looked up.
* The same declaration again changes nothing; a different one is refused unless
  ``replace=True`` (built-in roles are never replaced).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from thinktank._strict import StrictModel
from thinktank.agents.callables import NODE_ATTRIBUTE, check_params, is_path, path_of, resolve
from thinktank.agents.outputs import DEFAULT_OUTPUT, FREE_FORM, RoleOutput
from thinktank.agents.outputs import (  # re-exported: a role and its output type go together
    AnswerOutput as AnswerOutput,
)
from thinktank.agents.outputs import ContextOutput as ContextOutput
from thinktank.agents.outputs import Critique as Critique
from thinktank.agents.outputs import Decision as Decision
from thinktank.agents.outputs import Selection as Selection
from thinktank.agents.outputs import Verification as Verification
from thinktank.agents.schema import check_output_fields, role_output_type
from thinktank.errors import ConfigError

RoleAct = Literal["answer", "refine", "score", "critique", "select", "fuse", "decide", "context"]
"""What a role does for its graph. ``answer``: writes a candidate answer to the task;
``refine``: rewrites one candidate (an answer too); ``score``: judges each candidate it
reads, one run per candidate (a function node scores them all in one call);
``critique``: comments on the answers it reads; ``select``: picks one of the answers
it reads; ``fuse``: writes one answer from all it reads; ``decide``: coordinates
rounds (stop, continue, recruit); ``context``: writes something the nodes it feeds
read (a plan, retrieved facts) — no answer, no judgement."""

RoleReads = Literal["task", "answers"]
ACTS, READS = get_args(RoleAct), get_args(RoleReads)

READS_ANSWERS: frozenset[str] = frozenset({"score", "critique", "select", "fuse"})
"""What roles do that works on other nodes' answers (their default ``reads``)."""

FUNCTION_PARAMS = ("task", "inputs", "ctx")
"""What a function role is called with."""


class RoleDecl(StrictModel):
    """A role as it is written in a graph's (or a search space's) ``roles:`` block."""

    name: str = Field(pattern=r"^[A-Za-z_][\w.:<>#-]{0,199}$")
    """The name nodes use as their ``role``."""
    instructions: str | None = None
    """The system prompt of a model role (``None``: the packaged ``prompts/<name>.md``)."""
    output: dict[str, Any] | str | None = None
    """The output type: a JSON schema of an object, or the import path of a pydantic
    model (``module:Model``); ``None``: the default of what the role does."""
    does: RoleAct = "answer"
    reads: RoleReads | None = None
    """``answers`` (it works on other nodes' answers) or ``task``; default by ``does``."""
    uses_tools: bool = False
    """Whether nodes of this role get the graph's tools by default."""
    function: str | None = None
    """Import path of the async function that computes this role (a function role):
    ``async def fn(task, inputs, ctx)``."""


class RoleSpec(BaseModel):
    """A registered role: the scheduler, compiler, selection, diagram and optimizer read
    these declarations, not names."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    output: type[RoleOutput]
    uses_tools: bool = False
    """Whether the role gets the graph's tools by default."""
    reads: RoleReads = "task"
    """What the role works on. ``task``: the task itself (plus whatever edges bring).
    ``answers``: other nodes' answers (it verifies, critiques, judges or fuses them),
    so it never runs unless an edge brings it answers; graphs are checked for that."""
    does: RoleAct = "answer"
    """What it does for the graph (see :data:`RoleAct`)."""
    instructions: str | None = None
    """Its system prompt; ``None``: the packaged ``prompts/<name>.md``."""
    function: str | None = None
    """Import path of the function computing it (a function role), else ``None``."""
    declared_output: dict[str, Any] | str | None = None
    """The output as declared (schema, import path, or ``None`` for the default)."""

    @property
    def answers(self) -> bool:
        """Its outputs are candidate answers (answer, refine, fuse)."""
        return self.does in ("answer", "refine", "fuse")

    @property
    def targets_one(self) -> bool:
        """Each run works on one candidate (``score`` judges it, ``refine`` rewrites it)."""
        return self.does in ("score", "refine")

    def prompt(self, override_dir: str | Path | None = None) -> str:
        """The system prompt: ``override_dir/<name>.md`` when present, else the
        instructions (with the reply format, unless any reply parses into the output
        type), else the packaged prompt."""
        if override_dir is not None:
            p = Path(override_dir) / f"{self.name}.md"
            if p.exists():
                return p.read_text(encoding="utf-8").strip()
        if self.instructions is None:
            return _packaged_prompt(self.name)
        if self.output in FREE_FORM:
            return self.instructions
        from thinktank.agents.schema import output_instructions

        return f"{self.instructions.rstrip()}\n\n{output_instructions(self.output)}"

    def declaration(self) -> RoleDecl:
        """This role as a ``roles:`` entry (what graphs carry so other processes know it)."""
        return RoleDecl(
            name=self.name,
            instructions=self.instructions,
            output=self.declared_output,
            does=self.does,
            reads=self.reads,
            uses_tools=self.uses_tools,
            function=self.function,
        )


ROLES: dict[str, RoleSpec] = {}
"""The registry: role name (aliases included) → :class:`RoleSpec`."""

_FAILED: dict[str, str] = {}
"""Function-role paths that could not be loaded, with why (not retried every lookup)."""


def register_role(
    name: str,
    *,
    instructions: str | None = None,
    output: type[BaseModel] | Mapping[str, Any] | str | None = None,
    does: RoleAct = "answer",
    reads: RoleReads | None = None,
    uses_tools: bool = False,
    function: Callable[..., Any] | str | None = None,
    replace: bool = False,
) -> RoleSpec:
    """Register a role and return it.

    Args:
        name: what nodes write as their ``role``.
        instructions: the system prompt of a model role (required unless the package
            ships ``prompts/<name>.md``); a reply-format paragraph is added when
            ``output`` is your own type.
        output: a pydantic model class, a JSON schema of an object or an import path
            ``module:Model``; default by ``does`` (e.g. an ``answer`` for ``answer``).
            An ``answer``/``refine``/``fuse`` role's type needs an ``answer`` field, a
            ``score`` role's a ``score`` (0–1) or ``verdict`` field, a ``select`` role's
            ``best``, a ``decide`` role's ``action``.
        does: what it does for the graph (:data:`RoleAct`).
        reads: ``answers`` or ``task``; default ``answers`` for roles that score,
            critique, select or fuse.
        uses_tools: nodes of this role get the graph's tools by default.
        function: an async function ``fn(task, inputs, ctx)`` (or its import path)
            computing the role instead of a model: a function role.
        replace: redefine a role registered before under ``name`` (not a built-in one).
    """
    if not isinstance(name, str) or not re.match(r"^[A-Za-z_][\w.:<>#-]{0,199}$", name):
        raise ConfigError(f"role name {name!r}: letters, digits and _ . : < > # - only")
    for key, value, valid in (("does", does, ACTS), ("reads", reads or "task", READS)):
        if value not in valid:
            raise ConfigError(f"role {name!r}: {key}={value!r}; valid: {', '.join(valid)}")
    path = None
    if function is not None:
        path = function if isinstance(function, str) else path_of(function)
        fn = resolve(path, what=f"role {name!r}: function")
        check_params(fn, FUNCTION_PARAMS, what=f"function node {path!r}")
        if instructions is not None:
            raise ConfigError(
                f"role {name!r} is computed by the function {path!r}: it takes no instructions"
            )
    elif instructions is None and not _has_packaged_prompt(name):
        raise ConfigError(
            f"role {name!r} needs instructions (its system prompt), or a function that computes it"
        )
    model, declared = role_output_type(output, name)
    model = model or DEFAULT_OUTPUT[does]
    check_output_fields(name, does, model)
    spec = RoleSpec(
        name=name,
        output=model,
        uses_tools=uses_tools,
        reads=reads or ("answers" if does in READS_ANSWERS else "task"),
        does=does,
        instructions=instructions,
        function=path,
        declared_output=declared,
    )
    old = ROLES.get(name)
    if old is not None and old.declaration() == spec.declaration():
        return old
    if old is not None:
        if name in BUILT_IN:
            raise ConfigError(f"role {name!r} is built in; register yours under another name")
        if not replace:
            how = f"function {old.function}" if old.function else "a model role"
            raise ConfigError(
                f"role {name!r} is already registered ({how}, does {old.does}), differently; "
                "choose another name, or pass replace=True to redefine it"
            )
    ROLES[name] = spec
    _FAILED.pop(name, None)
    return spec


def declare_role(decl: RoleDecl) -> RoleSpec:
    """Register a ``roles:`` entry (the same declaration again changes nothing)."""
    return register_role(
        decl.name,
        instructions=decl.instructions,
        output=decl.output,
        does=decl.does,
        reads=decl.reads,
        uses_tools=decl.uses_tools,
        function=decl.function,
    )


def alias_role(alias: str, name: str) -> None:
    """Let ``alias`` name the registered role ``name``."""
    ROLES[alias] = ROLES[name]


@contextmanager
def temporary_roles() -> Iterator[dict[str, RoleSpec]]:
    """Roles registered inside the block are forgotten after it (for tests)."""
    saved, failed = dict(ROLES), dict(_FAILED)
    try:
        yield ROLES
    finally:
        ROLES.clear()
        ROLES.update(saved)
        _FAILED.clear()
        _FAILED.update(failed)


def function_declaration(path: str) -> RoleDecl:
    """What naming the function at ``path`` as a role declares: what it does comes from
    its ``@node`` declaration (default ``answer``)."""
    fn = resolve(path, what=f"function node {path!r}")
    meta = getattr(fn, NODE_ATTRIBUTE, None) or {}
    does = meta.get("does", "answer")
    reads = meta.get("reads") or ("answers" if does in READS_ANSWERS else "task")
    return RoleDecl.model_validate({"name": path, "function": path, "does": does, "reads": reads})


def _function_role(path: str) -> RoleSpec:
    """The function role named by its import path, registered on first use."""
    return declare_role(function_declaration(path))


def find_role(name: str) -> RoleSpec | None:
    """The role ``name`` (a function path is loaded and registered), else ``None``."""
    spec = ROLES.get(name)
    if spec is not None or name in _FAILED or not is_path(name):
        return spec
    try:
        return _function_role(name)
    except ConfigError as exc:
        _FAILED[name] = str(exc)
        return None


def lookup_role(name: str) -> RoleSpec:
    """The role ``name``; unknown names list the valid ones, a function path that cannot be
    loaded says why."""
    spec = find_role(name)
    if spec is not None:
        return spec
    if name in _FAILED:
        raise ConfigError(_FAILED[name])
    raise ConfigError(
        f"unknown role {name!r}; valid roles: {', '.join(sorted(ROLES))} (add your own with "
        "register_role(...) or a roles: entry in the graph, or name a function node by "
        "its import path 'module:function')"
    )


def is_function(name: str) -> bool:
    """The role ``name`` is computed by a function (a function node's role)."""
    spec = find_role(name)
    return spec is not None and spec.function is not None


def role_does(name: str) -> RoleAct | None:
    """What the role ``name`` does (``None`` for a name that is no role)."""
    spec = find_role(name)
    return spec.does if spec is not None else None


def roles_doing(*acts: RoleAct) -> frozenset[str]:
    """Names (aliases included) of the roles registered now that do any of ``acts``."""
    return frozenset(n for n, r in ROLES.items() if r.does in acts)


class RolesDoing(AbstractSet[str]):
    """The names of the roles doing some acts, as the registry stands when asked."""

    def __init__(self, *acts: RoleAct) -> None:
        self.acts = frozenset(acts)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        spec = ROLES.get(name)
        if spec is None:
            spec = find_role(name)
        return spec is not None and spec.does in self.acts

    def __iter__(self) -> Iterator[str]:
        return iter([n for n, r in ROLES.items() if r.does in self.acts])

    def __len__(self) -> int:
        return sum(1 for r in ROLES.values() if r.does in self.acts)

    @classmethod
    def _from_iterable(cls, it: Any) -> frozenset[Any]:
        return frozenset(it)

    def __repr__(self) -> str:
        return f"RolesDoing({', '.join(sorted(self.acts))}: {sorted(self)})"


ANSWER_ROLES = RolesDoing("answer", "refine", "fuse")
"""Roles whose outputs are candidate answers (aliases and your own roles included)."""

SELECTION_NEEDS: dict[str, RoleAct] = {
    "verifier": "score",
    "mav": "score",
    "judge": "select",
    "fuser": "fuse",
}
"""Selection method → what the node it selects with does (by default, the first such node)."""


def _has_packaged_prompt(name: str) -> bool:
    return resources.files("thinktank.agents").joinpath(f"prompts/{name}.md").is_file()


@cache
def _packaged_prompt(name: str) -> str:
    return (
        resources.files("thinktank.agents")
        .joinpath(f"prompts/{name}.md")
        .read_text(encoding="utf-8")
        .strip()
    )


def load_prompt(name: str, override_dir: str | Path | None = None) -> str:
    """A role's system prompt: ``override_dir/<name>.md`` when present, else its own."""
    if override_dir is not None and (Path(override_dir) / f"{name}.md").exists():
        return (Path(override_dir) / f"{name}.md").read_text(encoding="utf-8").strip()
    return lookup_role(name).prompt(override_dir)


# --- the built-in roles: registrations like any other --------------------------------

register_role("solver", uses_tools=True)
register_role("verifier", output=Verification, uses_tools=True, reads="answers", does="score")
register_role("critic", output=Critique, does="critique")
register_role("refiner", uses_tools=True, does="refine")
register_role("fuser", does="fuse")
register_role("judge", does="select")
register_role("debater", uses_tools=True)
register_role("ceo", does="decide")
alias_role("aggregator", "fuser")
alias_role("selector", "judge")

BUILT_IN: frozenset[str] = frozenset(ROLES)
"""The roles thinktank registers itself (graphs need not declare them)."""
