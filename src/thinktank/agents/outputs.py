"""What roles reply with: typed outputs, each parsed leniently from a model's reply.

Every output model parses leniently: a JSON object when the model wrote one, else
the conventional text form (``Answer: X`` / ``\\boxed{X}`` for answers,
``Verdict:``/``Score:`` lines for verifiers, ``best: N`` for judges). Only when
neither works is an :class:`~thinktank.errors.OutputParseError` raised, which the
agent turns into feedback for the model.

Your own output types (a pydantic model, or a JSON schema through
:mod:`thinktank.agents.schema`) become :class:`CustomOutput` s: read from a JSON
object, else from ``field: value`` lines (``answer`` as an answer is read), else —
for a type with one text or list field left — from the whole reply.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError

from thinktank.errors import OutputParseError
from thinktank.llm.structured import extract_json

# the value runs to its line's last character that is not a blank or a star (one way to
# read it: a lazy value before optional trailing blanks was quadratic in the line)
_ANSWER_LINE = re.compile(
    r"^[ \t>*_#]*(?:final[ \t]+)?answer[ \t*_]*[:=][ \t]*(.*[^ \t*\n])[ \t*]*$", re.I | re.M
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


class ContextOutput(RoleOutput):
    """What a role that produces context for others (a planner, a retriever) wrote."""

    text: str

    @classmethod
    def _from_plain(cls, text: str) -> ContextOutput | None:
        return cls(text=text.strip()) if text.strip() else None


BUILT_IN_OUTPUTS: tuple[type[RoleOutput], ...] = (
    AnswerOutput,
    Verification,
    Critique,
    Selection,
    Decision,
    ContextOutput,
)
"""The output types thinktank defines (their prompts describe their format)."""

FREE_FORM: tuple[type[RoleOutput], ...] = (AnswerOutput, Critique, ContextOutput)
"""Built-in output types any reply parses into (the others need their fields written)."""

DEFAULT_OUTPUT: dict[str, type[RoleOutput]] = {
    "answer": AnswerOutput,
    "refine": AnswerOutput,
    "fuse": AnswerOutput,
    "score": Verification,
    "critique": Critique,
    "select": Selection,
    "decide": Decision,
    "context": ContextOutput,
}
"""The output type of a role that declares none, by what it does."""

_TRUE = {"true", "yes", "correct", "pass", "passed", "approve", "approved", "valid", "ok"}
_FALSE = {"false", "no", "incorrect", "fail", "failed", "reject", "rejected", "invalid"}
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*\S)\s*$", re.M)


def _kind(annotation: Any) -> str:
    """``text``, ``list``, ``bool`` or ``other``: how a plain reply can fill a field."""
    if annotation is str:
        return "text"
    if annotation is bool:
        return "bool"
    if get_origin(annotation) is list and get_args(annotation)[:1] == (str,):
        return "list"
    return "other"


class CustomOutput(RoleOutput):
    """Base of output types given by users (see the module docstring)."""

    @classmethod
    def from_text(cls, text: str) -> RoleOutput:
        problem = ""
        if _OBJECT_START.search(text):
            try:
                data = extract_json(text)
            except ValueError:
                data = None
            if isinstance(data, dict):
                try:
                    return cls.model_validate(_booleans(cls, data))
                except ValidationError as exc:
                    problem = "; " + _errors(exc)
        # an object that does not validate was meant as the output: no guessing from the text
        fallback = None if problem else cls._from_plain(text)
        if fallback is None:
            from thinktank.agents.schema import describe_output

            raise OutputParseError(
                f"could not read a {cls.__name__} from the reply{problem}; "
                f"expected {describe_output(cls)}",
                raw=text,
            )
        return fallback

    @classmethod
    def _from_plain(cls, text: str) -> RoleOutput | None:
        data: dict[str, Any] = {}
        missing: list[str] = []
        for name, info in cls.model_fields.items():
            if name == "answer":
                value: Any = final_answer(text)
            else:
                found = re.findall(
                    rf"^[ \t>*_#-]*{re.escape(name)}[ \t*_]*[:=][ \t]*(.+?)[ \t*]*$",
                    text,
                    re.I | re.M,
                )
                value = found[-1] if found else None
            if value is not None:
                data[name] = value
            elif info.is_required():
                missing.append(name)
        if len(missing) == 1:
            kind = _kind(cls.model_fields[missing[0]].annotation)
            if kind == "text" and text.strip():
                data[missing[0]] = text.strip()
            elif kind == "list":
                items = _BULLET.findall(text) or [
                    ln.strip() for ln in text.splitlines() if ln.strip()
                ]
                if items:
                    data[missing[0]] = items
        try:
            return cls.model_validate(_booleans(cls, data))
        except ValidationError:
            return None


def _booleans(cls: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Words a model writes for yes and no (``correct``, ``pass``, …) read as booleans."""
    out = dict(data)
    for name, info in cls.model_fields.items():
        value = out.get(name)
        if _kind(info.annotation) == "bool" and isinstance(value, str):
            word = value.strip().lower().strip(".")
            if word in _TRUE or word in _FALSE:
                out[name] = word in _TRUE
    return out


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5]
    )


ACT_FIELDS: dict[str, tuple[str, ...]] = {
    "answer": ("answer",),
    "refine": ("answer",),
    "fuse": ("answer",),
    "score": ("score", "verdict"),
    "select": ("best",),
    "decide": ("action",),
}
"""Fields (any one of) the output of a role doing each act needs, for the graph to use it."""


def as_output_type(model: type[BaseModel], name: str) -> type[RoleOutput]:
    """``model`` as a role output type: itself when it is one, else a :class:`CustomOutput`
    subclass with its fields (named ``name``)."""
    if issubclass(model, RoleOutput):
        return model
    return type(name, (model, CustomOutput), {"__module__": model.__module__})
