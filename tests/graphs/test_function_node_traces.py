"""Traces and reports show function nodes like built-in ones: their outputs, time, a
cost of zero when they call no model, and their errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.graphs import fnodes
from tests.graphs.helpers import by_role, cycling
from thinktank.agents.roles import temporary_roles
from thinktank.cli._trace import print_trace
from thinktank.evals.reports.report import write_report
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.graphs import Graph, Solver, compile
from thinktank.graphs.builder import Function


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    with temporary_roles():
        yield


def _graph(checker: object) -> Graph:
    g = Graph("checked")
    s = g.add(Solver(), n=2)
    g.connect(s, g.add(Function(checker), id="tests")).select("tests")  # type: ignore[arg-type]
    return g


def test_the_terminal_trace_shows_a_function_node_its_error_time_and_zero_cost() -> None:
    model = by_role({"solver": cycling("390", "391")})
    res = compile(_graph(fnodes.broken).build(), models=model).run_sync("What is 17 * 23?")
    console = Console(record=True, width=400)
    print_trace(res, console=console)
    text = console.export_text()
    row = next(ln for ln in text.splitlines() if "tests:1:0" in ln)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[:3] == ["tests:1:0", "tests.graphs.fnodes:broken", "error"]
    assert cells[3].startswith("error: ValueError: the checker broke (at fnodes.py:")
    assert cells[6] == "0" and cells[7].endswith("s")  # no tokens; its time
    usage = next(ln for ln in text.splitlines() if ln.startswith("│ tests "))
    assert [c.strip() for c in usage.split("│")[1:-1]] == ["tests", "0", "0", "$0.00000"]


def test_the_html_report_shows_function_nodes_of_an_eval_run(tmp_path: Path) -> None:
    tasks = [
        Task(id="mul", kind="math", prompt="What is 17 * 23?", expected="391"),
        Task(id="sq", kind="math", prompt="What is 12 * 12?", expected="144"),
    ]
    graphs = {
        "checked": _graph(fnodes.product_check).build(),
        "broken": _graph(fnodes.broken).build(),
    }
    model = by_role({"solver": cycling("1", "391", "144", "2")})
    out = tmp_path / "run"
    summary = Runner(tasks, graphs, {"default": model}, out_dir=out).run_sync()
    assert summary is not None
    write_report(out)
    html = (out / "report.html").read_text()
    assert "model function:tests.graphs.fnodes:product_check" in html
    assert "model function:tests.graphs.fnodes:broken" in html
    assert "ValueError: the checker broke" in html
    assert "<td>tests</td><td>0</td><td>0</td><td>0</td><td>$0.00000</td>" in html
