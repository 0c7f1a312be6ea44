"""Helpers of the tool contract: argument decoding, error wording, schema tidying.

The messages written here are read by a model, so they say what was wrong and
show the expected call signature, which is usually enough for it to retry right.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktank.errors import ToolCallError


def decode_arguments(
    name: str, arguments: str | Mapping[str, Any] | None, signature: Callable[[], str]
) -> dict[str, Any]:
    """The model's arguments as a dict; raises :class:`ToolCallError` when they are not
    a JSON object. Tolerates an empty string and a doubly JSON-encoded object."""
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise ToolCallError(
            f"the arguments for '{name}' must be a JSON object, not {type(arguments).__name__}. "
            f"Expected: {signature()}"
        )
    text = arguments.strip()
    if not text:
        return {}
    try:
        value: Any = json.loads(text)
        if isinstance(value, str) and value.strip().startswith("{"):
            value = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ToolCallError(
            f"the arguments for '{name}' are not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}). Send a single JSON object. Expected: {signature()}"
        ) from exc
    if not isinstance(value, dict):
        raise ToolCallError(
            f"the arguments for '{name}' must be a JSON object, not {type(value).__name__}. "
            f"Expected: {signature()}"
        )
    return value


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_validation_error(name: str, exc: ValidationError, signature: str) -> ToolCallError:
    """One line per problem, then the expected signature."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        if err["type"] == "extra_forbidden":
            lines.append(f"- unexpected argument '{where}'")
        elif err["type"] == "missing":
            lines.append(f"- {where}: required argument missing")
        else:
            lines.append(f"- {where}: {err['msg']} (got {_short(err.get('input'))})")
    return ToolCallError(
        f"invalid arguments for '{name}':\n" + "\n".join(lines) + f"\nExpected: {signature}"
    )


def _type_name(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return "|".join(_type_name(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array[{_type_name(schema['items'])}]"
    return "|".join(kind) if isinstance(kind, list) else str(kind)


def signature_of(name: str, schema: Mapping[str, Any]) -> str:
    """``name(a: string, b?: integer = 3)`` from a JSON object schema."""
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parts = [f"{p}: {_type_name(s)}" for p, s in props.items() if p in required]
    for p, s in props.items():
        if p not in required:
            default = f" = {json.dumps(s['default'])}" if "default" in s else ""
            parts.append(f"{p}?: {_type_name(s)}{default}")
    return f"{name}({', '.join(parts)})"


def clean_schema(schema: Any) -> Any:
    """Drop pydantic's ``title`` keys, which only add tokens to the prompt."""
    if isinstance(schema, list):
        return [clean_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("default", "examples", "const", "enum"):
            out[key] = value
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {k: clean_schema(v) for k, v in value.items()}
        else:
            out[key] = clean_schema(value)
    return out


def render_value(value: Any) -> str:
    """Text for whatever a tool returned: strings as is, models and data as JSON."""
    if value is None:
        return "(no output)"
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return str(value)
