"""Docker backend specifics: the container's security settings, failure modes, speed."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from thinktank.sandboxes import (
    DockerSandboxConfig,
    HostMount,
    ImageMissing,
    SandboxError,
    SandboxUnavailable,
    docker_client,
)
from thinktank.sandboxes.docker import DockerSandbox

pytestmark = [
    pytest.mark.docker,
    pytest.mark.usefixtures("docker_required"),
    pytest.mark.asyncio(loop_scope="session"),
]


async def test_container_is_locked_down(sibling: DockerSandbox) -> None:
    attrs = docker_client().api.inspect_container(sibling.container_id)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] and host["Init"]
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"] and not host["Privileged"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 256 and host["Memory"] == host["MemorySwap"] == 2048 << 20
    assert host["NanoCpus"] == 10**9 and host["AutoRemove"]
    assert (
        set(host["Tmpfs"]) == {"/work", "/tmp", "/home/sandbox"}
        and "size=1024m" in host["Tmpfs"]["/work"]
    )
    assert not host.get("Binds") and attrs["Mounts"] == []
    labels = attrs["Config"]["Labels"]
    assert {
        "thinktank.sandbox",
        "thinktank.owner",
        "thinktank.created",
        "thinktank.ttl",
        "thinktank.expires",
    } <= set(labels)
    assert attrs["Config"]["Cmd"] == ["sleep", labels["thinktank.ttl"]]
    assert (await sibling.exec("id -u")).stdout == "1000\n"


async def test_loosening_is_explicit() -> None:
    cfg = DockerSandboxConfig(
        read_only_root=False, user="0:0", cap_drop_all=False, no_new_privileges=False
    )
    async with await cfg.build().create() as sb:
        res = await sb.exec("touch /etc/loosened && id -u")
        assert res.stdout == "0\n"
        assert not await sb.reset(), "a writable image cannot be verified clean"


async def test_a_missing_gvisor_runtime_fails_closed() -> None:
    before = len(docker_client().api.containers(all=True))
    with pytest.raises(SandboxUnavailable, match="runsc"):
        await DockerSandboxConfig(runtime="runsc").build().create()
    assert len(docker_client().api.containers(all=True)) == before


async def test_a_missing_image_says_how_to_fix_it() -> None:
    with pytest.raises(ImageMissing, match="doctor --fix"):
        await DockerSandboxConfig(image="thinktank/sandbox:does-not-exist").build().create()


async def test_an_unreachable_engine_says_how_to_fix_it() -> None:
    with pytest.raises(SandboxUnavailable, match="thinktank sandbox doctor --fix"):
        await DockerSandboxConfig(docker_host="unix:///nonexistent/docker.sock").build().create()


async def test_a_vanished_container_fails_fast() -> None:
    sb = await DockerSandboxConfig().build().create()
    docker_client().api.remove_container(sb.container_id, force=True)
    start = time.monotonic()
    with pytest.raises(SandboxError):
        await sb.exec("true")
    assert time.monotonic() - start < 5
    await sb.close()


async def test_cold_start_and_warm_exec_are_quick() -> None:
    start = time.monotonic()
    async with await DockerSandboxConfig().build().create() as sb:
        first = await sb.exec("true")
        cold = time.monotonic() - start
        warm = min([(await sb.exec("true")).duration_s for _ in range(5)])
    assert first.ok and cold < 3.0 and warm < 0.5, (cold, warm)


async def test_exit_codes_and_timeout_codes(sibling: DockerSandbox) -> None:
    res = await sibling.exec("sleep 10", timeout=0.5)
    assert res.timed_out and res.exit_code in (124, 137)
    quick = await sibling.exec("exit 124")
    assert quick.exit_code == 124 and not quick.timed_out


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A world-readable host directory (pytest's tmp_path is private to root)."""
    host = Path(tempfile.mkdtemp(dir="/var/tmp"))
    host.chmod(0o755)
    (host / "repo.txt").write_text("from the host")
    yield host
    shutil.rmtree(host)


async def test_host_mounts_are_opt_in_and_read_only_by_default(host_dir: Path) -> None:
    cfg = DockerSandboxConfig(mounts=[HostMount(source=str(host_dir), target="/mnt/host")])
    async with await cfg.build().create() as sb:
        assert (await sb.exec("cat /mnt/host/repo.txt")).stdout == "from the host"
        assert (await sb.exec("touch /mnt/host/new")).exit_code != 0
        assert await sb.reset()  # read-only mounts keep a verified reset possible
    rw = HostMount(source=str(host_dir), target="/mnt/host", read_only=False)
    async with await DockerSandboxConfig(mounts=[rw]).build().create() as sb:
        assert not await sb.reset(), "a writable mount makes a verified reset impossible"
