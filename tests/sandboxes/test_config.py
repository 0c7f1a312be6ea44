"""Sandbox configuration: secure defaults, discriminated types, helpful errors."""

from __future__ import annotations

import asyncio
import os

import pytest
from pydantic import ValidationError

from thinktank.errors import ConfigError
from thinktank.sandboxes import (
    DockerSandboxConfig,
    LocalSandboxConfig,
    PoolConfig,
    load_sandbox_config,
    provider_from_config,
)
from thinktank.sandboxes.docker import DockerProvider
from thinktank.sandboxes.local import LocalProvider
from thinktank.sandboxes.pool import WarmPool


def test_defaults_are_the_secure_choice() -> None:
    c = DockerSandboxConfig()
    assert c.network_mode == "none" and c.read_only_root and c.cap_drop_all and c.no_new_privileges
    assert not c.user.startswith("0") and c.swap_mb == 0 and c.cap_add == [] and c.pass_env == []
    assert c.runtime is None and c.output_cap_bytes == 1 << 20
    assert LocalSandboxConfig().network == "none"


def test_unknown_field_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError) as err:
        DockerSandboxConfig(memroy_mb=5)  # type: ignore[call-arg]
    text = str(err.value)
    assert "memroy_mb" in text and "memory_mb" in text and "pids_limit" in text
    with pytest.raises(ConfigError, match=r"unknown field.*'nework'.*valid fields: .*network"):
        load_sandbox_config({"type": "local", "nework": "host"})


def test_unknown_type_lists_the_types() -> None:
    with pytest.raises(ConfigError, match="valid types: docker, local, pool"):
        load_sandbox_config({"type": "firecracker"})


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match="memory_mb"):
        load_sandbox_config({"type": "docker", "memory_mb": 1})
    with pytest.raises(ConfigError, match="max_size"):
        load_sandbox_config({"type": "pool", "size": 5, "max_size": 2})


def test_build_gives_the_right_provider() -> None:
    assert isinstance(load_sandbox_config({}).build(), DockerProvider)
    assert isinstance(provider_from_config({"type": "local"}), LocalProvider)
    pool = load_sandbox_config(
        {"type": "pool", "size": 1, "sandbox": {"type": "local", "memory_mb": 512}}
    )
    assert isinstance(pool, PoolConfig)
    built = pool.build()
    assert isinstance(built, WarmPool) and isinstance(built.backend, LocalProvider)
    assert built.backend.config.memory_mb == 512


def test_configs_round_trip_as_json() -> None:
    cfg = PoolConfig(sandbox=DockerSandboxConfig(memory_mb=512, env={"A": "1"}), size=2)
    assert load_sandbox_config(cfg.model_dump(mode="json")) == cfg


async def test_only_named_host_variables_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_ALLOWED_VAR", "yes")
    monkeypatch.setenv("TT_SECRET_VAR", "no")
    cfg = LocalSandboxConfig(pass_env=["TT_ALLOWED_VAR", "TT_ABSENT_VAR"], env={"EXPLICIT": "1"})
    async with cfg.build().sandbox() as sb:
        env = (await sb.exec("env")).stdout
    assert "TT_ALLOWED_VAR=yes" in env and "EXPLICIT=1" in env
    assert "TT_SECRET_VAR" not in env and "TT_ABSENT_VAR" not in env
    assert f"HOME={os.environ.get('HOME', '/nonexistent')}\n" not in env


async def test_create_many_starts_all_or_none() -> None:
    provider = LocalSandboxConfig().build()
    boxes = await provider.create_many(3)
    try:
        assert len({sb.id for sb in boxes}) == 3
        assert [r.stdout for r in await asyncio.gather(*(sb.exec("echo ok") for sb in boxes))] == [
            "ok\n"
        ] * 3
    finally:
        await asyncio.gather(*(sb.close() for sb in boxes))
