"""Output types from JSON schemas or as given to a role, and described in words.

:func:`schema_model` turns the JSON schema of an object into a pydantic model (a
:class:`~thinktank.agents.outputs.CustomOutput`), so a role declared in YAML parses
and validates its replies like one declared with a pydantic model. The supported
part of JSON Schema is what output types use: ``type`` (``object``, ``array``,
``string``, ``integer``, ``number``, ``boolean``, ``null`` or a list of them),
``properties``, ``required``, ``items``, ``enum``, ``const``, ``anyOf``/``oneOf``,
``$ref`` into ``$defs``/``definitions``, ``default``, ``description``, and the bounds
``minimum``/``maximum`` (exclusive too), ``minLength``/``maxLength``,
``minItems``/``maxItems``. Anything else that constrains a value is refused by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, Union

from pydantic import BaseModel, Field, create_model

from thinktank.agents.callables import importable_path, resolve
from thinktank.agents.outputs import (
    ACT_FIELDS,
    BUILT_IN_OUTPUTS,
    CustomOutput,
    RoleOutput,
    as_output_type,
)
from thinktank.errors import ConfigError

_IGNORED = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "format",
     "additionalProperties", "readOnly", "writeOnly", "deprecated", "$defs", "definitions"}
)  # fmt: skip
_BOUNDS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
}
_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}
_STRUCTURE = frozenset({"type", "properties", "required", "items", "enum", "const", "anyOf",
                        "oneOf", "$ref"})  # fmt: skip


class _Converter:
    def __init__(self, root: dict[str, Any], name: str, what: str) -> None:
        self.defs = {**(root.get("definitions") or {}), **(root.get("$defs") or {})}
        self.name = name
        self.what = what
        self.models: dict[str, type[BaseModel]] = {}

    def fail(self, where: str, message: str) -> ConfigError:
        at = f" at {where}" if where else ""
        return ConfigError(f"{self.what}: the output schema{at} {message}")

    def check(self, schema: Any, where: str) -> dict[str, Any]:
        if not isinstance(schema, dict):
            raise self.fail(where, f"must be a mapping, not {type(schema).__name__}")
        unknown = sorted(set(schema) - _IGNORED - _STRUCTURE - set(_BOUNDS))
        if unknown:
            raise self.fail(
                where,
                f"uses {', '.join(map(repr, unknown))}, which output schemas do not support; "
                "use type, properties, required, items, enum, const, anyOf, $ref, default, "
                "description and the min/max bounds",
            )
        return schema

    def type_of(self, schema: Any, where: str) -> Any:
        s = self.check(schema, where)
        if "$ref" in s:
            ref = str(s["$ref"])
            key = ref.rsplit("/", 1)[-1]
            if not re.match(r"^#/(\$defs|definitions)/", ref) or key not in self.defs:
                raise self.fail(where, f"refers to {ref!r}, which is not in its $defs")
            if key not in self.models:
                self.models[key] = self.model(self.defs[key], key, f"$defs.{key}")
            return self.models[key]
        if "const" in s:
            return Literal[s["const"]]
        if "enum" in s:
            if not s["enum"]:
                raise self.fail(where, "has an empty enum")
            return Literal[tuple(s["enum"])]
        for key in ("anyOf", "oneOf"):
            if key in s:
                options = [self.type_of(o, f"{where}.{key}[{i}]") for i, o in enumerate(s[key])]
                return Union[tuple(options)] if options else Any  # noqa: UP007
        kind = s.get("type")
        if isinstance(kind, list):
            options = [self.type_of({**s, "type": k}, where) for k in kind]
            return Union[tuple(options)] if options else Any  # noqa: UP007
        if kind is None:
            return Any
        if kind == "array":
            return list[self.type_of(s.get("items") or {}, f"{where}.items")]  # type: ignore[misc]
        if kind == "object":
            if s.get("properties"):
                return self.model(s, f"{self.name}_{where.rsplit('.', 1)[-1]}", where)
            return dict[str, Any]
        if kind not in _SCALARS:
            raise self.fail(where, f"has unknown type {kind!r}")
        return _SCALARS[kind]

    def field(self, schema: dict[str, Any], where: str, required: bool) -> tuple[Any, Any]:
        annotation = self.type_of(schema, where)
        bounds = {arg: schema[key] for key, arg in _BOUNDS.items() if key in schema}
        extra: dict[str, Any] = {"description": schema.get("description")}
        if "default" in schema:
            return annotation, Field(default=schema["default"], **bounds, **extra)
        if not required:
            return annotation | None, Field(default=None, **bounds, **extra)
        return annotation, Field(**bounds, **extra)

    def model(
        self, schema: dict[str, Any], name: str, where: str, base: type[BaseModel] = BaseModel
    ) -> type[BaseModel]:
        s = self.check(schema, where)
        props = s.get("properties") or {}
        if s.get("type", "object") != "object" or not isinstance(props, dict) or not props:
            raise self.fail(where, "must describe an object: type: object with properties")
        required = set(s.get("required") or [])
        unknown = sorted(required - set(props))
        if unknown:
            raise self.fail(where, f"requires {unknown}, which are not among its properties")
        fields = {
            key: self.field(prop, f"{where}.properties.{key}" if where else key, key in required)
            for key, prop in props.items()
        }
        bad = [k for k in fields if not k.isidentifier() or k.startswith("_")]
        if bad:
            raise self.fail(where, f"has property names {bad} that are not Python identifiers")
        model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            name, __base__=base, __doc__=s.get("description"), **fields
        )
        return model


def schema_model(schema: dict[str, Any], name: str, *, what: str = "role") -> type[CustomOutput]:
    """The output type a JSON schema describes (named ``name``); a
    :class:`~thinktank.errors.ConfigError` naming the place of anything unsupported."""
    conv = _Converter(schema, name, what)
    model = conv.model(schema, str(schema.get("title") or name), "", base=CustomOutput)
    return model  # type: ignore[return-value]


def _type_words(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _type_words(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type_words(s, defs) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"a list of {_type_words(schema.get('items') or {}, defs)}"
    if kind == "object":
        fields = ", ".join(schema.get("properties") or {})
        return f"an object ({fields})" if fields else "an object"
    return {
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "null": "null",
    }.get(str(kind), "any value")


def describe_output(output: type[BaseModel]) -> str:
    """``a JSON object with the fields: steps (required): a list of text — …``."""
    schema = output.model_json_schema()
    defs = schema.get("$defs") or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, prop in (schema.get("properties") or {}).items():
        text = f"{name}{' (required)' if name in required else ''}: {_type_words(prop, defs)}"
        if prop.get("description"):
            text += f" — {prop['description']}"
        parts.append(text)
    return "a JSON object with the fields: " + "; ".join(parts) if parts else "a JSON object"


def output_instructions(output: type[BaseModel]) -> str:
    """The format paragraph added to a role's instructions when its output type is its own."""
    return f"Reply with {describe_output(output)}."


