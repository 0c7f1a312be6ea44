"""Roles: a prompt template (package data, overridable) and a typed output each.

Every output model parses leniently: a JSON object when the model wrote one, else
the conventional text form (``Answer: X`` / ``\\boxed{X}`` for answers,
``Verdict:``/``Score:`` lines for verifiers, ``best: N`` for judges). Only when
neither works is an :class:`~thinktank.errors.OutputParseError` raised, which the
agent turns into feedback for the model.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError

from thinktank.errors import ConfigError, OutputParseError
from thinktank.llm.structured import extract_json

_ANSWER_LINE = re.compile(
    r"^[ \t>*_#]*(?:final[ \t]+)?answer[ \t*_]*[:=][ \t]*(.+?)[ \t*]*$", re.I | re.M
)


_OBJECT_START = re.compile(r'\{\s*["}]')
"""Where a JSON object can start (its first key is a string): ``\\boxed{42}`` is none."""


_BRACES = {"{": 1, "}": -1}


def final_answer(text: str) -> str | None:
    """The last ``\\boxed{...}`` (balanced) or, failing that, the last ``Answer:`` line."""
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, i = 1, start + len("\\boxed{")
        for j in range(i, len(text)):
            depth += _BRACES.get(text[j], 0)
            if depth == 0:
                return text[i:j].strip()
    found = _ANSWER_LINE.findall(text)
    return found[-1].strip() if found else None


class RoleOutput(BaseModel):
    """Base of typed role outputs."""

    @classmethod
    def from_text(cls, text: str) -> RoleOutput:
        data: Any = None
        if _OBJECT_START.search(text):  # only an object is used: other replies are not parsed
            try:
                data = extract_json(text)
            except ValueError:
                pass
        if isinstance(data, dict):
            try:
                return cls.model_validate(cls._normalise(data))
            except ValidationError:
                pass
        fallback = cls._from_plain(text)
        if fallback is None:
            raise OutputParseError(f"could not read a {cls.__name__} from the reply", raw=text)
        return fallback

    @classmethod
    def _normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data

    @classmethod
    def _from_plain(cls, text: str) -> RoleOutput | None:
        return None


class AnswerOutput(RoleOutput):
    """A solver's (or refiner's, fuser's, debater's) answer."""

    answer: str
    """The final answer, as written after ``Answer:``."""
    reasoning: str = ""
    """The work that led to it."""

    @classmethod
    def _normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "answer" in data and not isinstance(data["answer"], str):
            data = {**data, "answer": str(data["answer"])}
        return data

    @classmethod
    def _from_plain(cls, text: str) -> AnswerOutput | None:
        ans = final_answer(text)
        if ans is None:
            lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
            if not lines:
                return None
            ans = lines[-1]
        return cls(answer=ans, reasoning=text.strip())


class Verification(RoleOutput):
    """A verifier's judgement of one candidate."""

    verdict: bool
    """True when the candidate is judged correct."""
    score: float = Field(default=0.5, ge=0.0, le=1.0)
    """Probability the candidate is correct."""
    rationale: str = ""

    @classmethod
    def _normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        v = out.get("verdict")
        if isinstance(v, str):
            out["verdict"] = v.strip().lower() in {
                "true",
                "yes",
                "correct",
                "approve",
                "approved",
                "pass",
                "valid",
            }
        if "score" not in out and isinstance(out.get("verdict"), bool):
            out["score"] = 1.0 if out["verdict"] else 0.0
        return out

    @classmethod
    def _from_plain(cls, text: str) -> Verification | None:
        m = re.search(
            r"verdict\W{0,3}\s*(correct|incorrect|true|false|yes|no|approve|reject)", text, re.I
        )
        if not m:
            return None
        ok = m.group(1).lower() in {"correct", "true", "yes", "approve"}
        s = re.search(r"score\W{0,3}\s*([01](?:\.\d+)?)", text, re.I)
        return cls(
            verdict=ok,
            score=float(s.group(1)) if s else (1.0 if ok else 0.0),
            rationale=text.strip()[:500],
        )


class Critique(RoleOutput):
    """A critic's findings."""

    issues: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)

    @classmethod
    def _from_plain(cls, text: str) -> Critique | None:
        items = [
            ln.strip(" -*•\t") for ln in text.splitlines() if ln.strip().startswith(("-", "*", "•"))
        ]
        return cls(issues=items or [text.strip()], suggestions=[]) if text.strip() else None


class Selection(RoleOutput):
    """A listwise judge's pick; ``best`` is the 1-based candidate number."""

    best: int = Field(ge=1)
    rationale: str = ""

    @classmethod
    def _normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        for key in ("best", "best_index", "index", "choice", "candidate"):
            if key in data:
                try:
                    return {
                        "best": int(str(data[key]).strip().lstrip("#")),
                        "rationale": str(data.get("rationale", "")),
                    }
                except ValueError:
                    break
        return data

    @classmethod
    def _from_plain(cls, text: str) -> Selection | None:
        m = re.search(r"(?:best|choose|pick|select|winner)\D{0,20}(\d+)", text, re.I) or re.search(
            r"candidate\s*#?(\d+)", text, re.I
        )
        return (
            cls(best=int(m.group(1)), rationale=text.strip()[:500])
            if m and int(m.group(1)) >= 1
            else None
        )


