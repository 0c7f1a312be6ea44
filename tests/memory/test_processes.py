"""Several real processes on one file: persistence and concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from thinktank.memory import MemoryFilter, MemoryItem, SQLiteMemoryBank

WORKERS = 4
PER_WORKER = 1_000


def _writer(path: str, worker: int, n: int, start: object) -> None:
    bank = SQLiteMemoryBank(path, busy_timeout_s=120)  # opening races with the others
    start.wait()  # type: ignore[attr-defined]
    for i in range(n):
        bank.add_sync(
            [
                MemoryItem(
                    id=f"w{worker}-{i:04d}",
                    title=f"worker {worker} lesson {i}",
                    content=f"Lesson {i} written concurrently by worker {worker}.",
                    tags=[f"worker-{worker}"],
                )
            ]
        )
    bank.close()


def test_four_processes_adding_1000_items_each_lose_none(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, w, PER_WORKER, start)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    bank = SQLiteMemoryBank(path)
    items = bank.scan_sync()
    ids = [i.id for i in items]
    assert len(ids) == WORKERS * PER_WORKER
    assert len(set(ids)) == len(ids)
    assert set(ids) == {f"w{w}-{i:04d}" for w in range(WORKERS) for i in range(PER_WORKER)}
    conn = sqlite3.connect(path)
    # the index and the document frequencies kept up with every writer
    conn.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")
    assert conn.execute("SELECT df FROM terms WHERE term = 'concurrently'").fetchone() == (4000,)
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (3,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    hits = bank.retrieve_sync("lesson 17", k=1, filters=MemoryFilter(tags=["worker-2"]))
    assert [h.id for h in hits] == ["w2-0017"]
    bank.close()


def _run(code: str, path: Path) -> str:
    script = textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_persistence_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    _run(
        """
        import sys
        from thinktank.memory import MemoryItem, Provenance, SQLiteMemoryBank
        bank = SQLiteMemoryBank(sys.argv[1])
        bank.add_sync([MemoryItem(id="p1", title="Pin dependency versions",
            content="Pin versions in the lock file before bisecting a failure.",
            provenance=Provenance(task_id="t-9", outcome="success", judge="ground_truth"))])
        bank.close()
        """,
        path,
    )
    bank = SQLiteMemoryBank(path)
    hit = bank.retrieve_sync("bisecting a failure with pinned versions", k=1)[0]
    assert hit.id == "p1" and hit.provenance.task_id == "t-9"
    bank.record_use_sync(["p1"], "success")
    out = _run(
        """
        import sys
        from thinktank.memory import SQLiteMemoryBank
        item = SQLiteMemoryBank(sys.argv[1]).get_sync("p1")
        print(item.usage.retrieved, item.usage.used_in_success, item.provenance.judge)
        """,
        path,
    )
    assert out == "1 1 ground_truth"
    bank.close()
