"""The lucky-landscape study in its own process (killed by test_selection_resume):
``python -m tests.optimize._lucky_child OUT URL``."""

from __future__ import annotations

import sys

from tests.optimize import lucky as K
from tests.optimize.test_selection_resume import CONFIG


def main() -> None:
    out, url = sys.argv[1], sys.argv[2]
    K.set_prices()
    K.study(K.pool(url), out, **CONFIG).run_sync()


if __name__ == "__main__":
    main()
