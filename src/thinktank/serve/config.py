"""How a server runs: :class:`ServeConfig` (the ``thinktank serve`` options)."""

from __future__ import annotations

import ipaddress

from pydantic import Field

from thinktank._strict import StrictModel


class ServeConfig(StrictModel):
    """Options of ``thinktank serve`` (and :func:`thinktank.serve.create_app`)."""

    host: str = "127.0.0.1"
    """Interface to bind: loopback unless set explicitly (then set an API key)."""
    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port (0: any free port; the server prints the one it got)."""
    api_key: str | None = None
    """Bearer token every ``/v1`` request must carry (``None``: no authentication)."""
    max_concurrency: int = Field(default=32, ge=1)
    """Graph runs in progress at once; more requests wait in a queue."""
    max_queue: int = Field(default=1024, ge=0)
    """Requests that may wait for a run slot; beyond it a request gets 429 at once."""
    keepalive_s: float = Field(default=5.0, gt=0)
    """A streaming request's status is held back this long (so an early failure gets its
    own status code); after that the stream opens and an SSE comment is sent this often
    while the graph runs."""
    idle_timeout_s: int = Field(default=30, ge=1)
    """How long an idle keep-alive connection stays open. Longer than the connection
    pools of common clients keep one (httpx and the ``openai`` SDK: 5 s, aiohttp: 15 s),
    so the client drops it first: a server that closes first races the client's next
    request on that connection, which fails with "Server disconnected"."""
    store: str | None = None
    """SQLite file keeping served runs (``None``: in memory)."""
    keep: int = Field(default=1000, ge=0)
    """How many served runs the store keeps, newest first (0: all)."""
    kind: str = "text"
    """Task kind when a request names none in ``metadata.kind`` (how answers are voted)."""
    budget_usd: float | None = Field(default=None, ge=0)
    """Default per-request dollar budget (a request's own budget replaces it)."""
    gc_threshold: int = Field(default=10_000, ge=0)
    """The garbage collector's first-generation threshold in ``thinktank serve``'s
    process (0: the interpreter's, 700 by default). At 700 a served best-of-8 request
    sets off about two collections, and the collector took a fifth of the server's CPU
    (every run in flight is scanned, again and again); at 10,000 about a twelfth of
    that. Applied by :func:`thinktank.serve.server.serve_forever` (the CLI), which owns
    its process; an application embedding the server keeps its own setting."""

    @property
    def loopback(self) -> bool:
        """Whether :attr:`host` is a loopback address (``localhost`` counts)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
