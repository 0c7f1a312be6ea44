"""Graph arguments of an eval run: topology strings, spec files, parameter sweeps.

``--graph`` values become :class:`GraphEntry` s, each a labelled
:class:`~thinktank.graphs.spec.GraphSpec`:

* ``single``, ``best_of_n:n=4,select=verifier``, ``"debate:m=3 + ceo:rounds=2"`` —
  one graph, labelled with the string itself;
* ``spec.yaml`` — a GraphSpec file, labelled with the spec's name (else the file stem);
* ``best_of_n:n=1,2,4,8`` — a **sweep**: a parameter followed by bare values takes
  each of them in turn, giving graphs ``best_of_n[n=1]`` … ``best_of_n[n=8]`` that share
  the family ``best_of_n:n=1,2,4,8`` (the report draws a family as one curve). Several
  swept parameters give their cartesian product;
* ``LABEL=...`` — any of the above under an explicit label (``cheap=single``).

Lists stay lists: ``aspects=[a,b]`` or ``a|b`` is one value, not a sweep.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from thinktank.errors import ConfigError
from thinktank.graphs.spec import GraphSpec

_LABEL = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)=(?=[^=])")


class GraphEntry(BaseModel):
    """One graph of a run: its label in records and reports, and its spec."""

    label: str
    """Unique within the run; records key on (label, task id)."""
    spec: GraphSpec
    """The collaboration graph (its ``budget`` is the per-task budget)."""
    source: str = ""
    """The ``--graph`` argument it came from."""
    family: str = ""
    """Graphs of one sweep share a family (one curve in the report's plots)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The swept parameters' values for this member (empty outside sweeps)."""
    repeat: int = Field(default=1, ge=1)
    """Which repetition this is (``--repeat K``): the first runs with the run's seed,
    repetition r with a seed derived from it and r."""
    variant_of: str = ""
    """The label of the graph this entry repeats (the first repetition's) or ablates (the
    memory-on arm of the same repetition); empty for a graph as given."""
    memory_off: bool = False
    """The memory-off arm of an ablation (``--ablation``): its nodes read no memory and
    no learner learns from its results; same tasks and seeds as the graph it ablates."""


REPEAT_MARK = " #"
"""Labels of repetitions: ``best_of_n:n=4 #2``."""
MEMORY_OFF_MARK = " [memory off]"
"""Label suffix of an ablation's memory-off arm."""


def reads_memory(spec: GraphSpec) -> bool:
    """Whether some node of ``spec`` retrieves memory."""
    return any(n.memory and n.memory_k > 0 for n in spec.nodes)


def without_memory(spec: GraphSpec) -> GraphSpec:
    """``spec`` with every node's memory off (an ablation's baseline arm)."""
    nodes = [n.model_copy(update={"memory": False}) for n in spec.nodes]
    return spec.model_copy(update={"nodes": nodes})


def with_variants(
    entries: Sequence[GraphEntry], *, repeat: int = 1, ablation: bool = False
) -> list[GraphEntry]:
    """``entries``, each followed by its memory-off arm (``ablation``: graphs that read
    memory), then all of that again for repetitions 2..``repeat``. Entries that are
    variants already are kept as they are (a run config read back)."""
    if any(e.variant_of for e in entries):
        return list(entries)
    out: list[GraphEntry] = []
    for r in range(1, repeat + 1):
        for e in entries:
            tag = "" if r == 1 else f"{REPEAT_MARK}{r}"
            rep = e if r == 1 else e.model_copy(
                update={"label": e.label + tag, "family": e.family + tag, "repeat": r,
                        "variant_of": e.label},
            )  # fmt: skip
            out.append(rep)
            if ablation and reads_memory(e.spec):
                out.append(
                    rep.model_copy(
                        update={
                            "label": e.label + MEMORY_OFF_MARK + tag,
                            "family": e.family + MEMORY_OFF_MARK + tag,
                            "spec": without_memory(e.spec),
                            "variant_of": rep.label,
                            "memory_off": True,
                        }
                    )
                )
    return out


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets and quotes."""
    out, depth, cur, quote = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        else:
            depth += ch in "[{("
            depth -= ch in "]})"
        if ch == sep and depth == 0 and not quote:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def _values(part: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """``"best_of_n:n=1,2,select=vote"`` → ``("best_of_n", [("n", ["1","2"]), ("select", ["vote"])])``."""
    name, _, rest = part.partition(":")
    params: list[tuple[str, list[str]]] = []
    for item in _split(rest, ","):
        key, eq, raw = item.partition("=")
        if eq and key.strip() and not key.strip().startswith(("[", "'", '"')):
            params.append((key.strip(), [raw.strip()]))
        elif params:
            params[-1][1].append(item.strip())
        else:
            raise ConfigError(f"bad parameter {item!r} in {part!r}: write key=value")
    return name.strip(), params


def _scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def expand_graph(arg: str) -> list[GraphEntry]:
    """The graph(s) one ``--graph`` argument stands for (several for a sweep)."""
    from thinktank.graphs.topologies import load_graph

    text = arg.strip()
    label = None
    m = _LABEL.match(text)
    if m and ":" not in m.group(1):
        label, text = m.group(1), text[m.end() :].strip()
    if not text:
        raise ConfigError(f"empty --graph value {arg!r}")
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        spec = load_graph(path)
        name = label or (spec.name if spec.name != "graph" else path.stem)
        return [GraphEntry(label=name, spec=spec, source=arg, family=name)]
    parts = [_values(p) for p in _split(text, "+")]
    axes: list[tuple[int, str, list[str]]] = [
        (i, key, vals) for i, (_, params) in enumerate(parts) for key, vals in params
    ]
    swept = [(i, key, vals) for i, key, vals in axes if len(vals) > 1]
    if not swept:
        spec = load_graph(text)
        name = label or " + ".join(_split(text, "+"))
        return [GraphEntry(label=name, spec=spec, source=arg, family=name)]
    base = label or parts[0][0]
    out: list[GraphEntry] = []
    for combo in itertools.product(*(vals for _, _, vals in swept)):
        chosen = {(i, key): v for (i, key, _), v in zip(swept, combo, strict=True)}
        pieces = []
        for i, (name, params) in enumerate(parts):
            kv = [f"{k}={chosen.get((i, k), vals[0])}" for k, vals in params]
            pieces.append(name + (":" + ",".join(kv) if kv else ""))
        shown = {(k if i == 0 else f"{parts[i][0]}.{k}"): v for (i, k), v in chosen.items()}
        member = f"{base}[{','.join(f'{k}={v}' for k, v in shown.items())}]"
        out.append(
            GraphEntry(
                label=member,
                spec=load_graph(" + ".join(pieces)),
                source=arg,
                family=label or text,
                params={k: _scalar(v) for k, v in shown.items()},
            )
        )
    return out


def expand_graphs(args: Iterable[str]) -> list[GraphEntry]:
    """Every graph of a run from its ``--graph`` arguments; labels must be unique."""
    entries = [e for a in args for e in expand_graph(a)]
    if not entries:
        raise ConfigError("no graph given: pass --graph TOPOLOGY (e.g. --graph single)")
    seen: dict[str, str] = {}
    for e in entries:
        if e.label in seen:
            raise ConfigError(
                f"two graphs are labelled {e.label!r} (from {seen[e.label]!r} and {e.source!r}); "
                "name one explicitly: --graph LABEL=..."
            )
        seen[e.label] = e.source
    return entries


def entries_from(graphs: Any) -> list[GraphEntry]:
    """Normalise what :class:`~thinktank.evals.runs.runner.Runner` accepts: a mapping label →
    GraphSpec / topology string, or a sequence of entries, specs or ``--graph`` strings."""
    if isinstance(graphs, dict):
        return [
            GraphEntry(label=str(k), spec=v, source=str(k), family=str(k))
            if isinstance(v, GraphSpec)
            else expand_graph(f"{k}={v}")[0]
            for k, v in graphs.items()
        ]
    out: list[GraphEntry] = []
    for g in graphs:
        if isinstance(g, GraphEntry):
            out.append(g)
        elif isinstance(g, GraphSpec):
            out.append(GraphEntry(label=g.name, spec=g, source=g.name, family=g.name))
        else:
            out += expand_graph(str(g))
    labels = [e.label for e in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"graph labels must be unique; repeated: {dup}")
    return out
