"""The self-contained HTML report: summary, plots, per-task table, trajectory viewer.

One file, no external resources: CSS and a few lines of JS inline, plots as
base64 PNG. The page works without JS (sections are ``<details>``); the script adds
a filter box, expand/collapse-all and "only wrong", and opens a trajectory when its
cell in the task table is clicked.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from thinktank.evals.reports.experiments import memory_line
from thinktank.evals.reports.metrics import fmt_ci, fmt_label, fmt_s, fmt_usd, oracle_label
from thinktank.evals.reports.selection import HEADERS, NOTE, selection_rows
from thinktank.evals.reports.viewer import badge, render_run
from thinktank.evals.runs.records import RunDatabase

if TYPE_CHECKING:
    from thinktank.evals.reports.report import ReportData
    from thinktank.evals.runs.run_types import TaskRecord

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1f2a44;color:#fff;padding:16px 28px}header h1{margin:0 0 6px;font-size:22px}
header .meta{opacity:.85;font-size:13px}main{padding:12px 28px 40px;max-width:1400px}
h2{margin:28px 0 10px;font-size:18px;border-bottom:1px solid #dde1e8;padding-bottom:4px}
table{border-collapse:collapse;background:#fff;margin:6px 0}th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600}td code,dd code{font-size:12px}
.note{background:#fff4d6;border-left:4px solid #e0a400;padding:8px 12px;margin:8px 0}
.plots img{max-width:48%;min-width:320px;background:#fff;border:1px solid #dde1e8;margin:4px}
.badge{display:inline-block;width:18px;text-align:center;border-radius:3px;color:#fff;font-weight:700}
.badge.ok{background:#2e8b57}.badge.bad{background:#c0392b}.badge.err{background:#7f8c8d}
.tasks td a{text-decoration:none;color:inherit}.tasks td{white-space:nowrap;max-width:220px;overflow:hidden;text-overflow:ellipsis}
details{background:#fff;border:1px solid #dde1e8;border-radius:4px;margin:6px 0}
details>summary{cursor:pointer;padding:6px 10px}details .inner,details .body{padding:4px 12px 10px}
details.run.ok{border-left:4px solid #2e8b57}details.run.bad{border-left:4px solid #c0392b}details.run.err{border-left:4px solid #7f8c8d}
details details{background:#fbfcfd}.dim{color:#667}.win{background:#2e8b57;color:#fff;border-radius:3px;padding:0 4px;font-size:11px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.msg{border-left:3px solid #99a;padding:2px 8px;margin:6px 0;background:#fff}.msg .who{font-size:11px;text-transform:uppercase;color:#667}
.msg.system{border-color:#8e44ad}.msg.user{border-color:#2980b9}.msg.assistant{border-color:#27ae60}.msg.tool{border-color:#d35400;background:#fffaf5}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.call{margin:2px 0 2px 6px}.error{color:#a93226;white-space:pre-wrap}.ref{font-size:11px;color:#667}
.controls{position:sticky;top:0;background:#f6f7f9;padding:6px 0;z-index:2}.controls input[type=search]{width:320px;padding:4px}
.hidden{display:none}
"""

JS = """
(function(){
  var runs = Array.prototype.slice.call(document.querySelectorAll('details.run'));
  var filter = document.getElementById('filter');
  var onlyWrong = document.getElementById('only-wrong');
  function apply(){
    var q = (filter.value || '').toLowerCase();
    var shown = 0;
    runs.forEach(function(d){
      var hit = (!q || d.dataset.search.indexOf(q) >= 0) && (!onlyWrong.checked || !d.classList.contains('ok'));
      d.classList.toggle('hidden', !hit);
      if (hit) { shown++; }
    });
    document.getElementById('shown').textContent = String(shown);
  }
  filter.addEventListener('input', apply);
  onlyWrong.addEventListener('change', apply);
  document.getElementById('expand').addEventListener('click', function(){ runs.forEach(function(d){ d.open = true; }); });
  document.getElementById('collapse').addEventListener('click', function(){ runs.forEach(function(d){ d.open = false; }); });
  document.querySelectorAll('a.open-run').forEach(function(a){
    a.addEventListener('click', function(){
      var d = document.getElementById(a.getAttribute('href').slice(1));
      if (d) { d.classList.remove('hidden'); d.open = true; }
    });
  });
  apply();
  document.body.dataset.ready = 'true';
})();
"""


def _summary(data: ReportData) -> str:
    rows = [
        [
            f"<b>{escape(fmt_label(s))}</b>",
            escape(fmt_ci(s)),
            s.judged,
            s.errors,
            fmt_usd(s.cost_mean),
            fmt_usd(s.cost_total),
            f"{s.tokens_mean:.0f}",
            f"{s.samples_mean:.1f}",
            fmt_s(s.latency_p50),
            fmt_s(s.latency_p95),
        ]
        for s in data.stats
    ]
    heads = ["graph", "accuracy [95% CI]", "judged", "errors", "cost/task", "total cost"]
    heads += ["tokens/task", "samples/task", "latency p50", "latency p95"]
    return _table(heads, rows, 'id="summary-table"')


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], attrs: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chosen(records: list[TaskRecord], limit: int) -> list[TaskRecord]:
    """Records whose trajectories are embedded: errors and wrong answers first."""

    def rank(r: TaskRecord) -> int:
        return 0 if r.status == "error" else (1 if not r.correct else 2)

    picked = sorted(records, key=rank)[: max(0, limit)]
    keep = {(r.graph, r.task_id) for r in picked}
    return [r for r in records if (r.graph, r.task_id) in keep]


