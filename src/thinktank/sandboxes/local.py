"""Local backend: a subprocess in a temporary directory. WEAKER isolation than Docker.

What it does: each command runs in its own session (its process tree is killed whole on
timeout, including children that escaped the group, found by a marker variable), with
rlimits on address space, processes, file size, open files and CPU; in a new network
namespace with only loopback (fails closed where that is not permitted, unless
``network="host"``); with a scrubbed environment; and, when thinktank runs as root, as
``nobody``. File operations run as the sandboxed user too, so they never carry more
privilege than the code inside, and are confined to the sandbox directory.

What it does not do: hide the host filesystem (anything the user may read, the code may
read), cap total disk use, or isolate other processes of the same user. Use Docker for
untrusted code; use this where Docker is not available.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from thinktank.sandboxes import _cleanup
from thinktank.sandboxes._transfer import sandbox_path
from thinktank.sandboxes.base import EXEC_MARK, Sandbox
from thinktank.sandboxes.errors import PathRejected, SandboxUnavailable
from thinktank.sandboxes.provider import SandboxProvider
from thinktank.sandboxes.types import ExecResult, OutputCapture

if TYPE_CHECKING:
    from thinktank.sandboxes.config import LocalSandboxConfig

SANDBOX_MARK = "THINKTANK_SANDBOX"
_LO_UP = 'ip link set lo up 2>/dev/null; exec "$@"'
DRAIN_S = 0.1
KILL_GRACE_S = 1.0


def _marked(token: bytes) -> list[int]:
    """Pids whose environment contains the exact ``NAME=value`` entry ``token``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if env.startswith(token + b"\0") or b"\0" + token + b"\0" in env:
            found.append(int(name))
    return found


def kill_marked(token: bytes, pgid: int | None = None) -> None:
    """SIGKILL a process group and every process carrying ``token``, until none is left."""
    if pgid:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    for _ in range(20):
        pids = _marked(token)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


