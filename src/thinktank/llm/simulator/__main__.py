"""``python -m thinktank.llm.simulator --config FILE [--fd N] [--port P] [--seed S]``.

The entry point :class:`~thinktank.llm.simulator.SimulatorProcess` starts; the CLI
``thinktank models simulate`` offers the same with friendlier options.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

from thinktank.llm.simulator.config import load_config
from thinktank.llm.simulator.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m thinktank.llm.simulator")
    parser.add_argument("--config", help="SimulatorConfig as a JSON or YAML file")
    parser.add_argument("--fd", type=int, help="inherited bound socket to serve on")
    parser.add_argument("--port", type=int, help="port to bind (0 = free port)")
    parser.add_argument("--latency-ms", type=float, help="fixed latency per request")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if args.parent_pid:
        _watch_parent(args.parent_pid)
    config = load_config(args.config, port=args.port, latency_ms=args.latency_ms, seed=args.seed)
    serve_forever(config, fd=args.fd, announce=args.fd is None)


def _watch_parent(pid: int) -> None:
    """Stop (SIGTERM to self) once the parent exits, so a crashed caller leaves no server."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
