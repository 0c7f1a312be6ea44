"""Reading a user's YAML/JSON file: every error names the file, line and column.

Graph specs, search spaces, price files, sandbox and model configs are read here,
so a typo reads ``graph.yaml:4:11: nodes.0.role: ...`` instead of a traceback. It
sits at the bottom of the layers, beside :mod:`thinktank.errors`, because every
part reads files. Validation errors keep one short line per field; the line and
column come from the YAML node tree, composed only when there is an error to place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinktank.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError

Loc = Sequence[str | int]
"""A field's path in the document, as pydantic reports it: ``("nodes", 0, "role")``."""

MAX_LINES = 12
"""Problems listed before the rest are counted (a wrong indentation can make dozens)."""

# pydantic's prefixes for errors raised by validators: the message itself is what matters
_PREFIXES = ("Value error, ", "Assertion failed, ")


class Document:
    """A parsed file: its data, and the text that places a field on a line."""

    def __init__(self, data: Any, text: str = "", source: str = "") -> None:
        self.data = data
        self.text = text
        self.source = source
        """The path as the user gave it ("" for text that came from no file)."""
        self._tree: Any = False  # the YAML node tree; None when the text does not compose

    def where(self, loc: Loc = ()) -> str:
        """``file:line:col`` of the value at ``loc`` (or of the nearest enclosing one)."""
        mark = self._mark(loc)
        if mark is None:
            return self.source
        line, col = mark.line + 1, mark.column + 1
        return f"{self.source}:{line}:{col}" if self.source else f"line {line}, column {col}"

    def report(self, problems: Iterable[tuple[Loc, str]], what: str) -> str:
        """One line per problem: ``file:line:col: field: message``."""
        lines = []
        for loc, message in problems:
            field = ".".join(str(p) for p in loc)
            where = self.where(loc)
            lines.append(": ".join(p for p in (where, field, message) if p))
        if len(lines) > MAX_LINES:
            lines[MAX_LINES:] = [f"... and {len(lines) - MAX_LINES} more problems"]
        if self.source:
            return "\n".join(lines)
        return f"invalid {what}: " + "; ".join(lines)

    def explain(self, exc: ValidationError, what: str, *, skip: Sequence[str] = ()) -> str:
        """:meth:`report` for a pydantic error; ``skip`` drops union tags from field names."""
        return self.report(validation_problems(exc, skip=skip), what)

    def mapping(self, what: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
        """The data, which must be a mapping (an empty file is an empty mapping)."""
        if self.data is None:
            return {}
        if not isinstance(self.data, dict):
            where = self.where() or f"the {what}"
            raise error(f"{where}: the {what} must be a mapping, not {type(self.data).__name__}")
        return self.data

    def _mark(self, loc: Loc) -> Any:
        if self._tree is False:
            self._tree = _compose(self.text)
        node = self._tree
        if node is None:
            return None
        from yaml import MappingNode, ScalarNode, SequenceNode

        mark = node.start_mark
        for part in loc:
            if isinstance(node, MappingNode):
                found = next(
                    (
                        (k, v)
                        for k, v in node.value
                        if isinstance(k, ScalarNode) and k.value == str(part)
                    ),
                    None,
                )
                if found is not None:  # a field: point at its key, the line a user looks for
                    mark, node = found[0].start_mark, found[1]
                # else: a union tag pydantic adds, or a missing field: stay on the parent
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return mark


def _compose(text: str) -> Any:
    if not text:
        return None
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # JSON that YAML cannot read: no line numbers, still the field
        return None


def validation_problems(exc: ValidationError, *, skip: Sequence[str] = ()) -> list[tuple[Loc, str]]:
    """``(field path, short message)`` for every error of a pydantic ``ValidationError``."""
    out: list[tuple[Loc, str]] = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        for prefix in _PREFIXES:
            msg = msg.removeprefix(prefix)
        given = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden", "value_error") and isinstance(
            given, str | int | float | bool
        ):
            msg += f" (got {given!r})"
        out.append(([p for p in err["loc"] if p not in skip], msg))
    return out


def parse(
    text: str,
    source: str = "",
    what: str = "file",
    *,
    as_json: bool = False,
    error: type[ConfigError] = ConfigError,
) -> Document:
    """Parse YAML (or, with ``as_json``, strict JSON) text; syntax errors give line and column."""
    if as_json:
        try:
            return Document(json.loads(text), text, source)
        except json.JSONDecodeError as exc:
            where = _place(source, exc.lineno, exc.colno)
            raise error(f"{where}: the {what} is not valid JSON ({exc.msg})") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _place(source, mark.line + 1, mark.column + 1) if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        message = f"the {what} is not valid YAML ({problem})"
        raise error(f"{where}: {message}" if where else message) from None
    return Document(data, text, source)


def read(path: str | Path, what: str, *, error: type[ConfigError] = ConfigError) -> Document:
    """Read and parse a YAML or JSON file (``.json``: strict JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"the {what} {p} does not exist") from None
    except OSError as exc:
        raise error(f"cannot read the {what} {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{p}: the {what} is not UTF-8 text ({exc.reason})") from None
    return parse(text, str(p), what, as_json=p.suffix == ".json", error=error)


def read_mapping(
    path: str | Path, what: str, *, error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """The mapping in a YAML or JSON file; errors name the file, line and column."""
    return read(path, what, error=error).mapping(what, error)


def _place(source: str, line: int, col: int) -> str:
    return f"{source}:{line}:{col}" if source else f"line {line}, column {col}"
