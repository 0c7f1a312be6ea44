"""``thinktank memory`` through typer's CliRunner on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.memory._bank import fixture_items
from thinktank.cli.memory import app
from thinktank.memory import MemoryItem, SQLiteMemoryBank, UsageStats

runner = CliRunner()


def _bank(path: Path) -> None:
    bank = SQLiteMemoryBank(path)
    bank.add_sync(fixture_items())
    bank.close()


def test_list_search_show(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    _bank(db)
    out = runner.invoke(app, ["list", "--db", str(db), "--limit", "3"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "50 item(s)" in out.output and "Check modular arithmetic" in out.output
    assert "Use complementary counting" in out.output and "Forgetting negative" in out.output
    assert "Coordinate bash" not in out.output
    out = runner.invoke(app, ["list", "--db", str(db), "--kind", "snippet", "--json"])
    kinds = {json.loads(line)["kind"] for line in out.output.splitlines()}
    assert out.exit_code == 0 and kinds == {"snippet"}
    out = runner.invoke(
        app, ["search", 'recursion "depth" AND (exceeded', "--db", str(db), "-k", "2"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "Recursion limit in deep recursion" in out.output
    out = runner.invoke(app, ["show", "fx019", "--db", str(db)], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "sys.setrecursionlimit" in out.output
    assert "usage: retrieved 0" in out.output  # search did not count
    out = runner.invoke(app, ["show", "fx04", "--db", str(db)])
    assert out.exit_code == 1 and "several memory items" in out.output
    out = runner.invoke(app, ["show", "fx049", "--db", str(db), "--json"])
    assert json.loads(out.output)["title"] == "Ask what would falsify the answer"


def test_export_import_prune(tmp_path: Path) -> None:
    db, copy, file = tmp_path / "m.sqlite", tmp_path / "copy.sqlite", tmp_path / "out.jsonl"
    _bank(db)
    out = runner.invoke(app, ["export", str(file), "--db", str(db)])
    assert out.exit_code == 0 and "exported 50 item(s)" in out.output
    out = runner.invoke(app, ["import", str(file)], env={"THINKTANK_MEMORY": str(copy)})
    assert out.exit_code == 0 and "the bank now holds 50" in out.output
    bank = SQLiteMemoryBank(copy)
    bank.add_sync(
        [
            MemoryItem(id="dup", title="Use complementary counting", content=fixture_items()[1].content,
                       domain="math"),
            MemoryItem(id="loser", title="Always guess", content="Guess when unsure.",
                       usage=UsageStats(used_in_failure=4)),
        ]
    )  # fmt: skip
    bank.close()
    out = runner.invoke(app, ["prune", "--db", str(copy), "--dry-run"])
    assert out.exit_code == 0 and "1 duplicate(s) would be merged" in out.output
    assert "demoted: loser" in out.output
    out = runner.invoke(app, ["prune", "--db", str(copy), "--max-items", "45"])
    assert out.exit_code == 0, out.output
    assert "merged dup → fx001" in out.output and "52 → 45 item(s)" in out.output
    assert "evicted: loser" in out.output  # demoted items go first


def test_errors_are_clear(tmp_path: Path) -> None:
    out = runner.invoke(app, ["list", "--db", str(tmp_path / "absent.sqlite")])
    assert out.exit_code == 1 and "no memory bank" in out.output
    assert not (tmp_path / "absent.sqlite").exists()
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    out = runner.invoke(app, ["search", "x", "--db", str(bad)])
    assert out.exit_code == 1 and "not a SQLite database" in out.output
    out = runner.invoke(app, ["list", "--db", str(tmp_path / "x.sqlite"), "--kind", "wisdom"])
    assert out.exit_code == 1


def test_registered_on_the_root_app() -> None:
    from thinktank.cli.app import app as root

    out = runner.invoke(root, ["memory", "--help"])
    assert out.exit_code == 0 and "prune" in out.output
