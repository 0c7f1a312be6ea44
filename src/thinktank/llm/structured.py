"""Structured output: ask for a pydantic model, get a validated instance.

Uses ``response_format`` with a JSON schema when the endpoint supports it;
otherwise the schema goes into the instructions. Either way the reply is parsed
(fences and prose around the JSON object tolerated) and validated; on failure the
model gets one repair round with the validation error. A second failure raises
:class:`~thinktank.errors.OutputParseError` carrying an excerpt of the raw reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from thinktank.errors import OutputParseError

if TYPE_CHECKING:
    # the role parsers import this module for extract_json: keep the client stack out
    from thinktank.llm.base import ChatModel

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (inside a fence or bare); raises ``ValueError``."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        cand = cand.strip()
        try:
            return json.loads(cand)
        except ValueError:
            pass
        start = cand.find("{")
        while start != -1:
            try:
                obj, _ = json.JSONDecoder().raw_decode(cand[start:])
                return obj
            except ValueError:
                start = cand.find("{", start + 1)
    raise ValueError("no JSON object found")


def schema_format(output_type: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": output_type.__name__,
            "schema": output_type.model_json_schema(),
            "strict": False,
        },
    }


def parse_output(text: str, output_type: type[T]) -> T:
    """Parse and validate; raises :class:`OutputParseError` with an excerpt."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        raise OutputParseError(
            f"expected a JSON object for {output_type.__name__}", raw=text
        ) from exc
    try:
        return output_type.model_validate(data)
    except ValidationError as exc:
        raise OutputParseError(
            f"reply does not match {output_type.__name__}: {exc.errors(include_url=False)}",
            raw=text,
        ) from exc


async def generate_structured(
    model: ChatModel,
    messages: Sequence[Any],
    output_type: type[T],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    repair: bool = True,
) -> T:
    """One completion parsed into ``output_type`` (with one repair round)."""
    from thinktank.llm.types import as_dicts

    msgs = as_dicts(messages)
    schema = json.dumps(output_type.model_json_schema(), ensure_ascii=False)
    instruction = (
        f"Reply with only a JSON object that matches this JSON schema, no other text:\n{schema}"
    )
    use_schema = model.capabilities.json_schema
    if not use_schema:
        msgs = (
            [*msgs, {"role": "user", "content": instruction}]
            if msgs and msgs[-1]["role"] != "user"
            else [
                *msgs[:-1],
                {"role": "user", "content": f"{msgs[-1].get('content') or ''}\n\n{instruction}"},
            ]
        )
    kw: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    if use_schema:
        kw["response_format"] = schema_format(output_type)
    reply = (await model.generate(msgs, **kw))[0].text
    try:
        return parse_output(reply, output_type)
    except OutputParseError as first:
        if not repair:
            raise
        msgs = [
            *msgs,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": f"That reply could not be used: {first}. {instruction}"},
        ]
        reply = (await model.generate(msgs, **kw))[0].text
        return parse_output(reply, output_type)
