"""Docker backend: one persistent container per sandbox, commands by exec.

Secure by default (see :class:`~thinktank.sandboxes.config.DockerSandboxConfig`): no
network, a non-root user, no capabilities, ``no-new-privileges``, a read-only image with
size-limited tmpfs for the work dir, ``/tmp`` and home, limits on processes, memory
(no swap) and CPU, no host mounts, and an environment built only from the image, the
config and the call — never from the host.

The container's PID 1 is ``docker-init``; its only child is ``sleep <ttl>``, running as
root *with no capabilities*, so the sandbox user can neither kill it nor outlive the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from thinktank.sandboxes import _cleanup
from thinktank.sandboxes._docker_exec import SPAWN, ContainerExec, parse_oom
from thinktank.sandboxes._engine import (
    EXECUTOR,
    docker_client,
    engine_errors,
    to_thread,
    unix_socket_path,
)
from thinktank.sandboxes.base import EXEC_MARK, Sandbox
from thinktank.sandboxes.errors import SandboxTimeout, SandboxUnavailable
from thinktank.sandboxes.image import default_image
from thinktank.sandboxes.provider import SandboxProvider
from thinktank.sandboxes.types import ExecResult

if TYPE_CHECKING:
    import socket

    import docker

    from thinktank.sandboxes.config import DockerSandboxConfig

# Runs as the sandbox user; shell builtins where possible (every fork costs).
_RESET = (
    "kill -s KILL -- -1 2>/dev/null; kill -s KILL -- -1 2>/dev/null; "
    # SysV IPC objects outlive processes: remove them only if there are any
    'for f in /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg; do l=; { read _h; read l; } 2>/dev/null <"$f"; '
    '[ -n "$l" ] && ipc=1; done; [ -n "$ipc" ] && ipcrm -a 2>/dev/null; '
    'find "$@" -mindepth 1 -delete 2>/dev/null || { chmod -R u+rwX -- "$@" 2>/dev/null; find "$@" -mindepth 1 -delete 2>/dev/null; }; '
    # verify: no process of ours but this shell (killed ones may need a moment to be reaped)
    'i=0; while :; do left=0; for p in /proc/[0-9]*; do [ "${p#/proc/}" = "$$" ] && continue; '
    '[ -O "$p" ] && left=$((left+1)); done; [ $left -eq 0 ] || [ $i -ge 20 ] && break; '
    "kill -s KILL -- -1 2>/dev/null; sleep 0.05; i=$((i+1)); done; "
    'dirty=0; for d in "$@"; do for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do { [ -e "$f" ] || [ -L "$f" ]; } && dirty=1; done; done; '
    'echo "left=$left dirty=$dirty"; '
    "for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do "
    '[ -r "$f" ] && while read -r k v; do [ "$k" = oom_kill ] && echo "oom_kill $v"; done <"$f"; done; exit 0'
)


class DockerChannel:
    """A long-lived exec with stdin attached; a reader thread feeds an asyncio stream."""

    def __init__(
        self, executor: ContainerExec, sock: socket.socket, leftover: bytes, mark: str
    ) -> None:
        self._x, self._sock, self._mark = executor, sock, mark
        self._loop = asyncio.get_running_loop()
        self._reader = asyncio.StreamReader(limit=1 << 30)
        self._buf = bytearray(leftover)
        self._thread = threading.Thread(
            target=self._read_loop, name="thinktank-session-reader", daemon=True
        )
        self._thread.start()

    def _push(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(fn, *args)

    def _read_loop(self) -> None:
        buf = self._buf
        try:
            while True:
                while len(buf) >= 8:
                    size = int.from_bytes(buf[4:8], "big")
                    if len(buf) < 8 + size:
                        break
                    if buf[0] == 1:
                        self._push(self._reader.feed_data, bytes(buf[8 : 8 + size]))
                    del buf[: 8 + size]
                chunk = self._sock.recv(262144)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        self._push(self._reader.feed_eof)

    async def write(self, data: bytes) -> None:
        try:
            await to_thread(self._sock.sendall, data)
        except OSError as exc:
            raise EOFError(f"the session's stdin is closed ({exc})") from exc

    async def read(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise EOFError("the session process ended") from exc

    async def kill(self) -> None:
        await to_thread(self._x.kill_marked, self._mark)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.kill()
        with contextlib.suppress(OSError):
            self._sock.shutdown(2)
        self._sock.close()


class DockerSandbox(Sandbox):
    """A started container. Create it with :class:`DockerProvider`."""

    backend = "docker"

    def __init__(
        self, config: DockerSandboxConfig, client: docker.DockerClient, container_id: str, name: str
    ) -> None:
        super().__init__(
            workdir=config.workdir,
            scratch_dir="/tmp",
            default_timeout=config.default_timeout_s,
            output_cap=config.output_cap_bytes,
            max_file_bytes=config.max_file_bytes,
            max_transfer_bytes=config.max_transfer_bytes,
            shell=config.shell,
            python=config.python,
            sandbox_id=name,
        )
        self.config = config
        self.container_id = container_id
        self.name = name
        self._client = client
        self._x = ContainerExec(client, container_id, config.user, unix_socket_path(client))

    async def _exec(
        self,
        argv: list[str],
        *,
        timeout: float,  # noqa: ASYNC109
        cwd: str,
        env: dict[str, str],
        stdin: bytes | None,
        output_cap: int,
        decode: bool = True,
    ) -> ExecResult:
        cancel = threading.Event()
        fut = asyncio.get_running_loop().run_in_executor(
            EXECUTOR,
            lambda: self._run(
                argv,
                timeout=timeout,
                cwd=cwd,
                env=env,
                stdin=stdin,
                cap=output_cap,
                cancel=cancel,
                decode=decode,
            ),
        )
        try:
            result = await asyncio.shield(fut)
        except asyncio.CancelledError:
            cancel.set()  # the worker kills the command's process tree and returns
            raise
        if result.exit_code == 137 and not result.timed_out and await self._oom_happened():
            result.oom_killed = True
        return result

    def _run(self, argv: list[str], **kw: Any) -> ExecResult:
        with engine_errors(f"exec in sandbox {self.name}"):
            return self._x.run(argv, kill_after=self.config.kill_grace_s, **kw)

    async def _spawn(self, argv: list[str], *, env: dict[str, str]) -> DockerChannel:
        mark = uuid.uuid4().hex

        def start() -> tuple[socket.socket, bytes]:
            with engine_errors(f"spawn in sandbox {self.name}"):
                exec_id = self._x.create(
                    ["/bin/sh", "-c", SPAWN, "sh", self.workdir, *argv],
                    {**env, EXEC_MARK: mark},
                    stdin=True,
                )
                return self._x.attach(exec_id)

        sock, leftover = await to_thread(start)
        return DockerChannel(self._x, sock, leftover, mark)

    async def _oom_kills(self) -> int | None:
        return await to_thread(self._x.oom_kills)

    async def _reset(self) -> bool:
        if not self.config.read_only_root or any(not m.read_only for m in self.config.mounts):
            return False  # writable places outside the tmpfs dirs: a clean state is not assured
        dirs = [self.config.workdir, "/tmp", self.config.home, "/dev/shm"]
        try:
            res = await to_thread(self._x.quick, ["/bin/sh", "-c", _RESET, "sh", *dirs], timeout=20)
        except Exception:
            return False
        ok = res.exit_code == 0 and "left=0 dirty=0" in res.stdout
        self._oom_seen = parse_oom(res.stdout_bytes) or self._oom_seen
        return ok

    async def _shutdown(self) -> None:
        await to_thread(self._remove)

    def _remove(self) -> None:
        with contextlib.suppress(Exception):
            _cleanup.remove_container(self._client, self.container_id)
        _cleanup.unregister(self.container_id)


class DockerProvider(SandboxProvider):
    """Creates :class:`DockerSandbox` es from a :class:`DockerSandboxConfig`."""

    def __init__(self, config: DockerSandboxConfig) -> None:
        self.config = config
        self.image = config.image or default_image()
        self._checked = False

    def _client(self) -> docker.DockerClient:
        return docker_client(self.config.docker_host)

    def _host_config(self, client: docker.DockerClient) -> dict[str, Any]:
        c = self.config
        tmpfs_opts = "rw,nosuid,nodev,exec"
        uid, _, gid = c.user.partition(":")
        owner = f"uid={uid},gid={gid or uid}" if uid.isdigit() and (gid or uid).isdigit() else ""
        tmpfs = {
            c.workdir: f"{tmpfs_opts},size={c.workdir_size_mb}m,mode=0755,{owner}".rstrip(","),
            c.home: f"{tmpfs_opts},size={c.home_size_mb}m,mode=0755,{owner}".rstrip(","),
            "/tmp": f"{tmpfs_opts},size={c.tmp_size_mb}m,mode=1777",
        }
        from docker.types import Ulimit

        binds = {
            m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in c.mounts
        }

        return dict(
            client.api.create_host_config(
                network_mode=c.network_mode,
                init=True,
                read_only=c.read_only_root,
                tmpfs=tmpfs,
                pids_limit=c.pids_limit,
                mem_limit=f"{c.memory_mb}m",
                memswap_limit=f"{c.memory_mb + c.swap_mb}m",
                nano_cpus=int(c.cpus * 1e9),
                cap_drop=["ALL"] if c.cap_drop_all else None,
                cap_add=c.cap_add or None,
                security_opt=["no-new-privileges"] if c.no_new_privileges else None,
                runtime=c.runtime,
                auto_remove=True,
                ipc_mode="private",
                shm_size="64m",
                oom_score_adj=500,
                ulimits=[Ulimit(name="nofile", soft=c.nofile, hard=c.nofile)],
                binds=binds or None,
            )
        )

    def _preflight(self, client: docker.DockerClient) -> None:
        if self._checked:
            return
        runtime = self.config.runtime
        if runtime:
            with engine_errors("docker info"):
                runtimes = client.info().get("Runtimes", {})
            if runtime not in runtimes:
                raise SandboxUnavailable(
                    f"runtime {runtime!r} was asked for but the engine has only {sorted(runtimes)}",
                    hint=f"install it and register it in /etc/docker/daemon.json, or unset `runtime` (refusing to fall back to {sorted(runtimes)[0] if runtimes else 'runc'})",
                )
        self._checked = True

    def _start_blocking(self) -> DockerSandbox:
        c = self.config
        client = self._client()
        self._preflight(client)
        env = {
            **_image_env(c),
            **{k: os.environ[k] for k in c.pass_env if k in os.environ},
            **c.env,
        }
        name = f"thinktank-{uuid.uuid4().hex[:12]}"
        with engine_errors(f"create sandbox from {self.image}"):
            created = client.api.create_container(
                self.image,
                command=["sleep", str(c.ttl_s)],
                user="0:0",
                environment=env,
                labels=_cleanup.labels(c.ttl_s, {**c.labels, "thinktank.backend": "docker"}),
                working_dir=c.workdir,
                hostname="sandbox",
                name=name,
                host_config=self._host_config(client),
                network_disabled=c.network_mode == "none",
                stop_signal="SIGKILL",
            )
        cid = str(created["Id"])
        _cleanup.register(client, cid)
        try:
            with engine_errors(f"start sandbox {name}"):
                client.api.start(cid)
        except BaseException:
            with contextlib.suppress(Exception):
                _cleanup.remove_container(client, cid)
            _cleanup.unregister(cid)
            raise
        return DockerSandbox(c, client, cid, name)

    async def create(self) -> DockerSandbox:
        """Create and start a container; ready for ``exec`` when this returns."""
        _cleanup.install()
        start = time.monotonic()
        fut = asyncio.get_running_loop().run_in_executor(EXECUTOR, self._start_blocking)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.config.start_timeout_s)
        except TimeoutError as exc:
            fut.add_done_callback(_close_late)
            raise SandboxTimeout(
                f"starting a sandbox took over {time.monotonic() - start:.0f}s"
            ) from exc
        except asyncio.CancelledError:
            fut.add_done_callback(_close_late)
            raise


def _close_late(fut: asyncio.Future[DockerSandbox]) -> None:
    """A start that finished after its caller gave up: remove the container."""
    if not fut.cancelled() and fut.exception() is None:
        EXECUTOR.submit(fut.result()._remove)


def _image_env(config: DockerSandboxConfig) -> dict[str, str]:
    return {
        "HOME": config.home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
