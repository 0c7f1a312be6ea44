"""Sandbox errors, placed in the shared hierarchy by who must act.

* The engine or image is missing, or Docker failed: :class:`SandboxUnavailable` /
  :class:`SandboxEngineError` (infrastructure; the message says how to fix it).
* An operation took too long: :class:`SandboxTimeout`. A *command* that runs past its
  timeout is not an error: its :class:`~thinktank.sandboxes.types.ExecResult` says
  ``timed_out``.
* The caller misused a sandbox (closed, bad path, file too large):
  :class:`SandboxClosed`, :class:`SandboxFileError` and its subclasses.

A command that fails inside the sandbox (non-zero exit, command not found) is never an
exception: it is a result.
"""

from __future__ import annotations

from thinktank.errors import InfrastructureError, UsageError

DOCTOR_HINT = "run `thinktank sandbox doctor --fix` to install/start the engine and build the image"


class SandboxError(InfrastructureError):
    """Root of the sandbox infrastructure failures."""


class SandboxUnavailable(SandboxError):
    """The sandbox backend cannot be used: no engine, no image, no runtime.

    The message always ends with how to fix it (usually ``thinktank sandbox doctor --fix``).
    """

    def __init__(self, message: str, *, hint: str = DOCTOR_HINT) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.hint = hint


class ImageMissing(SandboxUnavailable):
    """The configured sandbox image is not present in the engine."""


class SandboxEngineError(SandboxError):
    """The engine refused or failed a request (a translated ``docker.errors`` exception)."""


class SandboxTimeout(SandboxError, TimeoutError):
    """A sandbox *operation* (start, file transfer, session call) exceeded its deadline."""


class SandboxClosed(UsageError):
    """The sandbox (or pooled lease, or Python session) was used after it was closed."""


class SandboxFileError(UsageError, OSError):
    """A file operation was refused or failed; the message names the path."""


class PathRejected(SandboxFileError, ValueError):
    """A path or archive member is absolute where it must not be, contains ``..``,
    or is a link that leaves its target directory."""


class SandboxFileNotFound(SandboxFileError, FileNotFoundError):
    """The path does not exist in the sandbox (or is a symlink, which is never followed)."""


class FileTooLarge(SandboxFileError):
    """A file or transfer is larger than the configured transfer limit."""


__all__ = [
    "DOCTOR_HINT",
    "FileTooLarge",
    "ImageMissing",
    "PathRejected",
    "SandboxClosed",
    "SandboxEngineError",
    "SandboxError",
    "SandboxFileError",
    "SandboxFileNotFound",
    "SandboxTimeout",
    "SandboxUnavailable",
]
