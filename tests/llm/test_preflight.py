"""The model check before a run: one request per endpoint, no tokens, the fix in the message."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.net import closed_port
from thinktank.errors import AuthenticationFailed, ModelUnavailable
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.preflight import check_models
from thinktank.llm.simulator import SimulatorServer
from thinktank.llm.testing import ScriptedModel


async def test_a_live_endpoint_is_asked_once_and_spends_nothing(
    simulator: Callable[..., SimulatorServer],
) -> None:
    sim = simulator()
    url = f"openai:sim@{sim.base_url}"
    asked = await check_models({"default": url, "strong": f"openai:big@{sim.base_url}"})
    assert asked == 1  # two aliases, one endpoint
    assert sim.stats()["requests"] == 0  # no chat completion, no tokens


async def test_a_closed_port_is_named_with_every_label_and_the_fix() -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/v1"
        t0 = time.perf_counter()
        with pytest.raises(ModelUnavailable) as info:
            await check_models(
                {"default": f"openai:a@{url}", "judge": f"openai:b@{url}"},
                hint="start the server or pass --model",
            )
        elapsed = time.perf_counter() - t0
    msg = str(info.value)
    assert f"models default, judge: connection refused by {url}" in msg, msg
    assert msg.endswith("start the server or pass --model")
    assert elapsed < 4.0, elapsed  # three refused attempts 0.2 s apart


async def test_every_failing_endpoint_is_listed(simulator: Callable[..., SimulatorServer]) -> None:
    sim = simulator()
    with closed_port() as a, closed_port() as b:
        with pytest.raises(ModelUnavailable) as info:
            await check_models(
                {
                    "ok": f"openai:sim@{sim.base_url}",
                    "x": f"openai:x@http://127.0.0.1:{a}/v1",
                    "y": f"openai:y@http://127.0.0.1:{b}/v1",
                }
            )
    msg = str(info.value)
    assert f"model x: connection refused by http://127.0.0.1:{a}/v1" in msg
    assert f"model y: connection refused by http://127.0.0.1:{b}/v1" in msg
    assert "model ok" not in msg


def _answering(status: int) -> OpenAICompatModel:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.path == "/v1/models"
        return httpx.Response(status, json={"error": {"message": "nope"}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatModel("m", base_url="http://127.0.0.1:9/v1", http_client=client)


async def test_rejected_credentials_say_which_variable_without_the_server_hint() -> None:
    with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY") as info:
        await check_models({"default": _answering(401)}, hint="start the server")
    assert "start the server" not in str(info.value)


@pytest.mark.parametrize("status", [200, 404, 500])
async def test_any_other_answer_means_the_endpoint_is_up(status: int) -> None:
    assert await check_models({"default": _answering(status)}) == 1


async def test_models_without_an_endpoint_are_not_asked() -> None:
    assert await check_models({"default": ScriptedModel(["4"])}) == 0
