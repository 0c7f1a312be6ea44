"""Export → import round trip, and consolidation (merge, demote, evict, restore, cap)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from thinktank.memory import MemoryItem, Provenance, SQLiteMemoryBank, UsageStats
from thinktank.memory._consolidate import DedupRecord, find_duplicates
from thinktank.memory.errors import MemoryImportError


async def test_export_import_round_trip_is_lossless(
    filled: SQLiteMemoryBank, tmp_path: Path
) -> None:
    await filled.retrieve("python recursion", k=3)
    await filled.record_use(["fx019", "fx011"], "failure")
    await filled.record_use(["fx011"], "success")
    await filled.add(
        [
            MemoryItem(
                id="dup-a", title="Quote exact phrases in web search", content="Put exact phrases in quotes.",
                kind="strategy", domain="web", tags=["Search", "quotes"],
                provenance=Provenance(task_id="t1", outcome="success", judge="self_judge", run_id="r", method="reasoningbank"),
            ),
            MemoryItem(
                id="dup-b", title="Quote exact phrases in web search", content="Put the exact phrases in quotes.",
                kind="strategy", domain="web",
                provenance=Provenance(task_id="t2", outcome="success", judge="ground_truth"),
                usage=UsageStats(used_in_failure=5),
            ),
            MemoryItem(title="ünïcödé ✓", content='multi\nline "quoted" \\ content\twith tabs', kind="snippet"),
        ]
    )  # fmt: skip
    await filled.consolidate()  # merged_from and demoted flags are exported too
    first = tmp_path / "out" / "bank.jsonl"
    n = await filled.export(first)
    assert n == await filled.count() == 52
    other = SQLiteMemoryBank(tmp_path / "copy.sqlite")
    assert await other.import_(first) == 52
    assert await other.scan() == await filled.scan()
    second = tmp_path / "again.jsonl"
    await other.export(second)
    assert second.read_bytes() == first.read_bytes()
    merged = await other.get("dup-a")
    assert [m.id for m in merged.merged_from] == ["dup-b"] and merged.demoted
    other.close()


async def test_import_rejects_a_bad_line_and_stores_nothing(
    tmp_path: Path, bank: SQLiteMemoryBank
) -> None:
    path = tmp_path / "in.jsonl"
    good = MemoryItem(title="ok", content="fine").model_dump_json()
    path.write_text(good + "\n\n" + '{"title": "no content"}\n', encoding="utf-8")
    with pytest.raises(MemoryImportError, match=r"in\.jsonl:3 is not a memory item") as info:
        await bank.import_(path)
    assert info.value.line == 3
    assert await bank.count() == 0


def _item(i: str, title: str, content: str, **kw: object) -> MemoryItem:
    return MemoryItem(id=i, title=title, content=content, **kw)  # type: ignore[arg-type]


async def test_consolidation_merges_near_duplicates(bank: SQLiteMemoryBank) -> None:
    text = "Retry transient fetch failures with exponential backoff and honour Retry-After headers."
    await bank.add(
        [
            _item("a", "Retry flaky fetches", text, domain="web", tags=["http"],
                  provenance=Provenance(task_id="t1", outcome="success"),
                  usage=UsageStats(retrieved=3, used_in_success=2)),
            _item("b", "Retry flaky fetches", text.replace("honour", "respect"), domain="web",
                  tags=["reliability"], provenance=Provenance(task_id="t2", outcome="success"),
                  usage=UsageStats(retrieved=1, used_in_success=1, used_in_failure=1)),
            _item("c", "Retry flaky fetches", text, domain="web", kind="pitfall"),  # other kind
            _item("d", "Retry flaky fetches", text, domain="swe"),  # other domain
            _item("e", "Pin versions", "Pin dependency versions before bisecting.", domain="web"),
        ]
    )  # fmt: skip
    dry = await bank.consolidate(dry_run=True)
    assert dry.dry_run and dry.merged == {"a": ["b"]} and dry.after == 4
    assert await bank.count() == 5  # a dry run changes nothing
    report = await bank.consolidate()
    assert report.merged == {"a": ["b"]} and (report.before, report.after) == (5, 4)
    kept = await bank.get("a")
    assert kept.tags == ["http", "reliability"]
    assert (kept.usage.retrieved, kept.usage.used_in_success, kept.usage.used_in_failure) == (
        4,
        3,
        1,
    )
    assert [(m.id, m.provenance.task_id) for m in kept.merged_from] == [("b", "t2")]
    assert kept.provenance.task_id == "t1"
    assert {i.id for i in await bank.retrieve("retry fetch backoff", k=10)} == {"a", "c", "d"}
    assert (await bank.consolidate()).merged == {}


async def test_consolidation_demotes_then_evicts_repeat_failures(bank: SQLiteMemoryBank) -> None:
    await bank.add(
        [
            _item("bad", "Guess the answer format", "Answer with a guess about the cache format."),
            _item("good", "Check the cache format", "Read the cache format from the docs."),
            _item("mixed", "Cache format heuristics", "Infer the cache format from file headers."),
        ]
    )
    for _ in range(3):
        await bank.record_use(["bad", "mixed"], "failure")
    await bank.record_use(["mixed"], "success")
    report = await bank.consolidate()
    assert report.demoted == ["bad", "mixed"] and report.evicted == []
    assert (await bank.get("bad")).demoted
    # demoted items rank below an equally relevant item with a clean record
    hits = await bank.retrieve("cache format", k=3, record=False)
    assert hits[0].id == "good"
    # mixed recovers, bad keeps failing: one restored, the other evicted
    for _ in range(3):
        await bank.record_use(["mixed"], "success")
        await bank.record_use(["bad"], "failure")
    report = await bank.consolidate()
    assert report.restored == ["mixed"] and report.evicted == ["bad"]
    assert {i.id for i in await bank.scan()} == {"good", "mixed"}
    assert not (await bank.get("mixed")).demoted


async def test_consolidation_enforces_a_lowered_cap(bank: SQLiteMemoryBank) -> None:
    topics = ["caching", "parsing", "geometry", "retries", "sorting", "logging"]
    await bank.add(
        [_item(f"i{n}", f"lesson on {t}", f"advice about {t}") for n, t in enumerate(topics)]
    )
    await bank.record_use(["i0", "i1"], "failure")
    bank.max_items = 4
    report = await bank.consolidate()
    assert report.evicted == ["i0", "i1"] and report.after == 4


def test_lsh_path_finds_planted_duplicates() -> None:
    rng = random.Random(7)
    vocab = [f"word{i}" for i in range(3000)]
    records = [
        DedupRecord(f"r{i}", "strategy", None, " ".join(rng.sample(vocab, 25))) for i in range(1200)
    ]
    planted = {}
    for j in range(20):
        src = records[j * 50]
        words = src.text.split()
        words[rng.randrange(len(words))] = "changed"  # Jaccard 24/26 with the source
        planted[src.id] = f"d{j}"
        records.append(DedupRecord(f"d{j}", "strategy", None, " ".join(words), successes=5))
    clusters = find_duplicates(records, 0.8)
    found = {frozenset(r.id for r in c) for c in clusters}
    assert found == {frozenset({a, b}) for a, b in planted.items()}
    # the member with the better record is kept (listed first)
    assert all(c[0].id.startswith("d") for c in clusters)