# --- a role's output, as given ------------------------------------------------------


def role_output_type(output: Any, name: str) -> tuple[type[RoleOutput] | None, Any]:
    """The output type and its declared (serialisable) form."""
    if output is None:
        return None, None
    if isinstance(output, str):
        model = resolve(output, what=f"role {name!r}: output")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(
                f"role {name!r}: output {output!r} is {model!r}, not a pydantic model class"
            )
        return as_output_type(model, model.__name__), output
    if isinstance(output, Mapping):
        schema = json.loads(json.dumps(dict(output)))
        title = "".join(p.capitalize() for p in name.replace("-", "_").split("_")) + "Output"
        return schema_model(schema, title, what=f"role {name!r}"), schema
    if isinstance(output, type) and issubclass(output, BaseModel):
        if output in BUILT_IN_OUTPUTS:
            return output, None
        declared = importable_path(output) or output.model_json_schema()
        return as_output_type(output, output.__name__), declared
    raise ConfigError(
        f"role {name!r}: output must be a pydantic model class, a JSON schema (a mapping) "
        f"or an import path 'module:Model', not {type(output).__name__}"
    )


def check_output_fields(name: str, does: str, output: type[RoleOutput]) -> None:
    need = ACT_FIELDS.get(does)
    if need and not set(need) & set(output.model_fields):
        fields = " or ".join(repr(f) for f in need)
        raise ConfigError(
            f"role {name!r} does {does!r}, so its output type needs a {fields} field for the "
            f"graph to use; {output.__name__} has {sorted(output.model_fields)}"
        )
