"""Inputs and outputs of sandbox operations (pydantic models) and the output capture."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_OUTPUT_CAP = 1 << 20  # 1 MiB per stream


class ExecResult(BaseModel):
    """The outcome of one command. A failing command is a result, never an exception.

    ``stdout``/``stderr`` are decoded as UTF-8 with replacement characters; the exact
    bytes are in ``stdout_bytes``/``stderr_bytes``. Each stream is capped while it is
    read (the rest is discarded, never buffered) and ``truncated`` says so.
    """

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    exit_code: int
    """Exit status (127: command not found; 124 or 137 after a timeout; 137 after an OOM kill)."""
    stdout: str = ""
    """Standard output, decoded with replacement."""
    stderr: str = ""
    """Standard error, decoded with replacement."""
    timed_out: bool = False
    """The command ran past its timeout and its whole process tree was killed."""
    oom_killed: bool = False
    """The kernel's OOM killer killed a process of this command (memory limit reached)."""
    truncated: bool = False
    """At least one stream was longer than the output cap and was cut."""
    duration_s: float = 0.0
    """Wall time from start to result, seconds."""
    stdout_bytes: bytes = Field(default=b"", repr=False)
    """Raw standard output (up to the cap)."""
    stderr_bytes: bytes = Field(default=b"", repr=False)
    """Raw standard error (up to the cap)."""

    @classmethod
    def from_bytes(
        cls, exit_code: int, stdout: bytes, stderr: bytes, *, decode: bool = True, **fields: object
    ) -> ExecResult:
        """Build a result from raw streams, decoding them with replacement.

        ``decode=False`` leaves ``stdout`` empty (binary output: only ``stdout_bytes``).
        """
        return cls(
            exit_code=exit_code,
            stdout=stdout.decode("utf-8", errors="replace") if decode else "",
            stderr=stderr.decode("utf-8", errors="replace"),
            stdout_bytes=stdout,
            stderr_bytes=stderr,
            **fields,  # type: ignore[arg-type]
        )

    @property
    def ok(self) -> bool:
        """Exit 0 and neither timed out nor OOM-killed."""
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed

    @property
    def output(self) -> str:
        """stdout followed by stderr, for showing to a model."""
        if self.stdout and self.stderr:
            return self.stdout + ("" if self.stdout.endswith("\n") else "\n") + self.stderr
        return self.stdout or self.stderr


class CellResult(ExecResult):
    """The outcome of one cell of a :class:`~thinktank.sandboxes.session.PythonSession`.

    ``exit_code`` is 0 when the cell ran to the end and 1 when it raised.
    """

    error: str | None = None
    """``"ExcType: message"`` of the exception the cell raised, if any."""
    session_restarted: bool = False
    """The interpreter had to be restarted (hard timeout, crash, OOM): variables were lost."""


class OutputCapture:
    """Keeps at most ``cap`` bytes of a stream; the rest is counted and dropped."""

    __slots__ = ("_chunks", "cap", "dropped", "kept")

    def __init__(self, cap: int = DEFAULT_OUTPUT_CAP) -> None:
        self.cap = cap
        self.kept = 0
        self.dropped = 0
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> None:
        """Append ``data``, keeping only what still fits under the cap."""
        room = self.cap - self.kept
        if room >= len(data):
            self._chunks.append(data)
            self.kept += len(data)
        else:
            if room > 0:
                self._chunks.append(data[:room])
                self.kept += room
            self.dropped += len(data) - max(room, 0)

    @property
    def truncated(self) -> bool:
        """True once anything was dropped."""
        return self.dropped > 0

    def getvalue(self) -> bytes:
        """The kept bytes."""
        if len(self._chunks) > 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0] if self._chunks else b""


__all__ = ["DEFAULT_OUTPUT_CAP", "CellResult", "ExecResult", "OutputCapture"]
