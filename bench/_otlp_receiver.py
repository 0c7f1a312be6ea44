"""A minimal OTLP/HTTP trace receiver for benchmarks: ``POST /v1/traces`` decodes each
export request (protobuf, gzip or not) and counts its spans; ``GET /count`` answers
``{"spans": N, "requests": M}``. Run as its own process (``python _otlp_receiver.py``
prints ``PORT`` on stdout once it listens on 127.0.0.1), so decoding never competes
with the measured process for its interpreter.
"""

from __future__ import annotations

import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_lock = threading.Lock()
_counts = {"spans": 0, "requests": 0}
_OK = ExportTraceServiceResponse().SerializeToString()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        req = ExportTraceServiceRequest.FromString(body)
        n = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        with _lock:
            _counts["spans"] += n
            _counts["requests"] += 1
        self._reply(_OK, "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            data = json.dumps(_counts).encode()
        self._reply(data, "application/json")

    def _reply(self, data: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    # stop on SIGINT or SIGTERM even when started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
