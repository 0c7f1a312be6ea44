"""SWE environments through real Docker: ``build`` images made offline from a host
wheelhouse, an image laid out like the official SWE-bench ones (``/testbed``, a
``testbed`` env behind ``source /opt/miniconda3/bin/activate; conda activate``) judged
in ``official`` mode with the instance's own evaluation script, and ``clone`` mode's
set-up with ``python`` and release tags. Bad input gets errors that say what to do.

The repository is made here (a package that needs ``iniconfig`` from PyPI at run
time); the host downloads its wheels, the sandboxes never get a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.errors import ConfigError, InfrastructureError
from thinktank.evals.swe.envs import official_image
from thinktank.evals.swe.gold import validate_gold
from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.loader import SWEInstance, SWESpec, swe_task
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes import DockerSandboxConfig, SandboxProvider
from thinktank.sandboxes.testing import require_docker

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

PATCH = TEST_PATCH = ""  # made by the clone fixture with git diff


def _git(args: list[str], cwd: Path) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": "/usr/bin:/bin", "HOME": str(cwd),
    }  # fmt: skip
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def provider() -> Iterator[SandboxProvider]:
    require_docker()
    yield DockerSandboxConfig().build()


def _calc_images() -> set[str]:
    import docker

    tags = (t for i in docker.from_env().images.list("thinktank/swe-env") for t in i.tags)
    return {t for t in tags if t.startswith("thinktank/swe-env:acme__calc-")}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """``repos/acme__calc``: a src-layout package versioned by setuptools_scm, tagged.
    Its commits are new every run, so is its environment's hash: the environments this
    module builds are removed after it (a 300 MB image per run would pile up)."""
    before = _calc_images()
    yield _make_clone(tmp_path_factory)
    import docker

    for tag in _calc_images() - before:
        with contextlib.suppress(docker.errors.APIError):
            docker.from_env().images.remove(tag, force=True)


def _make_clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repos = tmp_path_factory.mktemp("repos")
    root = repos / "acme__calc"
    (root / "src" / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64", "setuptools_scm>=8"]\n'
        'build-backend = "setuptools.build_meta"\n\n[project]\nname = "acme-calc"\n'
        'dynamic = ["version"]\ndependencies = ["iniconfig"]\n\n[tool.setuptools_scm]\n'
    )
    (root / "src" / "calc" / "__init__.py").write_text("")
    (root / "src" / "calc" / "ops.py").write_text(
        "import iniconfig\n\n\ndef half(x):\n    return x // 2\n"
    )
    (root / "tests" / "test_ops.py").write_text(
        "import importlib.metadata\n\nfrom calc.ops import half\ndef test_even():\n"
        "    assert half(4) == 2\n\n\ndef test_version():\n"
        "    assert importlib.metadata.version('acme-calc').startswith('2.5')\n"
    )
    _git(["init", "-q", "-b", "main"], root)
    _git(["add", "-A"], root)
    _git(["commit", "-qm", "base"], root)
    _git(["tag", "v2.5.0"], root)
    global PATCH, TEST_PATCH
    ops, tests = root / "src" / "calc" / "ops.py", root / "tests" / "test_ops.py"
    ops.write_text(ops.read_text().replace("x // 2", "x / 2"))
    PATCH = _git(["diff"], root) + "\n"
    _git(["checkout", "--", "."], root)
    tests.write_text(tests.read_text() + "\n\ndef test_odd():\n    assert half(3) == 1.5\n")
    TEST_PATCH = _git(["diff"], root) + "\n"
    _git(["checkout", "--", "."], root)
    (root / "README").write_text("later\n")
    _git(["add", "-A"], root)
    _git(["commit", "-qm", "later"], root)
    return repos, _git(["rev-parse", "HEAD"], root)


def instance(base: str, **extra: Any) -> SWEInstance:
    return SWEInstance.model_validate(
        {
            "instance_id": "acme__calc-7", "repo": "acme/calc", "base_commit": base,
            "environment_setup_commit": base, "version": "2.5",
            "problem_statement": "half() truncates", "patch": PATCH, "test_patch": TEST_PATCH,
            "FAIL_TO_PASS": ["tests/test_ops.py::test_odd"],
            "PASS_TO_PASS": ["tests/test_ops.py::test_even", "tests/test_ops.py::test_version"],
            "created_at": "2024-01-02T03:04:05Z", **extra,
        }
    )  # fmt: skip


SPEC = SWESpec(
    source="swebench",
    install=["python -m pip install -e ."],
    test_cmd="pytest -rA -p no:cacheprovider",
    test_directives=["tests/test_ops.py"],
    pip_packages=["pytest"],
    log_parser="parse_log_pytest",
)


def task_of(base: str, spec: SWESpec = SPEC, **extra: Any) -> Task:
    return swe_task(instance(base, **extra), spec, source="test")


async def test_build_mode_makes_an_offline_environment_once_and_judges_like_the_official_harness(
    provider: SandboxProvider, clone: tuple[Path, str], tmp_path: Path
) -> None:
    repos, _ = clone
    base = _git(["rev-parse", "HEAD~1"], repos / "acme__calc")
    task = task_of(base)
    config = {"env": "build", "repos": str(repos), "log_dir": str(tmp_path / "logs"),
              "build_cache": str(tmp_path / "cache")}  # fmt: skip
    report = await validate_gold([task], provider, config=config)
    assert report.ok, report.model_dump()
    # the environment was built once (gold and empty share it) and is reused
    harness = SWEHarness(provider, config)
    try:
        again = await harness.prepare(task)
        assert not again.built and again.image and again.image.startswith("thinktank/swe-env:")
        assert any("no Python version" in w for w in again.warnings)  # said, every time
        verdict = await harness.evaluate(task, PATCH)
    finally:
        await harness.aclose()
    assert verdict.correct, verdict.reason
    d = verdict.details
    assert d["environment"]["mode"] == "build" and d["parser"] == "swebench:parse_log_pytest"
    assert d["FAIL_TO_PASS"] == {"tests/test_ops.py::test_odd": "PASSED"}
    # setuptools_scm read the release tag (not 0.1.dev1): test_version passed
    assert d["PASS_TO_PASS"]["tests/test_ops.py::test_version"] == "PASSED"
    folders = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert folders == ["acme__calc-7", "acme__calc-7-2", "acme__calc-7-3"]
    logs = tmp_path / "logs" / "acme__calc-7-3"
    assert {"eval.sh", "tests.log", "apply.log", "patch.diff", "report.json"} <= {
        p.name for p in logs.iterdir()
    }
    full = (logs / "tests.log").read_text()
    assert ">>>>> Start Test Output" in full and "pip install -e ." in full
    assert "Looking in links: /wheelhouse" in full  # the re-install ran offline
    report_json = json.loads((logs / "report.json").read_text())
    assert report_json["correct"] and "logs" not in report_json["details"]


async def test_a_dependency_the_environment_lacks_is_fetched_once_when_patches_are_judged_together(
    provider: SandboxProvider, clone: tuple[Path, str], tmp_path: Path
) -> None:
    """The base commit needs a package its environment (built at an earlier commit) lacks:
    it is fetched on the host for the instance. Gold and empty patches judged at the same
    time (as `swe gold` and --swe-judge-candidates do) share one fetch: two builds in the
    one host copy of the repository collided, and one judgment failed at random."""
    import shutil

    repos = tmp_path / "repos"
    shutil.copytree(clone[0], repos)
    root = repos / "acme__calc"
    env_commit = _git(["rev-parse", "HEAD~1"], root)  # the other tests' environment
    project = root / "pyproject.toml"
    project.write_text(project.read_text().replace('["iniconfig"]', '["iniconfig", "pyparsing"]'))
    _git(["commit", "-qam", "needs pyparsing"], root)
    task = task_of(_git(["rev-parse", "HEAD"], root), environment_setup_commit=env_commit)
    harness = SWEHarness(provider, {"env": "build", "repos": str(repos)})
    fetched: list[str] = []
    real = harness._fetch_top_up

    async def counting(co: Any, missing: list[str]) -> Path:
        fetched.extend(missing)
        return await real(co, missing)

    harness._fetch_top_up = counting  # type: ignore[method-assign]
    try:
        gold, empty = await asyncio.gather(
            harness.evaluate(task, PATCH), harness.evaluate(task, "")
        )
    finally:
        await harness.aclose()
    assert gold.correct, gold.reason
    assert not empty.correct and "empty patch" in (empty.reason or "")
    assert fetched == ["pyparsing"]  # once, for both
    for verdict in (gold, empty):
        assert "fetched pyparsing for this commit" in verdict.details["environment"]["notes"]


def _official_layout_image(env_image: str, clone_dir: Path, base: str, name: str) -> None:
    """An image laid out as the official ones: /testbed with the repository's history at
    the base commit, installed, owned by root; conda's activate script and a testbed env."""
    import docker

    client = docker.from_env()
    container = client.containers.create(
        env_image, ["sleep", "600"], user="0:0", network_disabled=True, network_mode="none"
    )
    try:
        bundle = subprocess.run(
            ["git", "-C", str(clone_dir), "bundle", "create", "-", "--all"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("repo.bundle")
            info.size = len(bundle)
            tar.addfile(info, io.BytesIO(bundle))
        container.put_archive("/tmp", buf.getvalue())
        container.start()
        script = "\n".join(
            [
                "set -ex",
                "mkdir -p /opt/miniconda3/bin /opt/miniconda3/envs",
                "ln -s /opt/testbed /opt/miniconda3/envs/testbed",
                "cat > /opt/miniconda3/bin/activate <<'EOF'\n"
                'conda() { [ "$1" = activate ] && export PATH="/opt/miniconda3/envs/$2/bin:$PATH"; }\n'
                "EOF",
                "rm -rf /testbed && git clone -q /tmp/repo.bundle /testbed",
                f"cd /testbed && git checkout -q {base}",
                "chown -R 0:0 /testbed /opt/testbed",
                "export PATH=/opt/testbed/bin:$PATH PIP_NO_INDEX=1",
                "cd /testbed && python -m pip install -q -e .",
            ]
        )
        code, out = container.exec_run(["bash", "-c", script], user="0:0")
        assert code == 0, out.decode(errors="replace")
        repo, _, tag = name.rpartition(":")
        container.commit(
            repository=repo, tag=tag, changes=["ENV PATH=/usr/local/bin:/usr/bin:/bin"]
        )
    finally:
        container.remove(force=True)


async def test_official_mode_runs_the_instance_eval_script_in_an_official_layout_image(
    provider: SandboxProvider, clone: tuple[Path, str], tmp_path: Path
) -> None:
    repos, _ = clone
    base = _git(["rev-parse", "HEAD~1"], repos / "acme__calc")
    build = {"env": "build", "repos": str(repos), "build_cache": str(tmp_path / "cache")}
    harness = SWEHarness(provider, build)
    try:
        env_image = (await harness.prepare(task_of(base))).image
    finally:
        await harness.aclose()
    assert env_image
    name = official_image("acme__calc-7", "thinktank-test/sweb.eval.{arch}.{id}:latest")
    _official_layout_image(env_image, repos / "acme__calc", base, name)
    # the instance carries its own script, as swebench 5 datasets do
    eval_script = "\n".join(
        [
            "#!/bin/bash", "set -uxo pipefail", "source /opt/miniconda3/bin/activate",
            "conda activate testbed", "cd /testbed", f"git -c core.fileMode=false diff {base}",
            "python -m pip install -e .", f"git checkout {base} tests/test_ops.py",
            f"git apply -v - <<'EOF_114329324912'\n{TEST_PATCH}\nEOF_114329324912",
            ": '>>>>> Start Test Output'", "pytest -rA tests/test_ops.py",
            ": '>>>>> End Test Output'", f"git checkout {base} tests/test_ops.py",
        ]
    )  # fmt: skip
    task = task_of(base, eval_script=eval_script, log_parser="parse_log_pytest", image=name)
    config = {"env": "official", "log_dir": str(tmp_path / "logs"),
              "official_image": "thinktank-test/sweb.eval.{arch}.{id}:latest"}  # fmt: skip
    try:
        report = await validate_gold([task], provider, config=config)
        assert report.ok, report.model_dump()
        script = (tmp_path / "logs" / "acme__calc-7" / "eval.sh").read_text()
        assert "conda activate testbed" in script and "cd /testbed" in script
        missing = await validate_gold(
            [task], provider, config={**config, "official_image": "nowhere/{id}:x"}
        )
        assert "not on this machine" in (missing.results[0].error or "")
        assert "docker pull nowhere/acme_1776_calc-7:x" in (missing.results[0].error or "")
    finally:
        import docker

        docker.from_env().images.remove(name, force=True)


async def test_clone_mode_set_up_has_python_and_bad_input_says_what_to_do(
    provider: SandboxProvider, clone: tuple[Path, str], tmp_path: Path
) -> None:
    repos, head = clone
    base = _git(["rev-parse", "HEAD~1"], repos / "acme__calc")
    spec = SPEC.model_copy(update={"install": ["python --version", "python -c 'import calc'"],
                                   "pre_install": ["python -V"]})  # fmt: skip
    # clone mode: set-up commands run with `python` (the sandbox has only python3)
    harness = SWEHarness(provider, {"env": "clone", "repos": str(repos)})
    try:
        with pytest.raises(
            InfrastructureError, match=r"(?s)set-up failed .*Python 3.*No module named .calc."
        ):
            await harness.evaluate(task_of(base, spec), PATCH)
    finally:
        await harness.aclose()
    # files the tests read at run time: a host folder, read-only, for that repository only
    data = tmp_path / "data"
    data.mkdir()
    (data / "ct.dcm").write_text("pixels")
    mounts = [{"repo": "acme/calc", "source": str(data), "target": "/home/sandbox/data"}]
    harness = SWEHarness(provider, {"env": "clone", "repos": str(repos), "data": mounts})
    try:
        sb = await harness.create_sandbox(task_of(base, spec))
        try:
            assert (await sb.exec("cat /home/sandbox/data/ct.dcm")).stdout == "pixels"
            assert (await sb.exec("touch /home/sandbox/data/x")).exit_code != 0
        finally:
            await sb.close()
        other = task_of(base, spec).model_copy(deep=True)
        other.metadata["instance"]["repo"] = "acme/other"
        sb = await harness.create_sandbox(other)
        try:
            assert (await sb.exec("test -e /home/sandbox/data/ct.dcm")).exit_code != 0
        finally:
            await sb.close()
    finally:
        await harness.aclose()
    # build mode without a swebench specification
    fallback = SWESpec(source="fallback", note="swebench has no specification for acme/calc")
    with pytest.raises(ConfigError, match=r"--swe-env official .* or clone"):
        await SWEHarness(provider, {"env": "build", "repos": str(repos)}).prepare(
            task_of(base, fallback)
        )
    # a base commit the clone lacks
    gone = await validate_gold(
        [task_of("f" * 40)], provider, config={"env": "clone", "repos": str(repos)}
    )
    assert "is not in the clone" in (gone.results[0].error or "")
    assert "git -C" in (gone.results[0].error or "") and "fetch" in (gone.results[0].error or "")
    # no clone at all
    nowhere = await validate_gold(
        [task_of(head)], provider, config={"env": "build", "repos": str(tmp_path)}
    )
    assert "git clone https://github.com/acme/calc" in (nowhere.results[0].error or "")
