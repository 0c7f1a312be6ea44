"""Code answers judged by hidden tests run in a sandbox (HumanEval / MBPP style).

The task carries its tests in metadata:

* ``test`` — test code that raises on failure: a ``def check(candidate)`` function
  (HumanEval; it is called with ``entry_point``) or plain ``assert`` lines (MBPP);
* ``entry_point`` — the function under test (HumanEval);
* ``code_prompt`` — the signature + docstring given to the model (HumanEval); a reply
  that only writes the body is appended to it, a reply that defines
  ``entry_point`` itself is used whole (with the prompt's imports kept);
* ``test_setup`` — code run before the program (MBPP ``test_setup_code``).

:func:`sandbox_runner` turns any sandbox into the
:data:`~thinktank.graphs.answers.code.TestRunner` hook used for behaviour voting.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.graphs.answers.code import TestRunner, extract_code

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task
    from thinktank.sandboxes.base import Sandbox
    from thinktank.sandboxes.types import ExecResult


class CodeTestsConfig(StrictModel):
    """Run the task's hidden tests against the extracted program."""

    type: Literal["code_tests"] = "code_tests"
    """Discriminator."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Wall-clock limit for one test run; a timeout fails the answer."""
    python: str = "python3"
    """Interpreter inside the sandbox."""
    directory: str = ".thinktank-eval"
    """Sandbox directory (relative to its workdir) where programs are written."""

    def build(self) -> CodeTestsEvaluator:
        return CodeTestsEvaluator(self)


def _imports_of(source: str) -> str:
    lines = [ln for ln in source.splitlines() if re.match(r"(?:from\s+\S+\s+)?import\s", ln)]
    return "\n".join(lines)


def build_program(task: Task, code: str) -> str:
    """The full test program: setup, the candidate, the tests and the ``check`` call."""
    meta = task.metadata
    test = meta.get("test")
    if not isinstance(test, str) or not test.strip():
        raise ConfigError(
            f"task {task.id!r}: code tasks need metadata['test'] (test code that raises on "
            "failure, e.g. 'def check(candidate): ...' or assert lines)"
        )
    entry = meta.get("entry_point")
    prompt = meta.get("code_prompt") or ""
    if (
        entry
        and prompt
        and not re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry)}\s*\(", code, re.M)
    ):
        program = prompt + code  # a completion of the prompt's function body
    else:
        program = "\n".join(x for x in (_imports_of(prompt), code) if x)
    parts = [meta.get("test_setup") or "", program, test]
    if entry and re.search(r"^def\s+check\s*\(", test, re.M):
        parts.append(f"check({entry})")
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


async def run_program(
    sandbox: Sandbox,
    source: str,
    *,
    timeout_s: float = 30.0,
    python: str = "python3",
    directory: str = ".thinktank-eval",
) -> ExecResult:
    """Write ``source`` to a file in the sandbox and run it; returns the exec result."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    path = f"{directory.rstrip('/')}/prog_{digest}.py"
    await sandbox.write_file(path, source)
    return await sandbox.exec(f"{shlex.quote(python)} {shlex.quote(path)}", timeout=timeout_s)


def sandbox_runner(
    sandbox: Sandbox,
    *,
    timeout_s: float = 30.0,
    python: str = "python3",
    directory: str = ".thinktank-eval",
) -> TestRunner:
    """A :data:`TestRunner` that runs ``program + test`` as one script in ``sandbox``."""

    async def runner(program: str, test: str) -> bool:
        result = await run_program(
            sandbox,
            f"{program}\n\n{test}\n",
            timeout_s=timeout_s,
            python=python,
            directory=directory,
        )
        return result.exit_code == 0 and not result.timed_out

    return runner


def _tail(text: str, n: int = 2000) -> str:
    return text if len(text) <= n else "…" + text[-n:]


class CodeTestsEvaluator(Evaluator):
    """Passes iff the program with the hidden tests exits 0 within the timeout."""

    name = "code_tests"

    def __init__(self, config: CodeTestsConfig | None = None) -> None:
        self.config = config or CodeTestsConfig()

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        code = extract_code(answer) if answer is not None else None
        if code is None:
            return no_answer(None, "no code block found in the answer")
        source = build_program(task, code)
        sandbox = (context or EvalContext()).require_sandbox(self.name)
        cfg = self.config
        result = await run_program(
            sandbox, source, timeout_s=cfg.timeout_s, python=cfg.python, directory=cfg.directory
        )
        timed_out = result.timed_out
        ok = result.exit_code == 0 and not timed_out
        reason = (
            "tests passed" if ok else ("timed out" if timed_out else f"exit {result.exit_code}")
        )
        return Verdict.of(
            ok,
            answer=code,
            reason=reason,
            details={
                "exit_code": result.exit_code,
                "timed_out": timed_out,
                "stdout": _tail(result.stdout or ""),
                "stderr": _tail(result.stderr or ""),
            },
        )
