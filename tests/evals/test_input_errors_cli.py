"""Bad input files and flags end in one ``error:`` naming the file, line and field, never a
traceback; ``--resume`` needs a run to continue; every command says which model it uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from thinktank.cli.app import app
from thinktank.cli.options import describe_models
from thinktank.errors import ConfigError
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.pricing import reset_prices
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet

cli = CliRunner()


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    qs = TaskSet.generate(2, seed=3, p_correct=[0.9])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as server:
        yield f"openai:sim@{server.base_url}"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return dump_tasks(
        [Task(id="t1", kind="math", prompt="1+1?", expected="2")], tmp_path / "t.jsonl"
    )


@pytest.fixture(autouse=True)
def _prices() -> Iterator[None]:
    yield
    reset_prices()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return cli.invoke(app, list(args), env=env)


def assert_refused(res: Result, *parts: str) -> None:
    """Exit code 1, an ``error:`` line holding every part, and no traceback."""
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output and "error:" in res.output, res.output
    for part in parts:
        assert part in res.output, (part, res.output)


# --- graph specs: graph show, run, eval ------------------------------------------------

GRAPHS = {
    "syntax.yaml": ("name: g\nnodes:\n  - {id: s, role: solver\n", ":4:1: ", "not valid YAML"),
    "syntax.json": (
        '{"name": "g",\n "nodes": [{"id": "s", "role": "solver"}],\n}\n',
        ":3:1: ",
        "not valid JSON",
    ),
    "role.yaml": (
        "name: g\nnodes:\n  - id: s\n    role: planer\n",
        ":4:5: nodes.0.role: ",
        "unknown role 'planer'; valid roles: aggregator, ceo",
    ),
    "type.yaml": (
        "nodes:\n  - id: s\n    role: solver\n    n: many\n",
        ":4:5: nodes.0.n: ",
        "valid integer",
    ),
    "field.yaml": (
        "nodes:\n  - id: s\n    role: solver\n    rol: x\n",
        ":4:5: nodes.0.rol: ",
        "Extra inputs are not permitted",
    ),
    "type.json": (
        '{"nodes": [{"id": "s",\n  "role": "solver", "n": 0}]}',
        ":2:21: nodes.0.n: ",
        "greater than or equal to 1 (got 0)",
    ),
    "edge.yaml": (
        "nodes: [{id: s, role: solver}]\nedges:\n  - {source: s, target: q}\n",
        ":3:17: edges.0.target: ",
        "dangling edge s -> q: no node 'q'",
    ),
}


@pytest.mark.parametrize("command", ["graph show", "run", "eval"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_a_bad_graph_file_names_the_file_line_and_field(
    tmp_path: Path, sim: str, suite: Path, command: str, name: str
) -> None:
    text, place, problem = GRAPHS[name]
    path = tmp_path / name
    path.write_text(text)
    args = {
        "graph show": ["graph", "show", str(path)],
        "run": ["run", "1+1?", "--graph", str(path), "--model", sim],
        "eval": ["eval", "--suite", str(suite), "--graph", str(path), "--model", sim,
                 "--out", str(tmp_path / "run")],
    }[command]  # fmt: skip
    assert_refused(invoke(*args), f"{path}{place}", problem)


def test_a_spec_from_text_places_the_problem_by_line() -> None:
    with pytest.raises(
        ConfigError, match=r"line 3, column 5: nodes\.0\.role: node 's' has unknown"
    ):
        GraphSpec.from_yaml("nodes:\n  - id: s\n    role: sage\n")
    with pytest.raises(ConfigError, match=r"invalid graph spec: nodes\.0\.n: .*\(got 0\)"):
        GraphSpec.parse_data({"nodes": [{"id": "s", "role": "solver", "n": 0}]})


# --- task files --------------------------------------------------------------------------


def test_a_bad_task_file_names_the_line_and_column(tmp_path: Path, sim: str) -> None:
    bad = tmp_path / "tasks.json"
    bad.write_text(
        '[{"id": "a", "kind": "math", "prompt": "1+1", "expected": "2"},\n'
        ' {"id": "b", "kind": "math" "prompt": "x"}]\n'
    )
    res = invoke("eval", "--suite", str(bad), "--graph", "single", "--model", sim,
                 "--out", str(tmp_path / "run"))  # fmt: skip
    assert_refused(res, "tasks.json line 2, column 29: invalid JSON")
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"id": "a", "kind": "math", "prompt": "1+1", "expected": "2"}\n{"id": "b",\n')
    res = invoke("eval", "--suite", str(bad), "--graph", "single", "--model", sim,
                 "--out", str(tmp_path / "run"))  # fmt: skip
    assert_refused(res, "tasks.jsonl line 2: invalid JSON at column 12")


# --- sandbox configs ---------------------------------------------------------------------

SANDBOXES = {
    "syntax": ("type: docker\nmemory_mb: [512\n", ":3:1: ", "not valid YAML"),
    "field": ("type: docker\nmemory_mb: lots\n", ":2:1: memory_mb: ", "valid integer"),
    "type": ("type: dockr\n", ":1:1: type: ", "unknown sandbox type 'dockr'; valid types: docker"),
    "unknown": ("image: x\nmem: 3\n", ":1:1: ", "unknown field(s) 'mem' for DockerSandboxConfig"),
    "nested": (
        "type: pool\nsandbox:\n  type: local\n  default_timeout_s: -1\n",
        ":4:3: sandbox.default_timeout_s: ",
        "greater than 0",
    ),
}


@pytest.mark.parametrize("name", sorted(SANDBOXES))
def test_a_bad_sandbox_config_is_refused_before_the_run(
    tmp_path: Path, sim: str, suite: Path, name: str
) -> None:
    text, place, problem = SANDBOXES[name]
    path = tmp_path / "sandbox.yaml"
    path.write_text(text)
    out = tmp_path / "run"
    res = invoke("eval", "--suite", str(suite), "--graph", "single", "--model", sim,
                 "--out", str(out), "--sandbox", str(path))  # fmt: skip
    assert_refused(res, f"{path}{place}", problem)
    assert not out.exists()


# --- price files -------------------------------------------------------------------------

PRICES = {
    "syntax": ("gpt-4o: {input: 2.5\n", ":2:1: ", "the price file is not valid YAML"),
    "field": ("gpt-4o:\n  input: 2.5\n  outptu: 10\n", ":3:3: gpt-4o.outptu: ", "Extra inputs"),
    "value": ("gpt-4o: {input: -1, output: 10}\n", ":1:10: gpt-4o.input: ", "greater than or"),
    "shape": ("gpt-4o: 2.5\n", ":1:1: gpt-4o: ", "a price is a mapping like {input: 2.5"),
}


@pytest.mark.parametrize("name", sorted(PRICES))
def test_a_bad_price_file_in_thinktank_prices_stops_run_and_eval(
    tmp_path: Path, sim: str, suite: Path, name: str
) -> None:
    text, place, problem = PRICES[name]
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    env = {"THINKTANK_PRICES": str(path)}
    for args in (
        ["run", "1+1?", "--model", sim],
        ["eval", "--suite", str(suite), "--graph", "single", "--model", sim,
         "--out", str(tmp_path / "run")],
    ):  # fmt: skip
        assert_refused(invoke(*args, env=env), f"{path}{place}", problem, "THINKTANK_PRICES")


# --- optimize: search spaces, price files, model pools, model configs ------------------------


@pytest.mark.parametrize(
    ("flag", "text", "place", "problem"),
    [
        ("--space", "nodes: [{id: s, role: solver\n", ":2:1: ", "not valid YAML"),
        ("--space", "nodes:\n  - id: s\n    role: solver\n    samples: 3\n", ":4:5: nodes.0.samples: ",
         "Extra inputs are not permitted"),
        ("--space", "nodes:\n  - {id: s, role: solver, n: [many]}\n", ":2:31: nodes.0.n.0: ",
         "valid integer"),
        ("--space", "nodes:\n  - {id: s, role: wizard}\n", ": search space", "unknown role 'wizard'"),
        ("--prices", "gpt-4o: {input: 1, output: [}\n", ":1:29: ", "not valid YAML"),
        ("--prices", "gpt-4o: {input: 1, ouput: 2}\n", ":1:20: gpt-4o.ouput: ", "Extra inputs"),
        ("--model-pool", "a: [openai:x\n", ":2:1: ", "not valid YAML"),
    ],
)  # fmt: skip
def test_optimize_names_the_bad_file(
    tmp_path: Path, sim: str, flag: str, text: str, place: str, problem: str
) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(text)
    space = tmp_path / "space.yaml"
    space.write_text("nodes: [{id: s, role: solver}]\n")
    args = {"--space": str(space), "--model-pool": f"a={sim}", flag: str(path)}
    res = invoke("optimize", "--suite", "math", "--out", str(tmp_path / "opt"),
                 *[x for kv in args.items() for x in kv])  # fmt: skip
    assert_refused(res, f"{path}{place}", problem)


def test_a_bad_model_config_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("type: openai\nmodel: x\n  base_url: y\n")
    assert_refused(invoke("run", "1+1?", "--model", str(path)), f"{path}:3:11: ", "not valid YAML")
    path.write_text("type: openai\nmodl: x\n")
    assert_refused(
        invoke("run", "1+1?", "--model", str(path)),
        f"{path}:1:1: model: Field required",
        f"{path}:2:1: modl: Extra inputs are not permitted",
    )


# --- --resume ------------------------------------------------------------------------------


def test_resume_needs_a_run_to_continue(tmp_path: Path, sim: str, suite: Path) -> None:
    base = ["eval", "--suite", str(suite), "--graph", "single", "--model", sim, "--resume"]
    missing = tmp_path / "no-such-run"
    res = invoke(*base, "--out", str(missing))
    assert_refused(res, f"{missing} does not exist", "drop --resume to start a new run")
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = invoke(*base, "--out", str(empty))
    assert_refused(res, f"{empty} holds no run (records.sqlite is missing)", "drop --resume")
    assert list(empty.iterdir()) == []
    # a real run resumes
    out = tmp_path / "run"
    assert invoke(*base[:-1], "--out", str(out), "--no-report").exit_code == 0
    res = invoke(*base, "--out", str(out), "--no-report")
    assert res.exit_code == 0 and "1 already done" in res.output, res.output


# --- which model -----------------------------------------------------------------------------


def test_eval_and_run_say_which_model_they_use(tmp_path: Path, sim: str, suite: Path) -> None:
    res = invoke("eval", "--suite", str(suite), "--graph", "single", "--model", sim,
                 "--out", str(tmp_path / "a"), "--no-report")  # fmt: skip
    assert res.exit_code == 0 and f"model: {sim} (--model)" in res.output, res.output
    res = invoke("eval", "--suite", str(suite), "--graph", "single", "--out", str(tmp_path / "b"),
                 "--no-report", env={"THINKTANK_MODEL": sim})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"model: {sim} (from THINKTANK_MODEL, no --model)" in res.output
    res = invoke("run", "1+1?", "--model", sim, "--json")
    assert res.exit_code == 0 and f"model: {sim} (--model)" in res.stderr, res.output
    assert json.loads(res.stdout)["answer"] is not None  # the line keeps --json parseable


def test_the_model_line_says_where_the_model_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THINKTANK_MODEL", raising=False)
    assert describe_models(None) == "model: local:smollm2 (THINKTANK_MODEL not set, no --model)"
    monkeypatch.setenv("THINKTANK_MODEL", "vllm:m")
    assert describe_models(None) == "model: vllm:m (from THINKTANK_MODEL, no --model)"
    assert describe_models({"cheap": "openai:a", "strong": "openai:b"}) == (
        "models: cheap=openai:a, strong=openai:b (--model; nodes without a model use cheap)"
    )


def test_optimize_says_which_models_it_uses(tmp_path: Path) -> None:
    from tests.optimize import landscape as L

    tasks = dump_tasks(L.tasks(2), tmp_path / "dev.jsonl")
    space = tmp_path / "space.yaml"
    space.write_text("nodes: [{id: s, role: solver, model: [cheap]}]\n")
    with L.simulator(2) as (_, pool):
        res = invoke(
            "optimize", "--suite", str(tasks), "--space", str(space), "--algo", "random",
            "--model-pool", ",".join(f"{a}={m}" for a, m in pool.items()), "--max-evals", "1",
            "--env-opt", "math.python=false", "--out", str(tmp_path / "opt"),
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    models = ", ".join(f"{a}={m}" for a, m in pool.items())
    assert f"models: {models} (--model-pool)" in res.output
