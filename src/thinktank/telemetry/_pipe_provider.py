"""The provider of the OTLP export's own spans (:mod:`thinktank.telemetry._pipe`):
tracers whose spans are queued in batches for the exporting process."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.trace import sampling

from thinktank.telemetry._batches import Batches, env_int
from thinktank.telemetry._pipe import PipeTracer
from thinktank.telemetry._sidecar import Flat, Sidecar

log = logging.getLogger("thinktank.telemetry")


class PipeProvider:
    """What :class:`~thinktank.telemetry._spans.Tracing` keeps of a provider: tracers
    whose spans go to the exporting process, and :meth:`shutdown` (flush, then close)."""

    def __init__(
        self,
        resource: Any,
        sampler: sampling.Sampler,
        send: Callable[[Mapping[str, Any], str, list[Flat]], Any] | None = None,
    ) -> None:
        self.resource = resource
        self.sampler = sampler
        self._sidecar: Sidecar | None = None
        if send is None:
            self._sidecar = Sidecar()
            send = self._sidecar.send
        attrs, schema = dict(resource.attributes), resource.schema_url
        max_batch = env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        max_queue = env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        if max_batch > max_queue:
            log.warning(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE (%d) is above OTEL_BSP_MAX_QUEUE_SIZE (%d): "
                "batches of %d",
                max_batch, max_queue, max_queue,
            )  # fmt: skip
            max_batch = max_queue
        self.batches = Batches(
            lambda spans: send(attrs, schema, spans),
            schedule_delay_s=env_int("OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000,
            max_queue=max_queue,
            max_batch=max_batch,
        )

        self._closed = False
        atexit.register(self.shutdown)  # as the SDK's provider: what is queued is sent

    def get_tracer(self, name: str, version: str | None = None, *args: Any, **kw: Any) -> Any:
        return PipeTracer(self.batches.put, (name, version), self.sampler)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand what is queued to the exporting process now."""
        self.batches.flush()
        return True

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.shutdown)
        self.batches.close()
        if self._sidecar is not None:
            self._sidecar.close()
