"""The SQLite store in one process: retrieval, filters, caps, usage and track record."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.memory._bank import QUERIES, fixture_items
from thinktank.memory import (
    ItemLimits,
    MemoryFilter,
    MemoryItem,
    RankingPolicy,
    SQLiteMemoryBank,
)
from thinktank.memory.errors import ItemNotFound, MemoryBankNotFound, MemoryItemTooLarge
from thinktank.memory.types import render_items


@pytest.mark.parametrize(("query", "title"), list(QUERIES.items()))
async def test_retrieval_finds_the_relevant_item(
    filled: SQLiteMemoryBank, query: str, title: str
) -> None:
    hits = await filled.retrieve(query, k=3, record=False)
    assert title in [h.title for h in hits]


async def test_hostile_query_text_never_errors(filled: SQLiteMemoryBank) -> None:
    for q in [
        'say "hello" AND NOT world OR NEAR(a b, 3)',
        '"unbalanced quote',
        "title:recursion* ^start -minus + plus (paren",
        "'; DROP TABLE items; --",
        "",
        "   ",
        "the of and a",  # stopwords only
        "ünïcödé 数学 العربية",
        "zzzzqqq nothing matches this",
        "\x00\x01 control",
    ]:
        hits = await filled.retrieve(q, k=5)
        assert isinstance(hits, list)
    assert await filled.count() == 50
    # a column filter in user text is just words, and those words still match
    hits = await filled.retrieve("title:recursion", k=2)
    assert hits[0].title == "Recursion limit in deep recursion"


async def test_filters_by_kind_domain_tags(filled: SQLiteMemoryBank) -> None:
    hits = await filled.retrieve("python", k=10, filters=MemoryFilter(kinds=["pitfall"]))
    assert hits and all(h.kind == "pitfall" for h in hits)
    hits = await filled.retrieve("python", k=10, filters=MemoryFilter(domains="swe"))
    assert hits and all(h.domain == "swe" for h in hits)
    hits = await filled.retrieve("python", k=10, filters=MemoryFilter(tags=["python", "numerics"]))
    assert {h.title for h in hits} == {"Exact rational arithmetic"}
    hits = await filled.retrieve(
        "answer", k=20, filters=MemoryFilter(tags=["aime", "budget"], tags_mode="any")
    )
    assert {h.title for h in hits} == {
        "AIME answers are integers 0-999",
        "Running out of budget mid-task",
    }
    assert await filled.count(MemoryFilter(kinds="snippet")) == 3
    listed = await filled.scan(MemoryFilter(domains=["web"]), limit=3, offset=2)
    assert [i.id for i in listed] == ["fx032", "fx033", "fx034"]


async def test_retrieve_counts_retrievals_unless_told_not_to(filled: SQLiteMemoryBank) -> None:
    q = "Python recursion limit exceeded"
    first = (await filled.retrieve(q, k=1))[0]
    assert first.usage.retrieved == 1 and first.usage.last_retrieved is not None
    await filled.retrieve(q, k=1, record=False)
    assert (await filled.get(first.id)).usage.retrieved == 1


async def test_record_use_and_track_record_weighting(tmp_path: Path) -> None:
    ranking = RankingPolicy(track_record_weight=0.5)
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite", ranking=ranking)
    a = MemoryItem(title="Cache results of slow calls", content="Cache slow calls in a dict.")
    b = MemoryItem(title="Cache results of slow functions", content="Cache slow function results.")
    await bank.add([a, b])
    assert await bank.record_use([b.id, b.id, "missing"], "success") == 1
    for _ in range(4):
        await bank.record_use([a.id], "failure")
    for _ in range(3):
        await bank.record_use([b.id], "success")
    got_a, got_b = await bank.get(a.id), await bank.get(b.id)
    assert (got_a.usage.used_in_failure, got_b.usage.used_in_success) == (4, 4)
    assert got_b.usage.last_used is not None
    hits = await bank.retrieve("cache slow calls", k=2, record=False)
    assert [h.id for h in hits] == [b.id, a.id]
    # relevance only: the better textual match (a) wins
    bank.ranking = RankingPolicy(track_record_weight=0.0)
    hits = await bank.retrieve("cache slow calls", k=2, record=False)
    assert hits[0].id == a.id
    with pytest.raises(ValueError, match="outcome"):
        await bank.record_use([a.id], "maybe")  # type: ignore[arg-type]
    bank.close()


async def test_item_over_the_cap_is_refused(bank: SQLiteMemoryBank) -> None:
    ok = MemoryItem(title="fine", content="short")
    big = MemoryItem(title="too long", content="x" * 4001)
    with pytest.raises(
        MemoryItemTooLarge, match=r"content has 4001 characters, over the cap of 4000"
    ) as info:
        await bank.add([ok, big])
    assert info.value.field == "content" and info.value.item_id == big.id
    assert await bank.count() == 0  # nothing of the batch was stored
    bank.limits = ItemLimits(max_title_chars=5)
    with pytest.raises(MemoryItemTooLarge, match="title"):
        await bank.add([MemoryItem(title="a long title", content="c")])


async def test_size_cap_evicts_by_the_documented_rule(tmp_path: Path) -> None:
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite", max_items=4)
    items = [
        MemoryItem(id=f"i{n}", title=f"item {n}", content=f"lesson number {n}") for n in range(4)
    ]
    await bank.add(items)
    await bank.record_use(["i0"], "success")  # best record: kept
    await bank.record_use(["i1"], "failure")  # worst record: evicted first
    await bank.add([MemoryItem(id="i4", title="item 4", content="lesson four")])
    assert {i.id for i in await bank.scan()} == {"i0", "i2", "i3", "i4"}
    # equal records: the least recently active goes (i2 is older than i3, i4)
    await bank.retrieve("lesson number 3", k=1)  # i3 becomes recently active
    await bank.add([MemoryItem(id="i5", title="item 5", content="lesson five")])
    assert {i.id for i in await bank.scan()} == {"i0", "i3", "i4", "i5"}
    bank.close()


async def test_get_resolve_delete_and_upsert(filled: SQLiteMemoryBank) -> None:
    assert (await filled.get("fx010")).title == "Write tests before the fix"
    with pytest.raises(ItemNotFound):
        await filled.get("nope")
    with pytest.raises(ItemNotFound, match="several"):
        await filled.resolve("fx01")
    assert await filled.resolve("fx010") == "fx010"
    with pytest.raises(ItemNotFound, match="no memory item"):
        await filled.resolve("zz")
    changed = (await filled.get("fx010")).model_copy(update={"title": "Reproduce bugs with a test"})
    await filled.add([changed])
    assert await filled.count() == 50
    assert (await filled.retrieve("reproduce bugs", k=1))[0].id == "fx010"
    assert await filled.delete(["fx010", "fx011", "missing"]) == 2
    assert await filled.count() == 48
    assert not await filled.retrieve(
        "mutable default list", k=5, filters=MemoryFilter(ids=["fx011"])
    )


def test_render_items_and_sync_api(bank: SQLiteMemoryBank) -> None:
    items = fixture_items()[:2]
    text = render_items(items)
    assert text.startswith("Lessons from earlier tasks:") and "1. [strategy]" in text
    assert render_items([]) == ""
    bank.add_sync(items)
    assert bank.count_sync() == 2
    assert bank.retrieve_sync("modular arithmetic remainders", k=1)[0].id == "fx000"


def test_missing_file_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(MemoryBankNotFound, match="no memory bank"):
        SQLiteMemoryBank(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()
