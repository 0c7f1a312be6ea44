"""``@tool``: build a :class:`~thinktank.tools.base.Tool` from a typed, docstringed function.

The function's name is the tool name, the docstring's summary is the description,
the parameters (with their type hints and defaults) become the pydantic argument
model, and the per-parameter docs (Google ``Args:``, Sphinx ``:param x:`` or NumPy
``Parameters`` sections) become the parameter descriptions in the schema::

    @tool
    async def add(a: int, b: int = 1) -> int:
        \"\"\"Add two integers.

        Args:
            a: The first number.
            b: The second number.
        \"\"\"
        return a + b

Sync functions run in a worker thread so they cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, create_model

from thinktank.errors import ConfigError
from thinktank.tools.base import Tool

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_GOOGLE_SECTIONS = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|kwargs|other parameters"
    r"|returns?|yields?|raises?|examples?|notes?|see also|warnings?|references|attributes|todo):\s*$",
    re.IGNORECASE,
)
_PARAM_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "kwargs",
}
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")
_NUMPY_ITEM = re.compile(r"^(\*{0,2}\w+)\s*(?::.*)?$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (description, {parameter: description})."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None  # lower-cased header, "sphinx" or None (summary)
    numpy = False
    item_indent: int | None = None
    current: str | None = None
    i = 0
    while i < len(lines):
        raw, line = lines[i], lines[i].strip()
        indent = len(raw) - len(raw.lstrip())
        header = _GOOGLE_SECTIONS.match(line)
        sphinx = _SPHINX_PARAM.match(line)
        if line and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            section, numpy, item_indent, current = line.lower(), True, None, None
            i += 2
            continue
        if header:
            section, numpy, item_indent, current = header.group(1).lower(), False, None, None
        elif sphinx:
            section, current = "sphinx", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
        elif line.startswith(":"):
            section, current = "sphinx-other", None
        elif section is None:
            summary.append(raw)
        elif line and section in _PARAM_SECTIONS:
            item_indent = indent if item_indent is None else item_indent
            if indent <= item_indent:
                match = (_NUMPY_ITEM if numpy else _GOOGLE_ITEM).match(line)
                current = match.group(1).lstrip("*") if match else None
                if current:
                    params[current] = "" if numpy or not match else match.group(2).strip()
            elif current:
                params[current] = f"{params[current]} {line}".strip()
        elif line and section == "sphinx" and current:
            params[current] = f"{params[current]} {line}".strip()
        i += 1
    description = "\n".join(summary).strip()
    return re.sub(r"\n{3,}", "\n\n", description), params


class FunctionTool(Tool[BaseModel]):
    """A tool wrapping a Python function (made by :func:`tool`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        max_output_chars: int | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not TOOL_NAME.match(self.name):
            raise ConfigError(f"tool name {self.name!r} must match {TOOL_NAME.pattern}")
        summary, param_docs = parse_docstring(fn.__doc__)
        self.description = description if description is not None else summary
        self.max_output_chars = max_output_chars
        self._positional: list[str] = []
        self._aliases: dict[str, str] = {}
        self.args_model = self._build_model(param_docs)

    def _build_model(self, docs: dict[str, str]) -> type[BaseModel]:
        signature = inspect.signature(self.fn)
        hints = typing.get_type_hints(self.fn, include_extras=True)
        fields: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigError(f"@tool function {self.name!r} cannot take *args or **kwargs")
            if param.kind is param.POSITIONAL_ONLY:
                self._positional.append(param.name)
            default = ... if param.default is param.empty else param.default
            info = Field(default, description=docs.get(param.name) or None)
            field_name = param.name
            if hasattr(BaseModel, field_name):  # e.g. "schema", "json": keep the name on the wire
                field_name = f"{param.name}_"
                info = Field(default, alias=param.name, description=docs.get(param.name) or None)
            self._aliases[field_name] = param.name
            fields[field_name] = (hints.get(param.name, Any), info)
        model_name = (
            "".join(part.title() for part in self.name.replace("-", "_").split("_")) + "Args"
        )
        config = ConfigDict(extra="forbid", populate_by_name=True)
        return create_model(model_name, __config__=config, **fields)

    async def run(self, args: BaseModel) -> Any:
        values = {self._aliases[f]: getattr(args, f) for f in type(args).model_fields}
        positional = [values.pop(p) for p in self._positional]
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(*positional, **values)
        result = await asyncio.to_thread(self.fn, *positional, **values)
        if inspect.isawaitable(result):
            return await result
        return result


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, max_output_chars: int | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    max_output_chars: int | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a :class:`FunctionTool`; use bare (``@tool``) or with options (``@tool(name=...)``)."""

    def build(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(
            f, name=name, description=description, max_output_chars=max_output_chars
        )

    return build(fn) if fn is not None else build
