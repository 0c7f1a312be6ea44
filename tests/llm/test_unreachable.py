"""Unreachable endpoints over real HTTP on loopback: what is reported, and how fast.

Timing is asserted by counting attempts; the few wall-clock bounds are generous
(several times what is expected) yet far below what the old behaviour took (8-10 s
of backoff for a refused connection, the 120 s read timeout for a silent address).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.net import closed_port, silent_port
from thinktank.errors import ModelError, ModelUnavailable
from thinktank.llm import RetryPolicy
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.retry import RetryableError, call_with_retries
from thinktank.llm.simulator import SimulatorServer

TRANSPORTS = ["aiohttp", "httpcore"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_refused_connection_is_reported_as_refused_after_few_fast_attempts(
    transport: str,
) -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/v1"
        model = OpenAICompatModel("m", base_url=url, transport=transport)  # default policy
        t0 = time.perf_counter()
        with pytest.raises(ModelUnavailable) as info:
            await model.generate(["hi"])
        elapsed = time.perf_counter() - t0
        await model.aclose()
    msg = str(info.value)
    assert msg.startswith(f"connection refused by {url}"), msg
    assert "timed out" not in msg.lower()
    assert "3 attempts" in msg  # refused_retries=2, not max_retries=5
    assert info.value.endpoint == url
    assert elapsed < 4.0, elapsed  # two 0.2 s waits; the old backoff took 8-10 s


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_silent_address_fails_at_the_connect_timeout_not_the_read_timeout(
    transport: str,
) -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}/v1"
        model = OpenAICompatModel(
            "m",
            base_url=url,
            transport=transport,
            timeout_s=60.0,
            connect_timeout_s=0.5,
            retry=RetryPolicy(max_retries=0),
        )
        t0 = time.perf_counter()
        with pytest.raises(ModelUnavailable, match=r"within the 0\.5 s connect timeout") as info:
            await model.generate(["hi"])
        elapsed = time.perf_counter() - t0
        await model.aclose()
    assert url in str(info.value) and "1 attempt)" in str(info.value)
    assert elapsed < 20.0, elapsed  # the read timeout is 60 s


async def test_a_read_timeout_is_named_as_such(
    simulator: Callable[..., SimulatorServer],
) -> None:
    sim = simulator(faults={"script": ["timeout"], "hang_s": 5.0})
    model = sim.model(timeout_s=0.3, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ModelUnavailable, match=r"did not answer within the 0\.3 s read timeout"):
        await model.generate(["hi"])
    await model.aclose()


async def test_server_errors_keep_their_full_retries(
    simulator: Callable[..., SimulatorServer],
) -> None:
    sim = simulator(faults={"server_error": 1.0})
    model = sim.model(retry=RetryPolicy(max_retries=3, initial_s=0.001, max_wait_s=0.002))
    with pytest.raises(ModelError, match="HTTP 500 after 4 attempts"):
        await model.generate(["hi"])
    await model.aclose()
    assert sim.stats()["requests"] == 4


async def test_refused_retries_are_bounded_by_both_limits_and_do_not_back_off() -> None:
    sleeps: list[float] = []

    def counting(refused: bool) -> tuple[Callable[[], object], list[int]]:
        calls = [0]

        async def fn() -> None:
            calls[0] += 1
            raise RetryableError(ConnectionRefusedError(111, "refused"), refused=refused)

        return fn, calls

    policy = RetryPolicy(max_retries=5, refused_retries=2, refused_wait_s=0.0, initial_s=0.0)
    fn, calls = counting(refused=True)
    with pytest.raises(RetryableError):
        await call_with_retries(fn, policy, on_retry=lambda e, n: sleeps.append(n))  # type: ignore[arg-type]
    assert calls[0] == 3 and sleeps == [1, 2]
    fn, calls = counting(refused=False)
    with pytest.raises(RetryableError):
        await call_with_retries(fn, policy)  # type: ignore[arg-type]
    assert calls[0] == 6
    for max_retries, expected in ((1, 2), (0, 1)):
        fn, calls = counting(refused=True)
        with pytest.raises(RetryableError):
            await call_with_retries(fn, policy.model_copy(update={"max_retries": max_retries}))  # type: ignore[arg-type]
        assert calls[0] == expected
