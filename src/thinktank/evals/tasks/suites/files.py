"""Reading suite files: package data, JSON/JSONL with line-numbered errors, txtar.

Every malformed input raises :class:`~thinktank.errors.ConfigError` naming the
file, the line and the field, e.g. ``tasks.jsonl line 7, field 'prompt': Field
required``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from thinktank.errors import ConfigError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DATA_PACKAGE = "thinktank.evals.tasks.suites"

Source = str | Path | Traversable
"""A task file: a path, or a file inside package data."""


def data_root() -> Traversable:
    """The bundled data folder (``thinktank/evals/tasks/suites/data``)."""
    return resources.files(DATA_PACKAGE) / "data"


def data_file(*parts: str) -> Traversable:
    """A file or folder under :func:`data_root`."""
    node = data_root()
    for p in parts:
        node = node / p
    return node


def describe_validation(exc: ValidationError) -> str:
    """``field 'a.b': message; field 'c': message`` from a pydantic error."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(record)"
        parts.append(f"field {loc!r}: {err['msg']}")
    return "; ".join(parts)


def read_records(
    path: str | Path | Traversable, *, name: str | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` pairs from a ``.jsonl`` file, or from a ``.json`` file holding a
    list (line numbers are then the item's index + 1, reported as "item N"); either may
    be gzip-compressed (``.jsonl.gz``, as HumanEval ships)."""
    if isinstance(path, str):
        path = Path(path)
    label = name or path.name
    if label.endswith(".parquet"):
        yield from _parquet_rows(path, label)
        return
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"task file {str(path)!r} does not exist") from None
    if label.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ConfigError(f"{label}: not a readable gzip file ({exc})") from None
        label = label[: -len(".gz")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (a gzip file? name it .gz)" if raw[:2] == b"\x1f\x8b" else ""
        raise ConfigError(f"{label}: not UTF-8 text ({exc}){hint}") from None
    if label.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{label} line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        if isinstance(data, dict):
            for key in ("instances", "tasks", "data", "questions"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
        if not isinstance(data, list):
            raise ConfigError(f"{label}: expected a JSON list of records (or use JSONL)")
        yield from enumerate(data, start=1)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{label} line {number}: invalid JSON at column {exc.colno}: {exc.msg}"
            ) from None


def _parquet_rows(path: Path | Traversable, label: str) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from thinktank.errors import MissingDependency

        raise MissingDependency(
            f"{label}: reading Parquet needs pyarrow: pip install 'thinktank[swebench]'"
        ) from None
    try:
        table = pq.read_table(str(path))
    except FileNotFoundError:
        raise ConfigError(f"task file {str(path)!r} does not exist") from None
    except Exception as exc:  # pyarrow's errors: a file that is not Parquet
        raise ConfigError(f"{label}: not a readable Parquet file ({exc})") from None
    yield from enumerate(table.to_pylist(), start=1)


def load_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML or JSON mapping from ``path``; errors name the file, line and column."""
    from thinktank._configfile import read_mapping

    return read_mapping(path, what)


def parse_records(
    path: Source,
    build: Callable[[Any], T],
    *,
    name: str | None = None,
) -> list[T]:
    """Parse every record with ``build``; errors name the file, line and field."""
    label = name or (Path(path).name if isinstance(path, str) else path.name)
    out: list[T] = []
    for number, record in read_records(path, name=label):
        where = f"{label} {'item' if label.endswith('.json') else 'line'} {number}"
        if not isinstance(record, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(record).__name__}")
        try:
            out.append(build(record))
        except ValidationError as exc:
            raise ConfigError(f"{where}: {describe_validation(exc)}") from None
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def validate_as(model: type[M]) -> Callable[[Any], M]:
    """A ``build`` function for :func:`parse_records` validating into ``model``."""
    return model.model_validate


# --- txtar: many text files in one -------------------------------------------------
# Format (as in Go's txtar): optional comment lines, then for each file a header line
# "-- path --" followed by the file's lines. Used to bundle the SWE repositories as
# plain text (they are not importable modules of this package, so not linted).


def parse_txtar(text: str) -> dict[str, str]:
    """Files of a txtar archive, path → content (in archive order)."""
    files: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if stripped.startswith("-- ") and stripped.endswith(" --") and len(stripped) > 6:
            if current is not None:
                files[current] = "".join(lines)
            current = stripped[3:-3].strip()
            if current in files:
                raise ConfigError(f"txtar archive lists {current!r} twice")
            lines = []
        elif current is not None:
            lines.append(line)
    if current is not None:
        files[current] = "".join(lines)
    return files
