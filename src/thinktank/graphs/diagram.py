"""Diagrams of a :class:`GraphSpec`: Mermaid text, Graphviz DOT, and PNG through ``dot``.

Nodes show their id, role and sample count (a function node ``ƒ function``; a role
thinktank does not define, what it does), plus the model when not the default,
active instances, the rounds they run in, the aspect they check and adaptive
sampling; edges are labelled ``feedback`` (reads the previous round) and
``disagree``/``agree`` (conditional); the round controller is a hexagon; the
selection step is a trapezoid fed by the candidate nodes and by the node that
scores them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from thinktank.agents.roles import BUILT_IN, SELECTION_NEEDS, find_role
from thinktank.errors import MissingDependency
from thinktank.graphs.spec import EdgeSpec, GraphSpec, NodeSpec

_SELECT_ID = "select_step"


def _lines(spec: GraphSpec, node: NodeSpec) -> list[str]:
    role = find_role(node.role)
    name = node.role
    if role is not None and role.function is not None:
        name = (
            "ƒ " + role.function.partition(":")[2].split("#")[0]
            if role.function == name
            else f"ƒ {name}"
        )
    head = f"{name} ×{node.n}" if node.n > 1 else name
    out = [node.id, head]
    if role is not None and node.role not in BUILT_IN:
        out.append(f"does: {role.does}")
    if node.model != "default":
        out.append(f"model: {node.model}")
    if node.active is not None:
        out.append(f"active: {node.active}/{node.n}")
    if node.first_round > 1 or node.last_round is not None:
        last = "" if node.last_round is None else str(node.last_round)
        out.append(f"rounds {node.first_round}–{last}")
    if node.sampling.mode != "parallel":
        s = node.sampling
        out.append(
            f"{s.mode} (wave {s.wave})" if s.mode == "adaptive" else f"first {s.m} of {node.n}"
        )
    if node.aspect:
        out.append("aspect: " + (node.aspect if len(node.aspect) <= 40 else node.aspect[:37] + "…"))
    if node.id == spec.rounds.controller:
        out.append(f"controller, ≤{spec.rounds.max_rounds} rounds")
    return out


def _edge_label(e: EdgeSpec) -> str:
    parts = ["feedback"] if e.feedback else []
    if e.when != "always":
        parts.append(e.when if e.agreement >= 1.0 else f"{e.when} <{e.agreement:g}")
    return ", ".join(parts)


def _select_label(spec: GraphSpec) -> str:
    sel = spec.selection
    label = f"select: {sel.method}"
    if sel.by:
        label += f" by {sel.by}"
    if sel.method == "short_m_at_k":
        label += f" (m={sel.m})"
    if sel.method == "hybrid":
        label += f" (exec weight {sel.exec_weight:g})"
    return label


def _scorers(spec: GraphSpec) -> list[str]:
    sel = spec.selection
    if sel.by:
        return [sel.by]
    act = SELECTION_NEEDS.get(sel.method)
    return [n.id for n in spec.nodes if act is not None and n.does == act]


def _esc(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(spec: GraphSpec) -> str:
    """Mermaid ``flowchart`` text of the topology."""
    out = ["flowchart TD", f"  %% {spec.name}: {spec.description}".rstrip(": ")]
    r = spec.rounds
    extras = [f"max {r.max_rounds} round" + ("s" if r.max_rounds > 1 else "")]
    if r.controller:
        extras.append(f"controller {r.controller}")
    if r.stop_on_agreement is not None:
        extras.append(f"stop on agreement ≥{r.stop_on_agreement:g}")
    out.append("  %% " + ", ".join(extras))
    for n in spec.nodes:
        label = _esc("<br/>".join(_lines(spec, n)))
        shape = ('{{"', '"}}') if n.id == r.controller else ('["', '"]')
        out.append(f"  {n.id}{shape[0]}{label}{shape[1]}")
    out.append(f'  {_SELECT_ID}[/"{_esc(_select_label(spec))}"\\]')
    for e in spec.edges:
        label = _edge_label(e)
        arrow = "-.->" if e.feedback else "-->"
        if label:
            arrow = f'-. "{label}" .->' if e.feedback else f'-- "{label}" -->'
        out.append(f"  {e.source} {arrow} {e.target}")
    for c in spec.candidate_nodes():
        out.append(f"  {c} --> {_SELECT_ID}")
    for s in _scorers(spec):
        out.append(f'  {s} -. "scores" .-> {_SELECT_ID}')
    return "\n".join(out) + "\n"


def to_dot(spec: GraphSpec) -> str:
    """Graphviz DOT text of the topology."""

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"digraph {q(spec.name)} {{", "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for n in spec.nodes:
        shape = "hexagon" if n.id == spec.rounds.controller else "box"
        out.append(f"  {q(n.id)} [shape={shape}, label={q(chr(10).join(_lines(spec, n)))}];")
    out.append(f"  {q(_SELECT_ID)} [shape=invtrapezium, label={q(_select_label(spec))}];")
    for e in spec.edges:
        attrs = ["style=dashed"] if e.feedback else []
        if _edge_label(e):
            attrs.append(f"label={q(_edge_label(e))}")
        out.append(f"  {q(e.source)} -> {q(e.target)} [{', '.join(attrs)}];")
    for c in spec.candidate_nodes():
        out.append(f"  {q(c)} -> {q(_SELECT_ID)};")
    for s in _scorers(spec):
        out.append(f'  {q(s)} -> {q(_SELECT_ID)} [style=dotted, label="scores"];')
    out.append("}")
    return "\n".join(out) + "\n"


def render_png(spec: GraphSpec, path: str | Path, *, dot: str | None = None) -> Path:
    """Render the topology to a PNG with Graphviz's ``dot``.

    Raises :class:`~thinktank.errors.MissingDependency` (with the install command)
    when ``dot`` is not on the PATH.
    """
    exe = dot or shutil.which("dot")
    if exe is None:
        raise MissingDependency(
            "rendering a PNG needs Graphviz's `dot` on the PATH: install graphviz "
            "(e.g. `apt-get install graphviz`), or paste the Mermaid text into a Mermaid viewer"
        )
    out = Path(path)
    proc = subprocess.run(
        [exe, "-Tpng", "-o", str(out)],
        input=to_dot(spec).encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"dot failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
        )
    return out