class Decision(RoleOutput):
    """A CEO's decision after a round; the graph enforces every field."""

    action: Literal["continue", "stop"]
    recruit: int = Field(default=0, ge=0, le=16)
    """Critics to have active next round."""
    direction: str = ""
    """Instruction given to every agent next round."""
    token_budget: int = Field(default=0, ge=0)
    """``max_tokens`` per agent call next round (0: keep the default)."""
    answer: str = ""
    """The team's best answer so far, in the CEO's view."""

    @classmethod
    def _normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        a = str(out.get("action", out.get("decision", ""))).strip().lower()
        out["action"] = "stop" if a.startswith(("stop", "end", "finish", "done")) else "continue"
        out.pop("decision", None)
        for k in ("recruit", "token_budget"):
            if k in out:
                try:
                    out[k] = max(0, int(out[k]))
                except (TypeError, ValueError):
                    out[k] = 0
        out["recruit"] = min(int(out.get("recruit", 0)), 16)
        return out

    @classmethod
    def _from_plain(cls, text: str) -> Decision | None:
        m = re.search(r"\b(stop|continue)\b", text, re.I)
        if not m:
            return None
        return cls(
            action="stop" if m.group(1).lower() == "stop" else "continue",
            answer=final_answer(text) or "",
        )


RoleAct = Literal["answer", "refine", "score", "critique", "select", "fuse", "decide"]
"""What a role does for its graph. ``answer``: writes a candidate answer to the task;
``refine``: rewrites one candidate (an answer too); ``score``: judges each candidate it
reads, one run per candidate; ``critique``: comments on the answers it reads;
``select``: picks one of the answers it reads; ``fuse``: writes one answer from all it
reads; ``decide``: coordinates rounds (stop, continue, recruit)."""


class RoleSpec(BaseModel):
    """A role: name, default prompt, output type, and what it does for the graph —
    the scheduler, compiler, selection, diagram and optimizer read these, not names."""

    name: str
    output: type[RoleOutput]
    uses_tools: bool = False
    """Whether the role gets the graph's tools by default."""
    reads: Literal["task", "answers"] = "task"
    """What the role works on. ``task``: the task itself (plus whatever edges bring).
    ``answers``: other nodes' answers (it verifies, critiques, judges or fuses them),
    so it never runs unless an edge brings it answers; graphs are checked for that."""
    does: RoleAct = "answer"
    """What it does for the graph (see :data:`RoleAct`)."""

    @property
    def answers(self) -> bool:
        """Its outputs are candidate answers (answer, refine, fuse)."""
        return self.does in ("answer", "refine", "fuse")

    @property
    def targets_one(self) -> bool:
        """Each run works on one candidate (``score`` judges it, ``refine`` rewrites it)."""
        return self.does in ("score", "refine")

    _prompts: ClassVar[dict[str, str]] = {}

    def prompt(self, override_dir: str | Path | None = None) -> str:
        return load_prompt(self.name, override_dir)


ROLES: dict[str, RoleSpec] = {
    "solver": RoleSpec(name="solver", output=AnswerOutput, uses_tools=True),
    "verifier": RoleSpec(
        name="verifier", output=Verification, uses_tools=True, reads="answers", does="score"
    ),
    "critic": RoleSpec(name="critic", output=Critique, reads="answers", does="critique"),
    "refiner": RoleSpec(name="refiner", output=AnswerOutput, uses_tools=True, does="refine"),
    "fuser": RoleSpec(name="fuser", output=AnswerOutput, reads="answers", does="fuse"),
    "judge": RoleSpec(name="judge", output=Selection, reads="answers", does="select"),
    "debater": RoleSpec(name="debater", output=AnswerOutput, uses_tools=True),
    "ceo": RoleSpec(name="ceo", output=Decision, does="decide"),
}
ROLES["aggregator"] = ROLES["fuser"].model_copy(update={"name": "fuser"})
ROLES["selector"] = ROLES["judge"].model_copy(update={"name": "judge"})


def role_does(name: str) -> RoleAct | None:
    """What the role ``name`` does (``None`` for a name that is no role)."""
    spec = ROLES.get(name)
    return spec.does if spec is not None else None


def roles_doing(*acts: RoleAct) -> frozenset[str]:
    """Names (aliases included) of the roles that do any of ``acts``."""
    return frozenset(n for n, r in ROLES.items() if r.does in acts)


ANSWER_ROLES = roles_doing("answer", "refine", "fuse")
"""Roles whose outputs are candidate answers (their aliases included)."""

SELECTION_NEEDS: dict[str, RoleAct] = {
    "verifier": "score",
    "mav": "score",
    "judge": "select",
    "fuser": "fuse",
}
"""Selection method → what the node it selects with does (by default, the first such node)."""


def lookup_role(name: str) -> RoleSpec:
    """Look up a role; unknown names list the valid ones."""
    try:
        return ROLES[name]
    except KeyError:
        raise ConfigError(
            f"unknown role {name!r}; valid roles: {', '.join(sorted(ROLES))}"
        ) from None


@cache
def _packaged_prompt(name: str) -> str:
    return (
        resources.files("thinktank.agents")
        .joinpath(f"prompts/{name}.md")
        .read_text(encoding="utf-8")
        .strip()
    )


def load_prompt(name: str, override_dir: str | Path | None = None) -> str:
    """A role's system prompt: ``override_dir/<name>.md`` when present, else the packaged one."""
    if override_dir is not None:
        p = Path(override_dir) / f"{name}.md"
        if p.exists():
            return p.read_text(encoding="utf-8").strip()
    return _packaged_prompt(lookup_role(name).name)
