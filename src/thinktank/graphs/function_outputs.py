"""What a function node returned, as the outputs of a sample (see
:mod:`thinktank.graphs.functions` for what each act may return), and what a function
that raised is recorded as."""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from thinktank.agents.outputs import AnswerOutput, Decision, Selection, Verification
from thinktank.graphs.state import NodeOutput

_HINTS: dict[str, str] = {
    "answer": "return the answer as a str, an AnswerOutput or a mapping with 'answer'",
    "score": "return a score in [0, 1] or a verdict (bool) per candidate: a mapping "
    "{candidate id: value}, a list in the order of the candidates, or one value when "
    "there is one candidate",
    "critique": "return text, a list of issues or a mapping",
    "select": "return the 1-based number or the id of the chosen candidate",
    "decide": "return a Decision or a mapping with 'action'",
}


class ReturnError(TypeError):
    """A function node returned something its act cannot use."""


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def _answer(value: Any) -> tuple[Any, str | None]:
    value = _plain(value)
    if value is None:
        return None, None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return AnswerOutput(answer=str(value)).model_dump(), str(value)
    if isinstance(value, Mapping) and "answer" in value:
        answer = value["answer"]
        return dict(value), None if answer is None else str(answer)
    raise ReturnError(_HINTS["answer"])


def _verification(value: Any) -> dict[str, Any]:
    value = _plain(value)
    if isinstance(value, bool):
        return {"verdict": value, "score": 1.0 if value else 0.0, "rationale": ""}
    if isinstance(value, (int, float)):
        if not 0.0 <= value <= 1.0:
            raise ReturnError(f"a score must lie in [0, 1], not {value}")
        return {"verdict": value >= 0.5, "score": float(value), "rationale": ""}
    if isinstance(value, Mapping) and ("score" in value or "verdict" in value):
        data = Verification._normalise(dict(value))
        if "verdict" not in data:
            data["verdict"] = float(data["score"]) >= 0.5
        try:
            return {**data, **Verification.model_validate(data).model_dump()}
        except ValidationError as exc:
            raise ReturnError(f"a score that does not fit: {exc.errors()[0]['msg']}") from None
    raise ReturnError(_HINTS["score"])


def _scores(value: Any, candidates: Sequence[NodeOutput]) -> list[tuple[str, dict[str, Any]]]:
    ids = [c.id for c in candidates]
    if isinstance(value, Mapping) and value and set(value) <= set(ids):
        return [(cid, _verification(value[cid])) for cid in ids if cid in value]
    if isinstance(value, Mapping) and not ("score" in value or "verdict" in value):
        unknown = sorted(set(value) - set(ids))
        raise ReturnError(f"scores for {unknown}, which are not candidates; candidates: {ids}")
    if isinstance(value, (list, tuple)):
        if len(value) != len(ids):
            raise ReturnError(f"{len(value)} scores for {len(ids)} candidates")
        return [(cid, _verification(v)) for cid, v in zip(ids, value, strict=True)]
    if len(ids) != 1:
        raise ReturnError(f"one value for {len(ids)} candidates; {_HINTS['score']}")
    return [(ids[0], _verification(value))]


def _selection(value: Any, candidates: Sequence[NodeOutput]) -> dict[str, Any]:
    value = _plain(value)
    ids = [c.id for c in candidates]
    if isinstance(value, str) and value in ids:
        return {"best": ids.index(value) + 1, "rationale": ""}
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"best": value}
    if isinstance(value, Mapping):
        return Selection.model_validate(Selection._normalise(dict(value))).model_dump()
    raise ReturnError(_HINTS["select"])


def convert(
    does: str, value: Any, inputs: Sequence[NodeOutput], target: str | None
) -> list[tuple[str | None, Any, str | None]]:
    """``(target, output, answer)`` per output of a function node that returned ``value``."""
    candidates = [o for o in inputs if o.answer is not None]
    if does in ("answer", "refine", "fuse"):
        output, answer = _answer(value)
        return [(target, output, answer)]
    if does == "score":
        return [(cid, out, None) for cid, out in _scores(value, candidates)]
    if does == "select":
        return [(None, _selection(value, candidates), None)]
    if does == "decide":
        data = _plain(value)
        if not isinstance(data, Mapping):
            raise ReturnError(_HINTS["decide"])
        return [(None, Decision.model_validate(Decision._normalise(dict(data))).model_dump(), None)]
    value = _plain(value)
    if does == "critique":
        if isinstance(value, str):
            value = {"issues": [value], "suggestions": []}
        elif isinstance(value, (list, tuple)):
            value = {"issues": [str(v) for v in value], "suggestions": []}
        elif not isinstance(value, Mapping) and value is not None:
            raise ReturnError(_HINTS["critique"])
    elif isinstance(value, str):
        value = {"text": value}
    return [(None, to_jsonable_python(value, fallback=str), None)]


def describe(exc: BaseException) -> str:
    """``Type: message (at file.py:LINE in function)``: where the function raised."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text
