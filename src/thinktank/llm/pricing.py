"""Model prices, per 1M input and output tokens, overridable by the user.

Lookup order: an exact model name, then the longest known prefix (so dated
snapshots such as ``gpt-4o-mini-2024-07-18`` find ``gpt-4o-mini``). Unknown models
cost 0 and log a warning once. Override with :func:`set_price`, or point
``THINKTANK_PRICES`` at a YAML/JSON file mapping model name to
``{input: <usd per 1M>, output: <usd per 1M>}``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from pydantic import BaseModel

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


def _load_env_file() -> None:
    global _loaded_env
    path = os.environ.get("THINKTANK_PRICES")
    if not path or path == _loaded_env:
        return
    _loaded_env = path
    load_prices(path)


def load_prices(path: str | Path) -> None:
    """Merge a YAML or JSON price file into the table."""
    import yaml

    p = Path(path)
    try:
        data = (
            yaml.safe_load(p.read_text())
            if p.suffix in {".yaml", ".yml"}
            else json.loads(p.read_text())
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read price file {p}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"price file {p} must map model names to {{input, output}}")
    for name, value in data.items():
        set_price(str(name), **dict(value))


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
