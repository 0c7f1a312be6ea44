"""JSON replies for ``response_format`` requests.

``json_object`` requests get the payload as JSON. ``json_schema`` requests get a
minimal instance of the schema in which every property whose name matches a
payload key (or a known alias of one) takes the payload's value. This is enough
for structured-output plumbing (a CEO ``Decision``, a verdict model, an
``answer`` field) to round-trip through the simulator with meaningful values.
"""

from __future__ import annotations

import json
from typing import Any

_ALIASES: dict[str, tuple[str, ...]] = {
    "answer": ("final_answer", "result", "solution"),
    "reasoning": ("rationale", "thoughts", "explanation", "analysis"),
    "correct": ("is_correct", "approved", "approve", "valid", "passed"),
    "score": ("confidence", "probability"),
    "best": ("best_index", "choice", "selected", "winner"),
    "reason": ("feedback", "critique", "comment"),
}


def _expand(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    for key, aliases in _ALIASES.items():
        if key in payload:
            for alias in aliases:
                out.setdefault(alias, payload[key])
    return out


def render_json(payload: dict[str, Any], response_format: dict[str, Any]) -> str:
    """The reply text for ``payload`` under an OpenAI ``response_format``."""
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            return json.dumps(fill_schema(schema, _expand(payload)))
    return json.dumps(payload)


def _matches(value: Any, schema: dict[str, Any]) -> bool:
    t = schema.get("type")
    if "enum" in schema:
        return value in schema["enum"]
    kinds = {
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
        "array": list,
        "object": dict,
    }
    if isinstance(t, str) and t in kinds:
        if t in ("integer", "number") and isinstance(value, bool):
            return False
        return isinstance(value, kinds[t])  # type: ignore[arg-type]
    return t is None


_POSITIVE = ("succ", "pass", "correct", "yes", "true", "approv", "accept", "valid")
_NEGATIVE = ("fail", "incorrect", "wrong", "no", "false", "reject", "invalid")


def _verdict_word(schema: dict[str, Any], payload: dict[str, Any]) -> str | None:
    """A verdict enum (``"success" | "failure"``, ``"pass" | "fail"``…) for a payload's
    boolean ``correct``, so a judge asked for words answers with its verdict."""
    verdict = payload.get("correct")
    words = schema.get("enum")
    if not isinstance(verdict, bool) or not isinstance(words, list):
        return None
    want = _POSITIVE if verdict else _NEGATIVE
    avoid = _NEGATIVE if verdict else _POSITIVE
    for w in words:
        low = str(w).strip().lower()
        if isinstance(w, str) and low.startswith(want) and not low.startswith(avoid):
            return w
    return None


def fill_schema(
    schema: dict[str, Any],
    payload: dict[str, Any] | None = None,
    root: dict[str, Any] | None = None,
) -> Any:
    """A minimal value valid for ``schema`` (objects take matching ``payload`` values)."""
    root = root or schema
    payload = payload or {}
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        defs = root.get("$defs") or root.get("definitions") or {}
        return fill_schema(defs.get(name, {}), payload, root)
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return fill_schema(options[0], payload, root)
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object" or "properties" in schema:
        out: dict[str, Any] = {}
        for name, sub in (schema.get("properties") or {}).items():
            if name in payload and _matches(payload[name], sub):
                out[name] = payload[name]
            elif (word := _verdict_word(sub, payload)) is not None:
                out[name] = word
            else:
                out[name] = fill_schema(sub, {}, root)
        return out
    if t == "array":
        item = schema.get("items") or {}
        return [fill_schema(item, {}, root) for _ in range(int(schema.get("minItems", 0)))]
    if t == "string":
        return "x" * int(schema.get("minLength", 0))
    if t in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return int(low) + (1 if "exclusiveMinimum" in schema else 0) if t == "integer" else low
    if t == "boolean":
        return False
    return None
