"""``python -m thinktank.llm.simulator --config FILE [--fd N] [--port P] [--seed S]``.

The entry point :class:`~thinktank.llm.simulator.SimulatorProcess` starts; the CLI
``thinktank models simulate`` offers the same with friendlier options.
"""

from __future__ import annotations

import argparse

from thinktank.llm.simulator.config import load_config
from thinktank.llm.simulator.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m thinktank.llm.simulator")
    parser.add_argument("--config", help="SimulatorConfig as a JSON or YAML file")
    parser.add_argument("--fd", type=int, help="inherited bound socket to serve on")
    parser.add_argument("--port", type=int, help="port to bind (0 = free port)")
    parser.add_argument("--latency-ms", type=float, help="fixed latency per request")
    parser.add_argument("--seed", type=int, help="random seed")
    args = parser.parse_args(argv)
    config = load_config(args.config, port=args.port, latency_ms=args.latency_ms, seed=args.seed)
    serve_forever(config, fd=args.fd, announce=args.fd is None)


if __name__ == "__main__":
    main()
