"""The bundled web suite: answers are in the corpus, multi-hop questions list their pages."""

from __future__ import annotations

import html
import re

from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.suites.bundled import load_web_questions, web_corpus_dir


def page_text(rel: str) -> str:
    raw = (web_corpus_dir() / rel).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    return " ".join(text.split()).lower()


def all_pages() -> list[str]:
    root = web_corpus_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html"))


def test_suite_size() -> None:
    questions = load_web_questions()
    assert len(questions) >= 20
    assert sum(q.hops > 1 for q in questions) >= 6
    assert len({q.id for q in questions}) == len(questions)
    assert len(all_pages()) >= 20


def test_every_answer_appears_in_a_page() -> None:
    pages = {rel: page_text(rel) for rel in all_pages()}
    for q in load_web_questions():
        needle = " ".join(q.answer.split()).lower()
        assert any(needle in text for text in pages.values()), q.id
        assert any(needle in pages[rel] for rel in q.pages), (q.id, "not in its listed pages")


def test_multi_hop_questions_list_their_pages() -> None:
    existing = set(all_pages())
    for q in load_web_questions():
        assert q.hops == len(q.pages)
        assert set(q.pages) <= existing, q.id
        if q.hops > 1:
            assert len(set(q.pages)) == 2, q.id


def test_pages_are_realistic_html() -> None:
    for rel in all_pages():
        raw = (web_corpus_dir() / rel).read_text(encoding="utf-8")
        assert raw.lstrip().lower().startswith("<!doctype html>"), rel
        assert "<nav" in raw or 'id="mw-panel"' in raw, rel
        assert "<footer" in raw or 'id="footer"' in raw, rel


def test_tasks() -> None:
    tasks = load_suite("web")
    assert {t.kind for t in tasks} == {"web"}
    multi = [t for t in tasks if "multi-hop" in t.tags]
    assert multi and all(len(t.metadata["pages"]) == 2 for t in multi)


def test_local_corpus_search_finds_the_first_hop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from thinktank.tools.web.corpus import CorpusIndex

    index = CorpusIndex.open(web_corpus_dir(), index_path=tmp_path / "index.sqlite")
    for q in load_web_questions():
        paths = [hit.path for hit in index.search(q.question, limit=10)]
        assert q.pages[0] in paths, (q.id, paths)
