"""Reports: metrics, Markdown, the self-contained HTML and its trajectory viewer, plots,
and the report-kind extension point."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from thinktank.errors import UsageError
from thinktank.evals.reports.metrics import graph_stats, pass_at_ks, percentile, wilson
from thinktank.evals.reports.report import (
    load_report_data,
    register_report_kind,
    render_markdown,
    run_kind,
    write_report,
)
from thinktank.evals.runs.run_types import TaskRecord

from .runner_support import EVIL, make_rich_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rich_run(tmp_path_factory.mktemp("rich") / "run")


def test_wilson_interval_and_percentiles() -> None:
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0 and wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(81, 100)
    assert lo < 0.81 < hi and round(lo, 3) == 0.722
    assert percentile([3, 1, 2, 4], 0.5) == 2.5 and percentile([], 0.5) is None
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)


def test_graph_stats_and_pass_at_k() -> None:
    recs = [
        TaskRecord(graph="g", task_id="a", status="ok", correct=True, cost=0.2, latency_s=1.0,
                   samples=2, sample_correct=[True, False], prompt_tokens=10, completion_tokens=5),
        TaskRecord(graph="g", task_id="b", status="ok", correct=False, cost=0.4, latency_s=3.0,
                   samples=2, sample_correct=[False, False]),
        TaskRecord(graph="g", task_id="c", status="error", error="boom"),
    ]  # fmt: skip
    [s] = graph_stats(recs)
    assert (s.records, s.judged, s.correct, s.errors) == (3, 2, 1, 1)
    assert s.accuracy == 0.5 and s.cost_total == pytest.approx(0.6) and s.tokens_total == 15
    assert s.latency_p50 == 2.0 and s.samples_mean == 2.0
    assert s.pass_at_k == {1: 0.25, 2: 0.5} == pass_at_ks(recs[:2])


def test_markdown_report(run_dir: Path) -> None:
    data = load_report_data(run_dir, plots=False)
    md = render_markdown(data)
    assert "| graph | accuracy [95% CI]" in md
    for label in ("ceo:critics=1,rounds=2", "best_of_n[n=1]", "best_of_n[n=3]"):
        assert f"| {label} |" in md
    assert "## pass@k" in md and "pass@3" in md
    assert re.search(r"\| t1 \| text \| 2 \| ✗", md)  # the wrong answer, in the per-task table
    assert "record(s) are errors" in md  # errors are called out
    assert "&lt;img src=x" in md and EVIL[:8] not in md  # no raw HTML from answers
    assert "| t2 | text | 4 |" in md


class _Tags(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "img", "input", "br", "hr", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.bad: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href") and v and not v.startswith(("data:", "#")):
                self.external.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.bad.append(tag)


def test_html_report_is_self_contained_and_well_formed(run_dir: Path) -> None:
    paths = write_report(run_dir)
    assert {p.name for p in paths} >= {"report.md", "report.html", "accuracy_vs_cost.png"}
    html = (run_dir / "report.html").read_text()
    tags = _Tags()
    tags.feed(html)
    assert not tags.bad and not tags.stack and not tags.external
    assert html.count("data:image/png;base64,") == 2
    assert EVIL not in html and "&lt;img src=x onerror=" in html  # answers are text, not markup
    for part in ('id="summary-table"', "id='task-table'", "class=\"run ", "Candidates (",
                 "CEO decisions (", "Verifications (", "class=\"msg tool\"", "→ <b>add</b>"):  # fmt: skip
        assert part in html, part


def test_trajectory_cap_keeps_wrong_runs_first(run_dir: Path) -> None:
    write_report(run_dir, max_trajectories=2)
    html = (run_dir / "report.html").read_text()
    assert html.count('<details class="run ') == 2
    assert html.count('<details class="run ok"') == 0


def test_plots_are_pngs(run_dir: Path) -> None:
    from thinktank.evals.reports.plots import accuracy_plot

    data = load_report_data(run_dir, plots=False)
    png, xlabel = accuracy_plot(data.stats, "cost") or (b"", "")
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert "tokens per task" in xlabel  # the function model is free: tokens stand in for cost
    png, _ = accuracy_plot(data.stats, "samples") or (b"", "")
    assert png.startswith(b"\x89PNG")


def test_report_kinds_are_an_extension_point(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a run directory"):
        run_kind(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"kind": "no-such-kind"}))
    with pytest.raises(UsageError, match="no report writer for runs of kind 'no-such-kind'"):
        write_report(tmp_path)

    def writer(d: Path, **options: object) -> list[Path]:
        out = d / "report.md"
        out.write_text("# optimizer report")
        return [out]

    register_report_kind("optimize-test", writer)
    (tmp_path / "run.json").write_text(json.dumps({"kind": "optimize-test"}))
    assert write_report(tmp_path) == [tmp_path / "report.md"]
