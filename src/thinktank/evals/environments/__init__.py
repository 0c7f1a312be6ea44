"""Task environments, one module per task kind, registered when this package is imported.

==========  =====================================================================
kind        per task                                  judged by
==========  =====================================================================
``swe``     a sandbox with the repository at its      the SWE harness: the patch and
            base commit; SWE editing tools + ``bash``  the tests in a fresh sandbox
``web``     ``web_search`` + ``fetch_page`` over a     the task's evaluator (``string``)
            corpus served on loopback (once per run)
``code``    a ``python`` tool (sandbox on first use)   hidden tests in a fresh sandbox
``math``    a ``python`` tool (sandbox on first use)   the task's evaluator (``numeric``)
==========  =====================================================================

:func:`thinktank.evals.environments.base.environment_for` imports this package, so
``environment_for("swe", provider=..., repos=...)`` finds them. Options are keyword
arguments of each class; every one takes ``judge`` and sandbox-using ones take
``provider`` (a :class:`~thinktank.sandboxes.SandboxProvider` or a sandbox config).
"""

from __future__ import annotations

from thinktank.evals.environments.base import register_environment
from thinktank.evals.environments.code import CodeEnvironment
from thinktank.evals.environments.math import MathEnvironment
from thinktank.evals.environments.swe import SWE_PROMPT, SWEEnvironment
from thinktank.evals.environments.web import WebEnvironment

register_environment("swe", SWEEnvironment)
register_environment("web", WebEnvironment)
register_environment("code", CodeEnvironment)
register_environment("math", MathEnvironment)

__all__ = [
    "SWE_PROMPT",
    "CodeEnvironment",
    "MathEnvironment",
    "SWEEnvironment",
    "WebEnvironment",
]
