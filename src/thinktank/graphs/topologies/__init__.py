"""The topology library: published test-time-scaling strategies as :class:`GraphSpec` makers.

One module per strategy, each a function returning a spec built with the
builder, its docstring citing the method it follows::

    from thinktank.graphs.topologies import topology, best_of_n

    spec = best_of_n(n=8, select="verifier")
    spec = topology("best_of_n:n=8,select=verifier")          # the same, from a string
    spec = topology("debate:m=3,r=3 + ceo:rounds=3 + mav:k=3")  # composed

A topology string is ``name[:key=value,...]``, optionally followed by layers
``+ layer[:key=value,...]`` from :data:`~thinktank.graphs.topologies.compose.LAYERS`.
Values are read as YAML scalars (``8``, ``0.5``, ``true``, ``null``); lists are
written ``[a,b]`` or ``a|b``.

Every topology also takes ``memory`` (true/false), ``memory_k`` (items per node)
and ``memory_roles`` (default: the answer-producing roles), applied last by
:func:`~thinktank.graphs.topologies.compose.with_memory`:
``best_of_n:n=4,memory=true,memory_k=3``. ``memory_k`` or ``memory_roles`` alone
turn memory on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinktank.errors import ConfigError
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies.best_of_n import best_of_n
from thinktank.graphs.topologies.ceo import ceo
from thinktank.graphs.topologies.compose import (
    LAYERS,
    with_budget,
    with_ceo,
    with_fuser,
    with_judge,
    with_mav,
    with_memory,
    with_verifier,
)
from thinktank.graphs.topologies.debate import debate
from thinktank.graphs.topologies.fusion import fusion
from thinktank.graphs.topologies.hybrid_verify import hybrid_verify
from thinktank.graphs.topologies.mav import mav
from thinktank.graphs.topologies.model_switch import model_switch
from thinktank.graphs.topologies.pdr import pdr
from thinktank.graphs.topologies.refine import refine
from thinktank.graphs.topologies.self_consistency import self_consistency
from thinktank.graphs.topologies.single import single
from thinktank.graphs.topologies.test_vote import test_vote

TOPOLOGIES: dict[str, Callable[..., GraphSpec]] = {
    "single": single,
    "best_of_n": best_of_n,
    "self_consistency": self_consistency,
    "mav": mav,
    "debate": debate,
    "refine": refine,
    "ceo": ceo,
    "pdr": pdr,
    "fusion": fusion,
    "hybrid_verify": hybrid_verify,
    "test_vote": test_vote,
    "model_switch": model_switch,
}
"""Every topology by name."""


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{("
        depth -= ch in "]})"
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def _value(raw: str) -> Any:
    if "|" in raw and not raw.startswith(("[", "{", "'", '"')):
        return [_value(p) for p in raw.split("|")]
    import yaml  # parameters only: a bare name such as "single" needs no parser

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def parse(text: str) -> tuple[str, dict[str, Any]]:
    """``"best_of_n:n=8,select=verifier"`` → ``("best_of_n", {"n": 8, "select": "verifier"})``."""
    name, _, rest = text.strip().partition(":")
    params: dict[str, Any] = {}
    for item in _split(rest, ","):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"bad parameter {item!r} in {text!r}: write key=value")
        params[key.strip()] = _value(raw.strip())
    return name.strip(), params


def _call(
    kind: str, name: str, fn: Callable[..., GraphSpec], *args: Any, **params: Any
) -> GraphSpec:
    sig = inspect.signature(fn)
    accepted = [p for p in list(sig.parameters)[len(args) :]]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{kind} {name!r} has no parameter(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}"
        )
    try:
        return fn(*args, **params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{kind} {name!r} with {params}: {exc}") from exc


MEMORY_PARAMS = ("memory", "memory_k", "memory_roles")
"""Parameters every topology accepts (see the module docstring)."""


def _memory_layer(spec: GraphSpec, params: dict[str, Any]) -> GraphSpec:
    on = params.get("memory", True)
    if not isinstance(on, bool):
        raise ConfigError(f"memory={on!r}: write memory=true or memory=false")
    if not on and "memory_k" not in params and "memory_roles" not in params:
        return spec
    extra = {"k": params["memory_k"]} if "memory_k" in params else {}
    return _call("memory", "memory", with_memory, spec, on=on, roles=params.get("memory_roles"), **extra)  # fmt: skip


def topology(name_or_spec: str, **overrides: Any) -> GraphSpec:
    """The spec a topology string describes; ``overrides`` replace parameters of the base.

    Unknown topology or layer names list the valid ones; unknown parameters list
    the accepted ones.
    """
    parts = _split(name_or_spec, "+")
    if not parts:
        raise ConfigError("empty topology string; valid topologies: " + ", ".join(TOPOLOGIES))
    name, params = parse(parts[0])
    if name not in TOPOLOGIES:
        raise ConfigError(f"unknown topology {name!r}; valid topologies: {', '.join(TOPOLOGIES)}")
    params = {**params, **overrides}
    memory = {k: params.pop(k) for k in MEMORY_PARAMS if k in params}
    spec = _call("topology", name, TOPOLOGIES[name], **params)
    for layer in parts[1:]:
        lname, lparams = parse(layer)
        if lname not in LAYERS:
            raise ConfigError(f"unknown layer {lname!r}; valid layers: {', '.join(LAYERS)}")
        spec = _call("layer", lname, LAYERS[lname], spec, **lparams)
    return _memory_layer(spec, memory) if memory else spec


def load_graph(value: str | Path | GraphSpec) -> GraphSpec:
    """A spec from a spec, a YAML/JSON file, or a topology string."""
    if isinstance(value, GraphSpec):
        return value
    p = Path(value)
    if p.suffix in (".yaml", ".yml", ".json") or p.is_file():
        if not p.is_file():
            raise ConfigError(f"no graph spec file {p}")
        return GraphSpec.load(p)
    return topology(str(value))


__all__ = [
    "LAYERS",
    "TOPOLOGIES",
    "best_of_n",
    "ceo",
    "debate",
    "fusion",
    "hybrid_verify",
    "load_graph",
    "mav",
    "model_switch",
    "parse",
    "pdr",
    "refine",
    "self_consistency",
    "single",
    "test_vote",
    "topology",
    "with_budget",
    "with_ceo",
    "with_fuser",
    "with_judge",
    "with_mav",
    "with_memory",
    "with_verifier",
]