class LocalChannel:
    """A long-lived local process (Python session) over pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, token: bytes) -> None:
        self._proc, self._token = proc, token

    async def write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise EOFError(f"the session's stdin is closed ({exc})") from exc

    async def read(self, n: int) -> bytes:
        assert self._proc.stdout is not None
        try:
            return await self._proc.stdout.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise EOFError("the session process ended") from exc

    async def kill(self) -> None:
        await asyncio.to_thread(kill_marked, self._token, self._proc.pid)

    async def aclose(self) -> None:
        await self.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._proc.wait(), 5)


class LocalSandbox(Sandbox):
    """A temporary directory (``work``, ``tmp``, ``home``) and sandboxed subprocesses."""

    backend = "local"

    def __init__(
        self,
        config: LocalSandboxConfig,
        root: Path,
        prefix: list[str],
        env: dict[str, str],
        uid: int | None,
    ) -> None:
        sid = f"local-{uuid.uuid4().hex[:12]}"
        super().__init__(
            workdir=str(root / "work"),
            scratch_dir=str(root / "tmp"),
            default_timeout=config.default_timeout_s,
            output_cap=config.output_cap_bytes,
            max_file_bytes=config.max_file_bytes,
            max_transfer_bytes=config.max_transfer_bytes,
            shell=config.shell,
            python=config.python,
            sandbox_id=sid,
        )
        self.config, self.root, self._prefix, self._uid = config, root, prefix, uid
        self._env = {**env, SANDBOX_MARK: sid}
        self._token = f"{SANDBOX_MARK}={sid}".encode()
        _cleanup.register_local(sid, self._destroy)

    def _destroy(self) -> None:
        """Kill every process of this sandbox and delete its directory (sync, idempotent)."""
        kill_marked(self._token)
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, path: str | os.PathLike[str]) -> str:
        full = sandbox_path(path, self.workdir)
        if full != str(self.root) and not full.startswith(f"{self.root}/"):
            raise PathRejected(f"{full} is outside this local sandbox ({self.root})")
        return full

    def _argv(self, argv: list[str], *, cpu_s: float | None) -> list[str]:
        cmd = list(self._prefix)
        if cpu_s is not None:
            cmd.insert(cmd.index("--", cmd.index("prlimit")), f"--cpu={int(cpu_s) + 1}")
        return [*cmd, *argv]

    async def _start(
        self, argv: list[str], env: dict[str, str], cwd: str, *, stdin: bool, stderr: bool = True
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**self._env, **env, SANDBOX_MARK: self.id},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr else subprocess.DEVNULL,
            start_new_session=True,
        )

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
        if not os.path.isdir(cwd):  # noqa: ASYNC240 - one stat, no I/O wait
            return ExecResult(exit_code=2, stderr=f"cd: {cwd}: No such file or directory\n")
        mark = f"{EXEC_MARK}={uuid.uuid4().hex}"
        name, _, value = mark.partition("=")
        start = time.monotonic()
        proc = await self._start(
            self._argv(argv, cpu_s=timeout), {**env, name: value}, cwd, stdin=stdin is not None
        )
        out, err = OutputCapture(output_cap), OutputCapture(output_cap)
        readers = [
            asyncio.create_task(_drain(proc.stdout, out)),
            asyncio.create_task(_drain(proc.stderr, err)),
        ]
        writer = asyncio.create_task(_feed(proc.stdin, stdin)) if stdin is not None else None
        timed_out = False
        try:
            if not await _wait_exit(proc, start + timeout):
                timed_out = True
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGTERM)
                if not await _wait_exit(proc, time.monotonic() + KILL_GRACE_S):
                    await asyncio.to_thread(kill_marked, mark.encode(), proc.pid)
                    await _wait_exit(proc, time.monotonic() + 5.0)
                await asyncio.to_thread(kill_marked, mark.encode(), proc.pid)
            # children that outlive the command may hold the pipes: read a little more, then stop
            await asyncio.wait(readers, timeout=DRAIN_S)
        finally:
            for task in [*readers, *([writer] if writer else [])]:
                task.cancel()
            if proc.returncode is None:
                await asyncio.to_thread(kill_marked, mark.encode(), proc.pid)
            transport = getattr(proc, "_transport", None)  # release pipes a leftover child holds
            if transport is not None:
                transport.close()
        code = proc.returncode if proc.returncode is not None else -9
        code = 128 - code if code < 0 else code
        return ExecResult.from_bytes(
            124 if timed_out and code == 143 else code,
            out.getvalue(),
            err.getvalue(),
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
            duration_s=time.monotonic() - start,
            decode=decode,
        )

    async def _spawn(self, argv: list[str], *, env: dict[str, str]) -> LocalChannel:
        mark = f"{EXEC_MARK}={uuid.uuid4().hex}"
        name, _, value = mark.partition("=")
        proc = await self._start(
            self._argv(argv, cpu_s=None),
            {**env, name: value},
            self.workdir,
            stdin=True,
            stderr=False,
        )
        return LocalChannel(proc, mark.encode())

    async def _reset(self) -> bool:
        await asyncio.to_thread(kill_marked, self._token)
        for sub in ("work", "tmp", "home"):
            d = self.root / sub
            for child in list(d.iterdir()) if d.is_dir() else []:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        return not _marked(self._token) and all(
            not any((self.root / s).iterdir()) for s in ("work", "tmp", "home")
        )

    async def _shutdown(self) -> None:
        await asyncio.to_thread(self._destroy)
        _cleanup.unregister_local(self.id)


async def _wait_exit(proc: asyncio.subprocess.Process, deadline: float) -> bool:
    """Wait for the main process to exit (not for its pipes to close); False at the deadline."""
    waiter = asyncio.ensure_future(proc.wait())
    try:
        while proc.returncode is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait([waiter], timeout=min(remaining, 0.05))
        return True
    finally:
        waiter.cancel()


async def _drain(stream: asyncio.StreamReader | None, sink: OutputCapture) -> None:
    if stream is None:
        return
    while chunk := await stream.read(262144):
        sink.feed(chunk)


async def _feed(stream: asyncio.StreamWriter | None, data: bytes) -> None:
    if stream is None:
        return
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        for i in range(0, len(data), 262144):
            stream.write(data[i : i + 262144])
            await stream.drain()
        stream.close()


class LocalProvider(SandboxProvider):
    """Creates :class:`LocalSandbox` es; checks once which isolation this host permits."""

    def __init__(self, config: LocalSandboxConfig) -> None:
        self.config = config
        self._base: list[str] | None = None
        self._uid: int | None = None

    def _plan(self) -> list[str]:
        """The command prefix (namespace, user, rlimits) after probing the host."""
        c = self.config
        missing = [tool for tool in ("prlimit", "unshare", "setpriv") if shutil.which(tool) is None]
        root = os.geteuid() == 0
        drop = c.run_as == "nobody" or (c.run_as == "auto" and root)
        prefix: list[str] = []
        if c.network == "none":
            if "unshare" in missing:
                raise SandboxUnavailable(
                    "`unshare` (util-linux) is needed to remove the network",
                    hint="install util-linux, or set network='host'",
                )
            candidates = (
                [["unshare", "-n", "--"]]
                if root
                else [["unshare", "-c", "-n", "--"], ["unshare", "-r", "-n", "--"]]
            )
            for cand in candidates:
                if (
                    subprocess.run([*cand, "true"], capture_output=True, check=False).returncode
                    == 0
                ):
                    prefix = cand + (["/bin/sh", "-c", _LO_UP, "sh"] if shutil.which("ip") else [])
                    break
            else:
                raise SandboxUnavailable(
                    "this host does not permit a private network namespace, so the local sandbox cannot remove the network",
                    hint="use the Docker backend, or set network='host' to accept a sandbox with network access",
                )
        if drop:
            if not root:
                raise SandboxUnavailable("run_as='nobody' needs root", hint="set run_as='current'")
            if "setpriv" in missing:
                raise SandboxUnavailable(
                    "`setpriv` (util-linux) is needed to drop privileges", hint="install util-linux"
                )
            nobody = pwd.getpwnam("nobody")
            self._uid = nobody.pw_uid
            prefix += [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                "--no-new-privs",
                "--",
            ]
        if "prlimit" in missing:
            raise SandboxUnavailable(
                "`prlimit` (util-linux) is needed for resource limits", hint="install util-linux"
            )
        prefix += [
            "prlimit",
            f"--as={c.memory_mb << 20}",
            f"--nproc={c.max_processes}",
            f"--fsize={c.max_file_mb << 20}",
            f"--nofile={c.nofile}",
            "--core=0",
            "--",
        ]
        return prefix

    async def create(self) -> LocalSandbox:
        """Make the directory tree and return a ready sandbox."""
        if self._base is None:
            self._base = await asyncio.to_thread(self._plan)
        c = self.config
        root = Path(tempfile.mkdtemp(prefix="thinktank-local-", dir=c.root_dir))
        os.chmod(root, 0o711)
        for sub in ("work", "tmp", "home"):
            (root / sub).mkdir(mode=0o700)
            if self._uid is not None:
                os.chown(root / sub, self._uid, pwd.getpwuid(self._uid).pw_gid)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(root / "home"),
            "TMPDIR": str(root / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            **{k: os.environ[k] for k in c.pass_env if k in os.environ},
            **c.env,
        }
        return LocalSandbox(c, root, self._base, env, self._uid)
