"""Loaders for public benchmarks in their published schemas, one module per family.

* :mod:`.gaia` — GAIA-style web research questions (JSONL/JSON);
* :mod:`.code_jsonl` — HumanEval and MBPP JSONL;
* :mod:`.math_jsonl` — AIME / MATH-style JSONL (answers extracted from solutions);
* :func:`load_task_file` — any of the above, SWE-bench
  (:func:`thinktank.evals.swe.loader.load_swebench`) or plain
  :class:`~thinktank.evals.tasks.task.Task` JSONL, recognised from the first record's
  fields.

Malformed files raise :class:`~thinktank.errors.ConfigError` naming the line and
the field.
"""

from __future__ import annotations

from thinktank.evals.tasks.suites.loaders.autodetect import FORMATS, detect_format, load_task_file
from thinktank.evals.tasks.suites.loaders.code_jsonl import load_humaneval, load_mbpp
from thinktank.evals.tasks.suites.loaders.gaia import load_gaia
from thinktank.evals.tasks.suites.loaders.math_jsonl import load_math

__all__ = [
    "FORMATS",
    "detect_format",
    "load_gaia",
    "load_humaneval",
    "load_math",
    "load_mbpp",
    "load_task_file",
]
