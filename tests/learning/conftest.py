from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thinktank.memory import SQLiteMemoryBank


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[SQLiteMemoryBank]:
    b = SQLiteMemoryBank(tmp_path / "memory.sqlite")
    yield b
    b.close()
