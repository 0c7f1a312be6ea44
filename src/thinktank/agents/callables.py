"""Python objects named by import path (``module:qualname``), so specs can carry them.

Function nodes, output types and selection functions are referenced in a graph spec
by where they live, so a YAML file, the optimizer and a cluster worker load them
by importing that path. :func:`path_of` names an object (one that cannot be imported
back — defined inside a function, or in a script run as ``__main__`` — is remembered
in this process under its path, so it still works here, and the message of another
process that cannot import it says to define it at module level). :func:`resolve`
loads a path, and :func:`check_params` checks a callable takes what it will be given.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from thinktank.errors import ConfigError

NODE_ATTRIBUTE = "__thinktank_node__"
"""Where :func:`thinktank.graphs.functions.node` leaves what a function node does."""

PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.<>]*(?:#\d+)?$")
"""``module:qualname`` (``#k`` tells apart same-named objects kept in this process)."""

_LOCAL: dict[str, Any] = {}
"""Objects that cannot be imported back, by the path they were given."""


def is_path(text: str) -> bool:
    """``text`` looks like ``module:qualname``."""
    return bool(PATH.match(text))


def _importable(path: str) -> Any:
    module, _, qualname = path.partition(":")
    if module == "__main__":
        return None  # another process's __main__ is another script
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    return obj


def importable_path(obj: Any) -> str | None:
    """The import path of ``obj`` when importing it back gives ``obj`` (in any process)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname:
        return None
    path = f"{module}:{qualname}"
    return path if _importable(path) is obj else None


def path_of(obj: Any) -> str:
    """The import path of ``obj``; kept in this process when it cannot be imported back."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname:
        raise ConfigError(
            f"{obj!r} has no module and name to refer to it by: give a function or a class"
        )
    path = f"{module}:{qualname}"
    if _importable(path) is obj:
        return path
    k = 1
    key = path
    while key in _LOCAL and _LOCAL[key] is not obj:
        k += 1
        key = f"{path}#{k}"
    _LOCAL[key] = obj
    return key


def resolve(path: str, *, what: str) -> Any:
    """The object at ``path``; a :class:`~thinktank.errors.ConfigError` saying what to do
    when the path is malformed or nothing can be imported there (``what`` names the use)."""
    if path in _LOCAL:
        return _LOCAL[path]
    if not is_path(path):
        raise ConfigError(
            f"{what}: {path!r} is not an import path; write it as 'module:function' "
            "(e.g. 'mypackage.checks:run_tests')"
        )
    module, _, qualname = path.partition(":")
    hint = (
        "define it at module level of an importable module (on PYTHONPATH, or installed) "
        "so YAML files, the optimizer and cluster workers can load it"
    )
    try:
        obj: Any = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"{what}: cannot import {path!r}: {exc}; {hint}") from None
    except Exception as exc:
        raise ConfigError(
            f"{what}: importing module {module!r} of {path!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"{what}: module {module!r} has no {qualname!r} (from {path!r}); {hint}"
            ) from None
    return obj


def _shown(fn: Callable[..., Any]) -> str:
    """``name(a, b, *args)``: what a function takes, without annotations."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return repr(fn)
    marks: dict[Any, str] = {
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
    }
    names = ", ".join(marks.get(p.kind, "") + p.name for p in params)
    return f"{getattr(fn, '__name__', 'it')}({names})"


def check_params(
    fn: Any, params: tuple[str, ...], *, what: str, asynchronous: bool | None = True
) -> None:
    """``fn`` can be called with ``len(params)`` positional arguments (named ``params`` in
    the message) and is ``async`` (``asynchronous=True``), plain (``False``) or either."""
    if not callable(fn):
        raise ConfigError(f"{what}: {fn!r} is not callable; give an async function")
    wanted = f"({', '.join(params)})"
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )
    if asynchronous and not is_async:
        raise ConfigError(f"{what}: {_shown(fn)} is not async; write it as `async def ...{wanted}`")
    if asynchronous is False and is_async:
        raise ConfigError(f"{what}: {_shown(fn)} is async; write it as a plain `def ...{wanted}`")
    try:
        inspect.signature(fn).bind(*params)
    except TypeError:
        raise ConfigError(
            f"{what}: {_shown(fn)} has the wrong signature; it is called with {len(params)} "
            f"positional arguments {wanted}"
        ) from None
    except ValueError:
        return  # no signature to read (a builtin): it is called and errors show then
