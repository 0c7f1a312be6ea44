"""A study run in its own process (killed by test_resume): ``python -m tests.optimize._child OUT URL``."""

from __future__ import annotations

import sys

from tests.optimize import landscape as L
from tests.optimize.test_resume import study


def main() -> None:
    out, url = sys.argv[1], sys.argv[2]
    L.set_prices()
    study(out, L.pool(url)).run_sync()


if __name__ == "__main__":
    main()
