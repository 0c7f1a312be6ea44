"""Local corpus search (SQLite FTS5 BM25), its index reuse, and the loopback corpus server."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import httpx
import pytest

from thinktank.errors import ConfigError
from thinktank.tools.web import CorpusIndex, Document, WebSearchConfig, serve_corpus
from thinktank.tools.web.backends.local import LocalSearchConfig
from thinktank.tools.web.corpus import fts_query
from thinktank.tools.web.serve import CorpusServer

from .conftest import write_corpus


def test_folder_corpus_indexes_html_markdown_and_text(tmp_path: Path) -> None:
    index = CorpusIndex.open(write_corpus(tmp_path / "site"), index_path=tmp_path / "i.sqlite")
    assert len(index) == 5  # the PNG is not a document
    paths = {p for p, _ in index.titles()}
    assert paths == {"apple.html", "banana.md", "cherry.txt", "long.html", "sub/durian.html"}
    apple = index.document("apple.html")
    assert apple is not None and apple.title == "Apple pie" and "<p>" not in apple.text
    assert index.document("banana.md").title == "Bananas"  # type: ignore[union-attr]
    assert index.document("cherry.txt").title == "Cherries"  # type: ignore[union-attr]
    [hit] = index.search("potassium", 5)
    assert hit.path == "banana.md" and "potassium" in hit.snippet and hit.score > 0


def test_bm25_ranks_by_term_matches_with_stemming_and_title_weight(tmp_path: Path) -> None:
    docs = [
        Document(
            path="both", title="Volcano", text="A volcano erupts lava; eruptions shape islands."
        ),
        Document(path="one", title="Islands", text="Islands form in many ways."),
        Document(path="title", title="Lava", text="Molten rock."),
        Document(path="none", title="Gardening", text="Tomatoes like sun."),
    ]
    for i in range(30):  # background so IDF behaves like a corpus
        docs.append(
            Document(path=f"bg{i}", title=f"Note {i}", text="ordinary words about daily life " * 3)
        )
    index = CorpusIndex.build(docs, tmp_path / "x.sqlite")
    hits = index.search("volcanic eruption lava islands", 10)
    assert hits[0].path == "both" and {h.path for h in hits} == {"both", "one", "title"}
    assert [h.path for h in index.search("erupting", 3)] == ["both"]  # porter stemming
    assert index.search("lava", 5)[0].path == "title"  # title weighs more than body
    assert (
        index.search("", 5) == [] and fts_query("the of") == '"the" OR "of"'
    )  # all stop words: keep them


@pytest.mark.parametrize(
    "query", ['"unbalanced', "NEAR(a b)", "a AND OR NOT", "col:value", "*", "(x", "drop table;"]
)
def test_fts_syntax_in_queries_is_harmless(tmp_path: Path, query: str) -> None:
    index = CorpusIndex.build(
        [Document(path="d", title="value table", text="a b x")], tmp_path / "q.sqlite"
    )
    index.search(query, 5)  # must not raise
    assert fts_query("Hello, WORLD hello!") == '"hello" OR "world"'


def test_index_is_reused_until_the_corpus_changes(tmp_path: Path) -> None:
    site = write_corpus(tmp_path / "site")
    path = tmp_path / "idx.sqlite"
    CorpusIndex.open(site, index_path=path).close()
    built = path.stat().st_mtime_ns
    CorpusIndex.open(site, index_path=path).close()
    assert path.stat().st_mtime_ns == built  # reused, not rebuilt
    (site / "egg.txt").write_text("Eggs\n\nEggs are laid by hens.")
    index = CorpusIndex.open(site, index_path=path)
    assert path.stat().st_mtime_ns != built and index.search("hens", 1)[0].path == "egg.txt"
    index.close()
    os.utime(site / "egg.txt", ns=(1, 1))
    before = path.stat().st_mtime_ns
    CorpusIndex.open(site, index_path=path).close()
    assert path.stat().st_mtime_ns != before  # touched files count as changes


def test_default_index_path_is_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINKTANK_CACHE_DIR", str(tmp_path / "cache"))
    CorpusIndex.open(write_corpus(tmp_path / "site")).close()
    assert len(list((tmp_path / "cache" / "corpus").glob("*.sqlite"))) == 1


def test_jsonl_corpus_and_bad_sources(tmp_path: Path) -> None:
    rows = [
        {
            "id": "q1",
            "title": "Mount Everest",
            "text": "Everest is the highest mountain.",
            "url": "https://e.example/",
        },
        {"title": "K2", "body": "K2 is the second highest mountain."},
    ]
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    index = CorpusIndex.open(source, index_path=tmp_path / "j.sqlite")
    hits = index.search("highest mountain", 5)
    assert {h.path for h in hits} == {"doc/q1", "doc/2"}
    assert next(h for h in hits if h.path == "doc/q1").url == "https://e.example/"
    with pytest.raises(ConfigError, match="does not exist"):
        CorpusIndex.open(tmp_path / "missing")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2 is not valid JSON"):
        CorpusIndex.open(tmp_path / "bad.jsonl", index_path=tmp_path / "b.sqlite")
    (tmp_path / "docs.csv").touch()
    with pytest.raises(ConfigError, match=r"a folder of pages or a \.jsonl file"):
        CorpusIndex.open(tmp_path / "docs.csv", index_path=tmp_path / "c.sqlite")


async def test_local_backend_urls_follow_base_url(tmp_path: Path) -> None:
    site = write_corpus(tmp_path / "site")
    for base, expected in (
        (None, (site / "banana.md").resolve().as_uri()),
        ("http://corpus.test/x/", "http://corpus.test/x/banana.md"),
    ):
        cfg = WebSearchConfig(
            backends=[LocalSearchConfig(path=site, index_path=tmp_path / "l.sqlite", base_url=base)]
        )
        async with cfg.build() as search:
            [hit] = await search.search("potassium")
        assert hit.url == expected


def test_corpus_server_endpoints(web: CorpusServer, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside the corpus")
    with httpx.Client(base_url=web.url) as client:
        data = client.get("/search", params={"q": "durian smell", "format": "json"}).json()
        assert (
            data["query"] == "durian smell"
            and data["results"][0]["url"] == f"{web.url}/sub/durian.html"
        )
        assert set(data["results"][0]) >= {"url", "title", "content", "engine"}
        assert client.get("/search", params={"q": "fruit", "pageno": "9"}).json()["results"] == []
        page = client.get("/sub/durian.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert client.get("/img/logo.png").headers["content-type"] == "image/png"
        assert "apple.html" in client.get("/").text  # listing
    for escape in (
        "/../index.sqlite",
        "/%2e%2e/index.sqlite",
        "/sub/../../index.sqlite",
        "/%2e%2e%2fsecret.txt",
    ):
        conn = http.client.HTTPConnection(
            web.host, web.port, timeout=5
        )  # raw path, no client-side normalising
        conn.request("GET", escape)
        response = conn.getresponse()
        assert response.status == 404, escape
        conn.close()


def test_jsonl_corpus_is_served_as_html_pages(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text(
        json.dumps({"id": "7", "title": "Tea <b>", "text": "Green tea.\n\nBlack tea."}) + "\n"
    )
    with serve_corpus(source, index_path=tmp_path / "s.sqlite") as server:
        [result] = httpx.get(f"{server.url}/search", params={"q": "tea", "format": "json"}).json()[
            "results"
        ]
        assert result["url"] == f"{server.url}/doc/7"
        html = httpx.get(result["url"]).text
    assert "<title>Tea &lt;b&gt;</title>" in html and "<p>Black tea.</p>" in html
