"""``thinktank.serve``'s public names resolve lazily; importing it loads no server."""

from __future__ import annotations

import importlib
from pathlib import Path

import thinktank.serve as serve
from tests.test_startup import HEAVY, loaded


def test_the_public_names_resolve_to_their_modules() -> None:
    assert set(serve._LAZY) == set(serve.__all__)
    for name, module in serve._LAZY.items():
        assert getattr(serve, name) is getattr(importlib.import_module(module), name), name


def test_importing_the_package_loads_nothing_heavy(tmp_path: Path) -> None:
    modules, _ = loaded("import thinktank.serve", tmp_path)
    assert sorted(modules & set(HEAVY)) == []
