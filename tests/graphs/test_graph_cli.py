"""``thinktank graph show``: Mermaid text from specs and topology strings; PNG through dot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.graphs.diagram import to_dot, to_mermaid
from thinktank.graphs.topologies import topology

runner = CliRunner()


def test_show_a_topology_string() -> None:
    result = runner.invoke(app, ["graph", "show", "debate:m=3,r=2,select=judge"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("flowchart TD")
    assert 'debater["debater<br/>debater ×3"]' in out
    assert 'debater -. "feedback" .-> debater' in out
    assert "select: judge by judge" in out and "rounds 2–" in out


def test_show_marks_controller_conditions_and_selection() -> None:
    text = to_mermaid(topology("refine:k=4 + ceo:critics=2"))
    assert 'ceo{{"ceo<br/>ceo<br/>controller, ≤3 rounds"}}' in text
    assert '-. "feedback, disagree <0.75" .-> critic' in text
    assert "active: 1/2" in text
    assert "solver --> select_step" in text and "refiner --> select_step" in text
    mav = to_mermaid(topology("mav:k=2"))
    assert 'aspect1 -. "scores" .-> select_step' in mav


def test_show_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    topology("model_switch:models=small|big").save(path)
    result = runner.invoke(app, ["graph", "show", str(path)])
    assert result.exit_code == 0
    assert 'stage1 -- "disagree" --> stage2' in result.output
    assert "model: big" in result.output


def test_bad_input_fails_with_the_valid_names(tmp_path: Path) -> None:
    result = runner.invoke(app, ["graph", "show", "debait:m=3"])
    assert result.exit_code == 1 and "valid topologies" in result.output
    result = runner.invoke(app, ["graph", "show", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "no graph spec file" in result.output


def test_png_without_graphviz_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["graph", "show", "single", "--png", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "flowchart TD" in result.output and "graphviz" in result.output


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
def test_png_with_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "g.png"
    result = runner.invoke(app, ["graph", "show", "ceo", "--png", str(out)])
    assert result.exit_code == 0 and out.read_bytes().startswith(b"\x89PNG")


def test_dot_text() -> None:
    dot = to_dot(topology("ceo"))
    assert dot.startswith('digraph "ceo_1s3c"') and "shape=hexagon" in dot
    assert '"solver" -> "solver" [style=dashed, label="feedback"];' in dot
