"""The shell scripts the harness runs in a sandbox: apply a patch, evaluate an instance.

:func:`eval_script` is the official evaluation script's shape — activate the
environment, run the spec's ``eval_commands``, re-install the repository (the spec's
``install``), reset the test patch's files to the base commit and apply the test patch,
run the test command between the ``>>>>> Start Test Output`` / ``>>>>> End Test
Output`` markers, record its exit status, reset the test files again. An instance that
carries its own ``eval_script`` (``swebench`` 5 datasets) runs that script, with the
environment activation and paths translated for ``build`` and ``clone`` environments
and left as they are for ``official`` images.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from thinktank.evals.swe.loader import SWEInstance, SWESpec
from thinktank.evals.swe.logs import END, EXIT_MARK, START

HEREDOC = "EOF_114329324912"
OFFICIAL_ACTIVATE = ("source /opt/miniconda3/bin/activate", "conda activate testbed")
TEST_PATCH_FAILED = ">>>>> Test Patch Failed"
PYTHON_SHIM = (
    'command -v python >/dev/null 2>&1 || { python() { python3 "$@"; }; export -f python; }'
)
"""Makes ``python`` mean ``python3`` where only the latter exists (the sandbox image)."""

MODEL_APPLY_SCRIPT = r"""
cd "$1" 2>/dev/null || { echo "@@ERROR no repository at $1"; exit 3; }
model="$2"; fuzz="$3"
if ! grep -q '[^[:space:]]' "$model" 2>/dev/null; then
  echo "@@EMPTY"
elif git apply --verbose --whitespace=nowarn "$model" 2>&1; then
  echo "@@APPLIED git apply"
else
  echo "@@GIT-APPLY-FAILED"
  if patch --batch --forward --fuzz="$fuzz" -p1 -i "$model" 2>&1; then
    echo "@@APPLIED patch --fuzz=$fuzz"
  else
    echo "@@APPLY-FAILED"
  fi
fi
"""
"""``sh -c MODEL_APPLY_SCRIPT sh REPO PATCH_FILE FUZZ``: apply the model's patch (``git
apply``, else ``patch --fuzz``); prints ``@@`` markers."""


@dataclass(frozen=True)
class Layout:
    """Where an environment keeps the repository and how it activates its Python."""

    repo: str
    """Absolute path of the repository in the sandbox."""
    activate: tuple[str, ...]
    """Shell lines that make the environment's ``python`` the one on the ``PATH``."""
    official: bool = False
    """An official SWE-bench image (its scripts run unchanged)."""


def _reset(base: str, files: Sequence[str]) -> list[str]:
    """Reset each test file to the base commit; a file the base lacks is removed."""
    out = []
    for f in files:
        q = shlex.quote(f)
        out.append(
            f"if git cat-file -e {base}:{q} 2>/dev/null; then git checkout {base} -- {q}; "
            f"else rm -f -- {q}; fi"
        )
    return out


def _with_exit_code(lines: list[str]) -> list[str]:
    """Record the test command's status right before the end marker, echo it after."""
    for i, line in enumerate(lines):
        if END in line:
            return [
                *lines[:i],
                "THINKTANK_TEST_EXIT=$?",
                line,
                f'echo "{EXIT_MARK}: $THINKTANK_TEST_EXIT"',
                *lines[i + 1 :],
            ]
    return lines


def _after_test_patch(lines: list[str]) -> list[str]:
    """Say when the test patch did not apply (the tests run anyway, as officially)."""
    out: list[str] = []
    in_doc = False
    for line in lines:
        out.append(line)
        if line.startswith("git apply") and f"<<'{HEREDOC}'" in line:
            in_doc = True
        elif in_doc and line == HEREDOC:
            in_doc = False
            out.append(f"[ $? -eq 0 ] || echo '{TEST_PATCH_FAILED}'")
    return out


def eval_script(
    instance: SWEInstance,
    spec: SWESpec,
    layout: Layout,
    *,
    base: str,
    reinstall: bool = True,
    tests: Sequence[str] | None = None,
) -> str:
    """The evaluation script for ``instance`` in ``layout``; ``base`` is the commit the
    sandbox's repository calls the base (a snapshot's own commit in uploaded checkouts)."""
    if spec.eval_script:
        lines = _translate(list(spec.eval_script), instance, layout, base)
    else:
        lines = _generated(instance, spec, layout, base, reinstall=reinstall, tests=tests)
    # one stream, in order: the markers (traced on stderr) around the tests' output
    body = _after_test_patch(_with_exit_code(lines))
    return "\n".join(["exec 2>&1", "set -uxo pipefail", *body, ""])


def _translate(lines: list[str], instance: SWEInstance, layout: Layout, base: str) -> list[str]:
    if layout.official and base == instance.base_commit and layout.repo == "/testbed":
        return lines
    out: list[str] = []
    for line in lines:
        if not layout.official and line.strip() == OFFICIAL_ACTIVATE[0]:
            out.extend(layout.activate)
            continue
        if not layout.official and line.strip() == OFFICIAL_ACTIVATE[1]:
            continue
        if not layout.official and line.strip() == "git show":
            # an uploaded snapshot's one commit is the whole repository: show just its name
            out.append("git log -1 --format='%H %s'")
            continue
        if layout.repo != "/testbed":
            line = line.replace("/testbed", layout.repo)
        if base != instance.base_commit:
            line = line.replace(instance.base_commit, base)
        out.append(line)
    return out


def _generated(
    instance: SWEInstance,
    spec: SWESpec,
    layout: Layout,
    base: str,
    *,
    reinstall: bool,
    tests: Sequence[str] | None,
) -> list[str]:
    repo = shlex.quote(layout.repo)
    files = instance.test_files()
    env = [f"export {k}={shlex.quote(v)}" for k, v in spec.env.items()]
    lines = [
        *layout.activate,
        f"cd {repo}",
        *spec.eval_commands,
        *env,
        f"git config --global --add safe.directory {repo} || true",
        "git status",
        f"git -c core.fileMode=false diff {base}",
        *layout.activate,
    ]
    if reinstall:
        lines += spec.install
    lines += _reset(base, files)
    if instance.test_patch.strip():
        lines += [f"git apply -v - <<'{HEREDOC}'\n{instance.test_patch.rstrip(chr(10))}\n{HEREDOC}"]
    lines += [f": '{START}'", spec.test_command(tests), f": '{END}'", *_reset(base, files)]
    # the heredoc is one list item here; split it so markers are found line by line
    return "\n".join(lines).split("\n")