def render_html(data: ReportData, *, max_trajectories: int = 300) -> str:
    """The whole page."""
    c = data.config
    anchors = {(r.graph, r.task_id): f"run-{i}" for i, r in enumerate(data.records)}
    shown = _chosen(data.records, max_trajectories)
    embedded = {(r.graph, r.task_id) for r in shown}
    meta = (
        f"{len(data.tasks)} tasks · {len(data.labels)} graphs · {len(data.records)} records · "
        f"models {escape(', '.join(f'{k}={v}' for k, v in c.models.items()) or '—')} · seed {c.seed} · "
        f"memory {escape(c.memory or 'off')}{escape(memory_line(c))} · spent "
        f"{fmt_usd(data.spent_usd)} over "
        f"{len(data.sessions)} session(s)"
        + (f" (latest run budget {fmt_usd(c.budget_usd)})" if c.budget_usd is not None else "")
    )
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>thinktank report — {escape(c.suite)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>Eval report — {escape(c.suite)}</h1><div class='meta'>{meta}</div></header><main>",
    ]
    out += [f"<div class='note'>{escape(n)}</div>" for n in data.notes()]
    out += ["<h2 id='summary'>Summary</h2>", _summary(data)]
    ks = sorted({k for s in data.stats for k in s.pass_at_k})
    if ks and max(ks) > 1:
        prows = [
            [escape(oracle_label(s))]
            + [f"{s.pass_at_k[k]:.1%}" if k in s.pass_at_k else "–" for k in ks]
            for s in data.stats
        ]
        out += [
            "<h2 id='passk'>pass@k</h2>",
            _table(["graph"] + [f"pass@{k}" for k in ks], prows, "id='passk-table'"),
        ]
    srows = selection_rows((oracle_label(s), s.selection) for s in data.stats)
    if srows:
        out += [
            "<h2 id='selection'>Selection</h2>",
            f"<p class='dim'>{escape(NOTE)}</p>",
            _table(
                ["graph", *HEADERS],
                [[escape(label), *map(escape, cells)] for label, cells in srows],
                "id='selection-table'",
            ),
        ]
    for sec in data.sections:
        out += [
            f"<h2 id='{sec.id}'>{escape(sec.title)}</h2>",
            f"<p class='dim'>{escape(sec.note)}</p>",
            _table(
                sec.headers, [[escape(c) for c in row] for row in sec.rows], f"id='{sec.id}-table'"
            ),
        ]
    if data.plots:
        out.append("<h2 id='plots'>Plots</h2><div class='plots'>")
        for name, (png, xlabel) in data.plots.items():
            b64 = base64.b64encode(png).decode()
            out.append(
                f"<img class='plot' id='plot-{name}' alt='{escape(name)}: accuracy vs {escape(xlabel)}' "
                f"src='data:image/png;base64,{b64}'>"
            )
        out.append("</div>")
    by = {(r.task_id, r.graph): r for r in data.records}
    expected = {r.task_id: r.expected for r in data.records if r.expected}
    rows: list[list[object]] = []
    learned = set(c.learn_tasks)  # a memory split's learning part
    for tid, kind in data.tasks:
        cells: list[object] = [
            escape(tid) + (" <span class='dim'>(learned on)</span>" if tid in learned else ""),
            escape(kind),
            f"<code>{escape(str(expected.get(tid) or '—'))}</code>",
        ]
        for g in data.labels:
            r = by.get((tid, g))
            if r is None:
                cells.append("·")
                continue
            text = f"{badge(r)} <code>{escape((r.answer or '—')[:40])}</code>"
            if (g, tid) in embedded:
                text = f"<a class='open-run' href='#{anchors[(g, tid)]}'>{text}</a>"
            cells.append(text)
        rows.append(cells)
    out += [
        "<h2 id='tasks'>Tasks</h2>",
        _table(
            ["task", "kind", "expected", *(oracle_label(s) for s in data.stats)],
            rows,
            "class='tasks' id='task-table'",
        ),
    ]
    out.append(
        f"<h2 id='trajectories'>Trajectories</h2><p class='dim'>{len(shown)} of {len(data.records)} "
        "runs embedded (errors and wrong answers first; <code>thinktank report DIR --trajectories N</code> "
        "embeds more).</p><div class='controls'><input type='search' id='filter' "
        "placeholder='filter: task id, graph, answer, status'> <button id='expand'>expand all</button> "
        "<button id='collapse'>collapse all</button> <label><input type='checkbox' id='only-wrong'> only "
        "wrong / errors</label> · <span id='shown'>0</span> shown</div><div id='runs'>"
    )
    with RunDatabase.open(data.run_dir) as db:
        for r in shown:
            out.append(render_run(anchors[(r.graph, r.task_id)], r, db.result(r.graph, r.task_id)))
    out += ["</div></main>", f"<script>{JS}</script></body></html>"]
    return "\n".join(out)
