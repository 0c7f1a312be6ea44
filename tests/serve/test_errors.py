"""Bad input gets the OpenAI error object with OpenAI's status code."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.serve.conftest import KEY, fetch_run
from thinktank.serve import ServeServer

AUTH = {"Authorization": f"Bearer {KEY}"}


def _post(server: ServeServer, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    return httpx.post(
        f"{server.base_url}/chat/completions", headers={**AUTH, **(headers or {})}, **kwargs
    )


def _error(resp: httpx.Response, status: int, code: str | None, param: str | None = None) -> str:
    """Check the status and the error object's shape; returns its message."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code and err["param"] == param
    assert isinstance(err["message"], str) and err["message"]
    return str(err["message"])


def _ask(q: Any, **body: Any) -> dict[str, Any]:
    return {"model": "bo4", "messages": [{"role": "user", "content": q.question}], **body}


def test_an_unknown_model_is_404_model_not_found(served: ServeServer) -> None:
    resp = _post(served, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    message = _error(resp, 404, "model_not_found", "model")
    assert "'gpt-4o'" in message and "bo4, single" in message
    assert resp.json()["error"]["type"] == "invalid_request_error"
    client = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert exc.value.code == "model_not_found"
    _error(
        httpx.get(f"{served.base_url}/models/nope", headers=AUTH), 404, "model_not_found", "model"
    )


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        ({"messages": [{"role": "user", "content": "hi"}]}, "invalid_value", "model"),
        ({"model": "bo4"}, "invalid_value", "messages"),
        ({"model": "bo4", "messages": []}, "invalid_value", "messages"),
        ({"model": "bo4", "messages": [{"role": "robot", "content": "x"}]}, "invalid_value",
         "messages.0.role"),
        ({"model": "bo4", "messages": [{"role": "user", "content": "x"}], "stream": "maybe"},
         "invalid_value", "stream"),
        ({"model": "bo4", "messages": [{"role": "user", "content": "x"}], "n": 2},
         "invalid_value", "n"),
        ({"model": "bo4", "messages": [{"role": "assistant", "content": "x"}]}, "invalid_value",
         "messages.0.role"),
        ({"model": "bo4", "messages": [{"role": "user", "content": "  "}]}, "invalid_value",
         "messages.0.content"),
        ({"model": "bo4", "messages": [{"role": "user", "content": 7}]}, "invalid_value",
         "messages.0.content"),
        ({"model": "bo4", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "unsupported_content", "messages.0.content.0"),
        ({"model": "bo4", "messages": [{"role": "user", "content": "x"}],
          "metadata": {"kind": "poetry"}}, "invalid_value", "metadata.kind"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_400_naming_the_field(
    served: ServeServer, body: Any, code: str, param: str | None
) -> None:
    _error(_post(served, body), 400, code, param)


def test_a_missing_or_wrong_key_is_401(served: ServeServer) -> None:
    url = f"{served.base_url}/chat/completions"
    body = {"model": "bo4", "messages": [{"role": "user", "content": "hi"}]}
    missing = httpx.post(url, json=body)
    assert "Authorization: Bearer" in _error(missing, 401, "invalid_api_key")
    assert missing.headers["www-authenticate"] == "Bearer"
    _error(
        httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}), 401, "invalid_api_key"
    )
    _error(httpx.post(url, json=body, headers={"Authorization": KEY}), 401, "invalid_api_key")
    _error(httpx.get(f"{served.base_url}/models"), 401, "invalid_api_key")
    _error(httpx.get(f"{served.base_url}/thinktank/runs/x"), 401, "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.base_url, api_key="wrong", max_retries=0).models.list()
    assert httpx.get(f"{served.url}/health").json()["status"] == "ok"  # no key needed


def test_a_budget_that_refuses_every_call_is_402(served: ServeServer, questions: list[Any]) -> None:
    q = questions[0]
    resp = _post(served, _ask(q), {"X-Thinktank-Budget-Usd": "0.000001"})
    message = _error(resp, 402, "budget_exceeded")
    assert resp.json()["error"]["type"] == "insufficient_quota"
    assert "max $1e-06" in message and "X-Thinktank-Budget-Usd" in message
    # the refused run is stored: the message says where
    rid = message.rsplit("/v1/thinktank/runs/", 1)[1]
    run = fetch_run(served, rid)["result"]
    assert run["status"] == "budget_exhausted" and run["answer"] is None
    assert run["usage"]["totals"]["completion_tokens"] == 0
    # the same through metadata, through a token budget, and as a stream (refused early)
    _error(_post(served, _ask(q, metadata={"budget_usd": "1e-6"})), 402, "budget_exceeded")
    _error(_post(served, _ask(q), {"X-Thinktank-Budget-Tokens": "10"}), 402, "budget_exceeded")
    streamed = _post(served, _ask(q, stream=True), {"X-Thinktank-Budget-Usd": "0"})
    _error(streamed, 402, "budget_exceeded")
    client = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(
            model="bo4",
            messages=[{"role": "user", "content": q.question}],
            metadata={"budget_usd": "0.000001"},
        )
    assert exc.value.status_code == 402 and exc.value.code == "budget_exceeded"


def test_a_budget_that_cuts_the_run_still_answers_with_the_status(
    served: ServeServer, questions: list[Any]
) -> None:
    resp = _post(served, _ask(questions[0]), {"X-Thinktank-Budget-Tokens": "400"})
    assert resp.status_code == 200, resp.text
    ext = resp.json()["thinktank"]
    assert ext["status"] == "budget_exhausted" and ext["truncated"]
    assert 0 < ext["samples"] < ext["samples_requested"] == 4
    run = fetch_run(served, resp.json()["id"])["result"]
    assert run["budget"]["max_tokens"] == 400 and run["budget"]["spent_tokens"] <= 400
    assert resp.json()["usage"]["total_tokens"] == run["budget"]["spent_tokens"]


@pytest.mark.parametrize(
    ("headers", "metadata", "param"),
    [
        ({"X-Thinktank-Budget-Usd": "lots"}, None, "X-Thinktank-Budget-Usd"),
        ({"X-Thinktank-Budget-Usd": "-1"}, None, "X-Thinktank-Budget-Usd"),
        ({"X-Thinktank-Budget-Tokens": "1.5"}, None, "X-Thinktank-Budget-Tokens"),
        ({}, {"budget_usd": "nan"}, "metadata.budget_usd"),
    ],
)
def test_a_malformed_budget_is_400(
    served: ServeServer, questions: list[Any], headers: dict[str, str], metadata: Any, param: str
) -> None:
    body = _ask(questions[0], **({"metadata": metadata} if metadata else {}))
    _error(_post(served, body, headers), 400, "invalid_value", param)


def test_tools_are_refused_with_a_clear_400(served: ServeServer) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    client = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model="bo4",
            messages=[{"role": "user", "content": "hi"}],
            tools=[tool],
        )
    assert exc.value.code == "tools_not_supported" and exc.value.param == "tools"
    assert "does not take tools" in exc.value.message
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": "so?"},
    ]
    _error(
        _post(served, {"model": "bo4", "messages": turns}), 400, "tools_not_supported", "messages.1"
    )
    body = {"model": "bo4", "messages": turns[:1], "functions": [tool["function"]]}
    _error(_post(served, body), 400, "tools_not_supported", "functions")
    # tool_choice "none" with no tools is harmless
    ok = _post(served, {"model": "single", "messages": turns[:1], "tool_choice": "none"})
    assert ok.status_code == 200


def test_unknown_runs_and_routes_get_error_objects(served: ServeServer) -> None:
    _error(
        httpx.get(f"{served.base_url}/thinktank/runs/chatcmpl-x", headers=AUTH),
        404,
        "run_not_found",
        "id",
    )
    assert "/v1/nothing" in _error(httpx.get(f"{served.base_url}/nothing", headers=AUTH), 404, None)
    _error(httpx.get(f"{served.base_url}/chat/completions", headers=AUTH), 405, None)
