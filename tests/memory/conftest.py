from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.memory._bank import fixture_items
from thinktank.memory import SQLiteMemoryBank


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.sqlite"


@pytest.fixture
def bank(bank_path: Path) -> Iterator[SQLiteMemoryBank]:
    b = SQLiteMemoryBank(bank_path)
    yield b
    b.close()


@pytest.fixture
def filled(bank: SQLiteMemoryBank) -> SQLiteMemoryBank:
    bank.add_sync(fixture_items())
    return bank
