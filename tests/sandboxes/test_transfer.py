"""File-transfer rules: sandbox paths, safe copy-in archives, untrusted copy-out archives."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from thinktank.sandboxes import FileTooLarge, PathRejected, SandboxFileError
from thinktank.sandboxes._transfer import extract_to, file_tar, host_tar, read_single, sandbox_path


def test_sandbox_paths() -> None:
    assert sandbox_path("a/b", "/work") == "/work/a/b"
    assert sandbox_path("/tmp/x", "/work") == "/tmp/x"
    assert sandbox_path("./a//b/", "/work") == "/work/a/b"
    for bad in ("../x", "a/../../x", "", "a\x00b"):
        with pytest.raises(PathRejected):
            sandbox_path(bad, "/work")


def _evil_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(
            name: str,
            kind: bytes = tarfile.REGTYPE,
            link: str = "",
            data: bytes = b"x",
            mode: int = 0o644,
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, link, mode
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        add("ok/good.txt", data=b"good")
        add("ok/setuid", data=b"s", mode=0o4755)
        add("/abs/evil.txt")
        add("../escape.txt")
        add("ok/../../escape2.txt")
        add("ok/abs-link", tarfile.SYMTYPE, "/etc/passwd")
        add("ok/up-link", tarfile.SYMTYPE, "../../outside")
        add("ok/inner-link", tarfile.SYMTYPE, "good.txt")
        add("ok/hard", tarfile.LNKTYPE, "/etc/passwd")
        add("ok/dev", tarfile.CHRTYPE)
        add("ok/fifo", tarfile.FIFOTYPE)
        add("ok/abs-link/through.txt", data=b"through a link")
    return buf.getvalue()


def test_untrusted_archives_keep_only_safe_members(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    extract_to(_evil_tar(), dest)
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    # the unsafe link was skipped, so "through.txt" lands in a plain directory inside dest
    assert found == [
        "ok",
        "ok/abs-link",
        "ok/abs-link/through.txt",
        "ok/good.txt",
        "ok/inner-link",
        "ok/setuid",
    ]
    assert not (dest / "ok" / "abs-link").is_symlink()
    assert (dest / "ok" / "inner-link").is_symlink() and (
        dest / "ok" / "inner-link"
    ).read_text() == "good"
    assert not os.stat(dest / "ok" / "setuid").st_mode & 0o7000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
    assert not (tmp_path.parent / "escape2.txt").exists() and not Path("/abs/evil.txt").exists()


def test_archives_cannot_write_through_host_symlinks(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "ok").symlink_to(tmp_path)  # a symlink already in the destination
    with pytest.raises(PathRejected):
        extract_to(_evil_tar(), dest)
    assert not (tmp_path / "good.txt").exists()


def test_copy_in_archives(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f").write_text("data")
    (src / "a" / "rel").symlink_to("f")
    with tarfile.open(fileobj=io.BytesIO(host_tar(src, limit=100))) as tar:
        assert sorted(tar.getnames()) == ["a", "a/f", "a/rel"]
    with pytest.raises(FileTooLarge):
        host_tar(src, limit=3)
    (src / "a" / "out").symlink_to("../../elsewhere")
    with pytest.raises(PathRejected):
        host_tar(src, limit=100)
    (src / "a" / "out").unlink()
    os.mkfifo(src / "pipe")
    with pytest.raises(PathRejected):
        host_tar(src, limit=100)


def test_single_file_reads() -> None:
    assert read_single(file_tar("f", b"abc"), "/work/f") == b"abc"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("l")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    with pytest.raises(PathRejected):
        read_single(buf.getvalue(), "/work/l")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        d = tarfile.TarInfo("d")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
    with pytest.raises(SandboxFileError):
        read_single(buf.getvalue(), "/work/d")
    with pytest.raises(PathRejected):
        file_tar("a/b", b"")
