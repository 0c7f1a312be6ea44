"""Image recipe and builder, apt mirror detection, the doctor, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thinktank.sandboxes._debootstrap import apt_mirror
from thinktank.sandboxes.doctor import doctor
from thinktank.sandboxes.errors import SandboxUnavailable
from thinktank.sandboxes.image import DEFAULT_RECIPE, IMAGE_REPO, ImageRecipe, build_image

THINKTANK = Path(sys.executable).with_name("thinktank")


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(THINKTANK), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_recipe_hash_tracks_the_recipe() -> None:
    assert ImageRecipe().content_hash() == DEFAULT_RECIPE.content_hash()
    other = ImageRecipe(packages=(*DEFAULT_RECIPE.packages, "jq"))
    assert other.content_hash() != DEFAULT_RECIPE.content_hash()
    assert DEFAULT_RECIPE.tag == f"{IMAGE_REPO}:{DEFAULT_RECIPE.content_hash()}"
    assert len(DEFAULT_RECIPE.content_hash()) == 12


def test_recipe_has_what_the_issue_asks_for() -> None:
    for pkg in ("python3", "python3-pip", "python3-pytest", "git", "patch", "procps", "iproute2"):
        assert pkg in DEFAULT_RECIPE.packages
    dockerfile = DEFAULT_RECIPE.dockerfile()
    assert dockerfile.startswith("FROM debian:bookworm-slim") and "useradd -u 1000" in dockerfile
    assert f"LABEL thinktank.recipe={DEFAULT_RECIPE.content_hash()}" in DEFAULT_RECIPE.changes()


def test_apt_mirror_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://one.example/debian bookworm-backports main\n"
    )
    (tmp_path / "sources.list.d" / "a.sources").write_text(
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    assert apt_mirror("bookworm-backports", tmp_path) == "http://one.example/debian"
    with pytest.raises(SandboxUnavailable, match="no apt mirror"):
        apt_mirror("trixie", tmp_path)


def test_doctor_reports_an_unreachable_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    report = doctor(fix=False)
    assert not report.ok and report.checks[0].name == "engine"
    assert report.checks[0].fix == "thinktank sandbox doctor --fix"


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_build_is_cached_by_content_hash() -> None:
    result = build_image()
    assert not result.built and result.method == "cached" and result.tag == DEFAULT_RECIPE.tag


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_doctor_passes_and_is_quiet_when_all_is_fine() -> None:
    report = doctor(fix=False)
    assert report.ok, report
    assert [c.name for c in report.checks] == [
        "engine",
        "engine setup",
        "image",
        "sandbox",
        "leftovers",
    ]
    quiet = _cli("sandbox", "doctor", "--fix", "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    as_json = json.loads(_cli("sandbox", "doctor", "--json", "--no-smoke").stdout)
    assert as_json["ok"] is True


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_cli_build_run_ls_gc() -> None:
    assert "up to date" in _cli("sandbox", "build").stdout
    run = _cli(
        "sandbox", "run", "--timeout", "5", "--", "python3", "-c", "print(6*7); raise SystemExit(3)"
    )
    assert run.returncode == 3 and run.stdout == "42\n"
    timed = _cli("sandbox", "run", "--timeout", "0.5", "--", "sleep 5")
    assert timed.returncode in (124, 137) and "timed out" in timed.stderr
    bad = _cli("sandbox", "run", "--backend", "vm", "--", "true")
    assert bad.returncode == 1 and "valid types: docker, local, pool" in bad.stderr
    assert _cli("sandbox", "ls", "--json").returncode == 0
    assert _cli("sandbox", "gc", "--dry-run").returncode == 0


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_gc_images_removes_only_outdated_recipes() -> None:
    from thinktank.sandboxes import docker_client
    from thinktank.sandboxes.gc import gc
    from thinktank.sandboxes.image import STABLE_TAG, image_exists

    client = docker_client()
    client.api.tag(DEFAULT_RECIPE.tag, IMAGE_REPO, "0ld0ld0ld0ld")
    assert gc(images=True, dry_run=True).images == [f"{IMAGE_REPO}:0ld0ld0ld0ld"]
    assert gc(images=True).images == [f"{IMAGE_REPO}:0ld0ld0ld0ld"]
    assert not image_exists(client, f"{IMAGE_REPO}:0ld0ld0ld0ld")
    assert image_exists(client, DEFAULT_RECIPE.tag) and image_exists(client, STABLE_TAG)
