"""Check models before a long run: one cheap request per distinct endpoint.

An eval or an optimization that starts against an endpoint nobody serves records
an error for every task, slowly. :func:`check_models` asks each endpoint once
before anything starts (:meth:`OpenAICompatModel.probe
<thinktank.llm.openai.OpenAICompatModel.probe>`: ``GET /models``, no tokens spent)
and raises one error naming every model that cannot be used and what to do.
Models without a ``probe`` (the test doubles, in-process models) are not asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from thinktank.errors import AuthenticationFailed, ModelError, ModelUnavailable
from thinktank.llm.base import ChatModel

DEFAULT_HINT = "start the server, or use a model whose endpoint is up"
"""What to do about an unreachable endpoint, when the caller knows no better."""


async def check_models(
    models: Mapping[str, ChatModel | str | None], *, hint: str = DEFAULT_HINT
) -> int:
    """Probe every distinct endpoint of ``models`` (label → model or model string) once.

    Returns how many endpoints were asked. Raises :class:`ModelUnavailable` (or
    :class:`AuthenticationFailed` when credentials are all that is wrong) listing
    each failing endpoint with the labels that use it; ``hint`` is appended for
    unreachable endpoints. Models given as strings are loaded for the check and
    closed after it.
    """
    from thinktank.llm.config import load_model

    owned: list[ChatModel] = []
    by_endpoint: dict[str, tuple[ChatModel, list[str]]] = {}
    try:
        for label, value in models.items():
            model = value if isinstance(value, ChatModel) else load_model(value)
            if model is not value:
                owned.append(model)
            if getattr(model, "probe", None) is None:
                continue
            key = str(getattr(model, "base_url", "") or id(model))
            by_endpoint.setdefault(key, (model, []))[1].append(label)
        probes = [m.probe() for m, _ in by_endpoint.values()]  # type: ignore[attr-defined]
        outcomes: list[Any] = await asyncio.gather(*probes, return_exceptions=True)
    finally:
        for m in owned:
            await m.aclose()
    failures: list[tuple[list[str], ModelError]] = []
    for (_, labels), outcome in zip(by_endpoint.values(), outcomes, strict=True):
        if isinstance(outcome, ModelError):
            failures.append((labels, outcome))
        elif isinstance(outcome, BaseException):
            raise outcome
    if failures:
        raise _failure(failures, hint)
    return len(by_endpoint)


def check_models_sync(
    models: Mapping[str, ChatModel | str | None], *, hint: str = DEFAULT_HINT
) -> int:
    """Blocking :func:`check_models`."""
    from thinktank._sync import run_sync

    return run_sync(check_models(models, hint=hint))


def _failure(failures: list[tuple[list[str], ModelError]], hint: str) -> ModelError:
    lines = []
    unreachable = False
    for labels, err in failures:
        names = ", ".join(labels)
        lines.append(f"model{'s' if len(labels) > 1 else ''} {names}: {err}")
        unreachable = unreachable or not isinstance(err, AuthenticationFailed)
    text = "; ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines)
    sep = "; " if len(lines) == 1 else "\n"
    message = f"the model check failed: {text}" + (f"{sep}{hint}" if unreachable else "")
    endpoint = failures[0][1].endpoint
    if unreachable:
        return ModelUnavailable(message, endpoint=endpoint)
    return AuthenticationFailed(message, endpoint=endpoint, status=failures[0][1].status)
