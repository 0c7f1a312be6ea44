"""LangChain's ``ChatOpenAI`` and a LangGraph graph calling it, pointed at ``thinktank serve``."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph

from tests.serve.conftest import KEY, check_usage, fetch_run
from thinktank.serve import ServeServer


def _chat(server: ServeServer, model: str = "bo4", **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=server.base_url,
        api_key=KEY,
        max_retries=0,
        **kwargs,
    )


def test_invoke_returns_the_answer_and_the_runs_usage(
    served: ServeServer, questions: list[Any]
) -> None:
    q = questions[0]
    msg = _chat(served).invoke([SystemMessage("Answer briefly."), HumanMessage(q.question)])
    assert isinstance(msg, AIMessage)
    run = fetch_run(served, msg.response_metadata["id"])
    assert msg.content == run["result"]["answer"]
    assert msg.response_metadata["model_name"] == "bo4"
    assert msg.usage_metadata is not None
    use = msg.usage_metadata
    check_usage(
        {
            "prompt_tokens": use["input_tokens"],
            "completion_tokens": use["output_tokens"],
            "total_tokens": use["total_tokens"],
        },
        run,
    )


def test_stream_gives_what_invoke_gives_for_the_same_seed(
    served: ServeServer, questions: list[Any]
) -> None:
    chat = _chat(served, model="single", stream_usage=True, seed=11)
    chunks = list(chat.stream(questions[1].question))
    text = "".join(str(c.content) for c in chunks)
    total = sum((c.usage_metadata or {}).get("total_tokens", 0) for c in chunks)
    # LangChain's chunks do not carry the response id: the same seed repeats the run
    again = chat.invoke(questions[1].question)
    run = fetch_run(served, again.response_metadata["id"])
    assert text == again.content == run["result"]["answer"]
    assert total == run["result"]["usage"]["tokens"] > 0


async def test_ainvoke_and_batch(served: ServeServer, questions: list[Any]) -> None:
    chat = _chat(served, model="single")
    one = await chat.ainvoke(questions[2].question)
    assert one.content == fetch_run(served, one.response_metadata["id"])["result"]["answer"]
    many = await chat.abatch([q.question for q in questions[:3]])
    assert [bool(m.content) for m in many] == [True, True, True]


def test_a_langgraph_graph_calling_the_served_graph(
    served: ServeServer, questions: list[Any]
) -> None:
    """A LangGraph application whose model node is a thinktank graph behind an endpoint."""
    chat = _chat(served)

    def think(state: MessagesState) -> dict[str, Any]:
        return {"messages": [chat.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("think", think)
    g.add_edge(START, "think")
    g.add_edge("think", END)
    app = g.compile()
    out = app.invoke({"messages": [HumanMessage(questions[3].question)]})
    reply = out["messages"][-1]
    assert isinstance(reply, AIMessage)
    assert reply.content == fetch_run(served, reply.response_metadata["id"])["result"]["answer"]


def test_binding_tools_is_refused_clearly(served: ServeServer) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    with pytest.raises(openai.BadRequestError) as exc:
        _chat(served).bind_tools([add]).invoke("What is 2 + 3?")
    assert exc.value.code == "tools_not_supported"
