"""File transfer by uncompressed tar, with the path rules every backend shares.

* Paths inside a sandbox never contain ``..``; relative paths are relative to the
  sandbox work dir.
* Copy-in: archives are built here from host files; a symlink whose target is absolute
  or leaves the uploaded tree is refused, as are special files.
* Copy-out: archives come from the sandbox and are untrusted. Members with absolute
  names or ``..``, links that leave the destination, devices and FIFOs are skipped
  (logged), and extraction never follows a symlink.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import stat
import tarfile
import time
from pathlib import Path, PurePosixPath

from thinktank.sandboxes.errors import FileTooLarge, PathRejected, SandboxFileError

log = logging.getLogger(__name__)


def sandbox_path(path: str | os.PathLike[str], workdir: str) -> str:
    """Normalise a sandbox path: no ``..``, no NUL; relative paths join ``workdir``."""
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise PathRejected(f"invalid sandbox path {text!r}")
    pure = PurePosixPath(text)
    if ".." in pure.parts:
        raise PathRejected(f"sandbox path {text!r} contains '..'; give a path without it")
    full = pure if pure.is_absolute() else PurePosixPath(workdir) / pure
    return posixpath.normpath(str(full))


def _member_ok(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts and "\x00" not in name


def _link_stays_inside(member_name: str, target: str) -> bool:
    if not target or PurePosixPath(target).is_absolute():
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member_name), target))
    return resolved != ".." and not resolved.startswith("../")


def file_tar(name: str, data: bytes, mode: int = 0o644) -> bytes:
    """An archive holding one regular file ``name`` (a bare file name)."""
    if not _member_ok(name) or "/" in name:
        raise PathRejected(f"invalid file name {name!r}")
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode & 0o7777, int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def host_tar(src: Path, *, limit: int) -> bytes:
    """Archive a host file or directory (its contents, for a directory) for copy-in.

    Raises :class:`PathRejected` for links leaving ``src`` and special files, and
    :class:`FileTooLarge` once file data exceeds ``limit`` bytes.
    """
    src = Path(src)
    st = os.lstat(src)
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if stat.S_ISREG(st.st_mode):
            entries = [(src, src.name)]
        elif stat.S_ISDIR(st.st_mode):
            entries = []
            for root, dirs, files in os.walk(src, followlinks=False):
                dirs.sort()
                for name in sorted(dirs) + sorted(files):
                    path = Path(root) / name
                    entries.append((path, path.relative_to(src).as_posix()))
        else:
            raise PathRejected(f"{src} is not a regular file or directory")
        for path, arcname in entries:
            st = os.lstat(path)
            info = tar.gettarinfo(str(path), arcname)
            if stat.S_ISLNK(st.st_mode):
                if not _link_stays_inside(arcname, os.readlink(path)):
                    raise PathRejected(
                        f"symlink {path} -> {os.readlink(path)} leaves the uploaded tree"
                    )
                tar.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                total += st.st_size
                if total > limit:
                    raise FileTooLarge(
                        f"upload of {src} exceeds the transfer limit of {limit} bytes"
                    )
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                raise PathRejected(f"{path} is a special file (device, FIFO or socket)")
    return buf.getvalue()


def read_single(data: bytes, path: str) -> bytes:
    """The content of the one regular file in an archive made of ``path``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        member = tar.next()
        if member is None:
            raise SandboxFileError(f"{path}: empty archive from the sandbox")
        if member.issym() or member.islnk():
            raise PathRejected(f"{path} is a link; links are never followed when reading")
        if member.isdir():
            raise SandboxFileError(f"{path} is a directory; use download()")
        if not member.isreg():
            raise SandboxFileError(f"{path} is not a regular file")
        fh = tar.extractfile(member)
        return fh.read() if fh else b""


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    safe: list[tarfile.TarInfo] = []
    names: set[str] = set()
    for member in tar.getmembers():
        name = posixpath.normpath(member.name)
        reason = None
        if not _member_ok(member.name):
            reason = "absolute or '..' name"
        elif member.issym() and not _link_stays_inside(name, member.linkname):
            reason = f"symlink to {member.linkname!r} leaves the destination"
        elif member.islnk() and posixpath.normpath(member.linkname) not in names:
            reason = "hard link to a file outside the archive"
        elif not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            reason = "special file"
        if reason:
            log.warning("download: skipped %s (%s)", member.name, reason)
            continue
        member.mode &= 0o777  # no setuid/setgid/sticky bits on the host
        safe.append(member)
        names.add(name)
    return safe


def extract_to(data: bytes, dest: Path) -> Path:
    """Extract an untrusted archive under ``dest`` (created), skipping unsafe members."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = _safe_members(tar)
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(dest, members=members, filter="data")
            except tarfile.FilterError as exc:
                raise PathRejected(f"download refused: {exc}") from exc
        else:  # pragma: no cover - Python < 3.11.4
            tar.extractall(dest, members=members)
    return dest
