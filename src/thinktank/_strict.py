"""The one base of thinktank's configs and specs: unknown fields are refused.

Every config (a model, a sandbox, a tool, an evaluator, a suite …) and every spec (a
graph, a search space) a user writes inherits :class:`StrictModel`, so a misspelt key
is an error rather than a silently ignored setting.

A class adds what it needs on top with its own ``model_config = ConfigDict(...)``;
pydantic merges it with this one: ``frozen=True``, ``validate_assignment=True``, or
``use_attribute_docstrings=True`` where a field's docstring must become its schema
description (tool arguments and tool configs: the model reads them). That last one is
not on by default: pydantic finds each class's source by walking the import stack,
several milliseconds per class, so every config paying it would slow every import.

It sits at the bottom of the layers, beside :mod:`thinktank.errors`, because every
part has configs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that refuses unknown fields (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid")
