"""Model prices, per 1M input and output tokens, overridable by the user.

Lookup order: an exact model name, then the longest known prefix (so dated
snapshots such as ``gpt-4o-mini-2024-07-18`` find ``gpt-4o-mini``). Unknown models
cost 0 and log a warning once. Override with :func:`set_price`, or point
``THINKTANK_PRICES`` at a YAML/JSON file mapping model name to
``{input: <usd per 1M>, output: <usd per 1M>}``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from thinktank.errors import ConfigError

log = logging.getLogger(__name__)


class Price(BaseModel):
    """Dollars per one million tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


# Published list prices at the time of writing; users override for their contracts.
_DEFAULTS: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "o3-mini": Price(input=1.10, output=4.40),
    "o4-mini": Price(input=1.10, output=4.40),
    "gpt-5-nano": Price(input=0.05, output=0.40),
    "gpt-5-mini": Price(input=0.25, output=2.00),
    "gpt-5": Price(input=1.25, output=10.00),
    # test doubles and the embedded model cost nothing
    "scripted": Price(),
    "function": Price(),
    "smollm2": Price(),
    "local:smollm2": Price(),
}

_lock = threading.Lock()
_table: dict[str, Price] = dict(_DEFAULTS)
_warned: set[str] = set()
_resolved: dict[str, Price] = {}
"""Memo of lookups (prefix matches included); cleared whenever the table changes."""
_loaded_env: str | None = None


class _PriceEntry(Price):
    """One entry of a price file: unknown fields are typos, not free tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)


def _load_env_file() -> None:
    global _loaded_env
    path = os.environ.get("THINKTANK_PRICES")
    if not path or path == _loaded_env:
        return
    try:
        load_prices(path)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the price file THINKTANK_PRICES names)") from exc
    _loaded_env = path  # only once it loaded: a broken file fails every lookup, not one


def load_env_prices() -> str | None:
    """Load the price file ``THINKTANK_PRICES`` names, if any (once); its path.

    Commands call it before they start, so a broken file stops them up front
    instead of failing the first model call.
    """
    _load_env_file()
    return os.environ.get("THINKTANK_PRICES") or None


def load_prices(path: str | Path) -> None:
    """Merge a YAML or JSON price file (model name → ``{input, output}``) into the table."""
    from pydantic import TypeAdapter, ValidationError

    from thinktank._configfile import read

    doc = read(path, "price file")
    data = doc.mapping("price file")
    shapeless = [
        (
            (str(name),),
            f"a price is a mapping like {{input: 2.5, output: 10}} (dollars per 1M tokens), not {value!r}",
        )
        for name, value in data.items()
        if not isinstance(value, dict)
    ]
    if shapeless:
        raise ConfigError(doc.report(shapeless, "price file"))
    try:
        entries = TypeAdapter(dict[str, _PriceEntry]).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(doc.explain(exc, "price file")) from exc
    for name, entry in entries.items():
        set_price(name, input=entry.input, output=entry.output)


def set_price(model: str, input: float, output: float) -> None:
    """Set the price of ``model`` in dollars per 1M input / output tokens."""
    with _lock:
        _table[model] = Price(input=input, output=output)
        _resolved.clear()


def reset_prices() -> None:
    """Back to the built-in table (for tests)."""
    global _loaded_env
    with _lock:
        _table.clear()
        _table.update(_DEFAULTS)
        _warned.clear()
        _resolved.clear()
        _loaded_env = None


def price_for(model: str) -> Price:
    """The price of ``model``; 0 with a one-time warning when unknown."""
    _load_env_file()
    hit = _resolved.get(model)
    if hit is not None:
        return hit
    price = _lookup(model)
    _resolved[model] = price
    return price


def _lookup(model: str) -> Price:
    with _lock:
        if model in _table:
            return _table[model]
        bare = model.split(":", 1)[1] if ":" in model else model
        if bare in _table:
            return _table[bare]
        best = max((k for k in _table if bare.startswith(k)), key=len, default=None)
        if best is not None:
            return _table[best]
        if model not in _warned:
            _warned.add(model)
            log.warning(
                "no price known for model %r: counting it as $0 (set_price() or THINKTANK_PRICES to fix)",
                model,
            )
        return Price()


def cost_of(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    return price_for(model).cost(prompt_tokens, completion_tokens)
