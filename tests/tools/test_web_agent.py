"""An agent answers a question by searching and fetching pages from a loopback corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

from thinktank.agents.agent import Agent
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest, Completion, ToolCall
from thinktank.tools.web.serve import serve_corpus

PAGES = {
    "varnholm.html": (
        "<html><head><title>Varnholm</title></head><body><nav>Home | Towns | About</nav>"
        "<article><h1>Varnholm</h1><p>Varnholm is a lakeside town in the Esker valley. "
        "It was founded in 1732 by the cooper Idris Malt, whose workshop still stands.</p>"
        "<p>The town hosts the Esker ferry.</p></article><footer>(c) Esker Wiki</footer></body></html>"
    ),
    "esker.html": (
        "<html><head><title>Esker valley</title></head><body><article><h1>Esker valley</h1>"
        "<p>The Esker valley holds three towns: Varnholm, Quill and Dunmere.</p></article></body></html>"
    ),
    "ferry.html": (
        "<html><head><title>Esker ferry</title></head><body><article><h1>Esker ferry</h1>"
        "<p>The ferry crosses the lake twice a day.</p></article></body></html>"
    ),
}


def researcher(req: ChatRequest) -> Completion:
    """Search, open the top hit, then answer from the page text."""
    last = req.messages[-1]
    if last["role"] == "user":
        return Completion(
            tool_calls=[
                ToolCall(
                    id="s1", name="web_search", arguments=json.dumps({"query": "Varnholm founded"})
                )
            ],
            finish_reason="tool_calls",
        )
    if last.get("tool_call_id") == "s1":
        url = re.search(r"https?://127\.0\.0\.1:\d+/\S*varnholm\S*", str(last["content"]))
        assert url, last["content"]
        return Completion(
            tool_calls=[
                ToolCall(
                    id="f1",
                    name="fetch_page",
                    arguments=json.dumps({"url": url.group(0).rstrip(").,")}),
                )
            ],
            finish_reason="tool_calls",
        )
    year = re.search(r"founded in (\d{4})", str(last["content"]))
    return Completion(
        text=f"The page says it was founded in {year.group(1) if year else '?'}.\nAnswer: {year.group(1) if year else 'unknown'}"
    )


async def test_agent_answers_from_search_and_fetch(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, html in PAGES.items():
        (corpus / name).write_text(html)
    with serve_corpus(corpus, index_path=tmp_path / "index.sqlite") as server:
        search = server.search_config().build().tool()
        fetch = server.fetch_config().build().tool()
        traj = await Agent("solver", FunctionModel(researcher), tools=[search, fetch]).run(
            "When was Varnholm founded?"
        )
    assert traj.status == "ok" and traj.output["answer"] == "1732"
    search_step, fetch_step = traj.steps[0].tool_calls[0], traj.steps[1].tool_calls[0]
    assert not search_step.is_error and "Varnholm" in search_step.content
    assert not fetch_step.is_error and "Idris Malt" in fetch_step.content
    assert "Home | Towns" not in fetch_step.content  # boilerplate stripped by main-text extraction
