"""The error hierarchy: one root, subclasses split by who must act.

* :class:`ModelFeedback` — the model did something wrong (bad tool arguments, a
  reply that does not parse). Agents turn these into observations for the model.
* :class:`ControlFlow` — not a failure: a run was submitted, a budget ran out, a
  CEO said stop. Callers catch these to end a loop cleanly.
* :class:`UsageError` — the user must act (bad config, missing key, unknown name);
  the message says what to do.
* :class:`InfrastructureError` — something outside thinktank failed (an endpoint,
  Docker, the disk); retried where that makes sense, otherwise reported.

Third-party exceptions are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any


class ThinktankError(Exception):
    """Root of every error thinktank raises on purpose."""


# --- feedback for the model -------------------------------------------------------


class ModelFeedback(ThinktankError):
    """The model produced something unusable; the message is meant for the model."""


class OutputParseError(ModelFeedback):
    """A model reply could not be parsed into the requested structure."""

    def __init__(self, message: str, *, raw: str = "") -> None:
        excerpt = raw if len(raw) <= 500 else raw[:500] + "…"
        super().__init__(f"{message}; reply excerpt: {excerpt!r}" if raw else message)
        self.raw = raw


class ToolCallError(ModelFeedback):
    """A tool call named an unknown tool or carried invalid arguments."""


# --- control flow -----------------------------------------------------------------


class ControlFlow(ThinktankError):
    """Not a failure: a signal that ends a loop or a run."""


class BudgetExceeded(ControlFlow):
    """A call was refused because it could push a budget over its limit.

    ``state`` is a snapshot of the budget that refused (limits, spent, reserved).
    """

    def __init__(self, message: str, *, state: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.state = state or {}

    @property
    def budget(self) -> str | None:
        """The name of the budget that refused (how callers tell a run's from a task's)."""
        name = self.state.get("name")
        return str(name) if name is not None else None


class Submitted(ControlFlow):
    """A tool ended the agent's work with a final submission (e.g. an SWE patch)."""

    def __init__(self, value: str, *, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("submitted")
        self.value = value
        self.metadata = metadata or {}


class ScriptExhausted(ThinktankError):
    """A scripted test model was asked for more replies than its script holds."""


# --- user misuse ------------------------------------------------------------------


class UsageError(ThinktankError):
    """The caller must change something; the message says what."""


class ConfigError(UsageError, ValueError):
    """A configuration value or name is invalid."""


class MissingCredential(UsageError):
    """An API key is required but its environment variable is not set."""


class MissingDependency(UsageError, ImportError):
    """An optional dependency is not installed; the message names the install command."""


# --- infrastructure ---------------------------------------------------------------


class InfrastructureError(ThinktankError):
    """Something outside thinktank failed."""


class ModelError(InfrastructureError):
    """A model endpoint failed for a reason retries could not fix."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class ModelUnavailable(ModelError):
    """The endpoint could not be reached (connection error, timeouts) after retries."""


class ModelRequestError(ModelError):
    """The endpoint refused the request as invalid (4xx other than rate limits); not retried."""


class AuthenticationFailed(ModelRequestError):
    """The endpoint rejected the credentials (401/403)."""


class ContextLengthExceeded(ModelRequestError):
    """The prompt plus completion does not fit the model's context window."""


class MalformedResponse(ModelError):
    """The endpoint answered with a body that is not a valid completion."""


class CacheMiss(InfrastructureError):
    """A response cache in replay mode had no entry for a request."""
