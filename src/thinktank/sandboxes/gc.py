"""``thinktank sandbox gc``: remove thinktank containers nobody will clean up.

A container is removed when it is

* **expired** — older than its TTL label;
* **orphaned** — its owner process (same host and boot) no longer runs, e.g. it was
  SIGKILLed before it could clean up;
* **stopped** — not running (its TTL ran out, or the engine restarted);
* or when ``all=True`` (every thinktank container, in use or not).

Containers of live owners on this host, and of owners on other hosts that have not
expired, are kept.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from thinktank.sandboxes import _cleanup
from thinktank.sandboxes._engine import docker_client, engine_errors

if TYPE_CHECKING:
    import docker

Reason = Literal["expired", "orphaned", "stopped", "all"]


class ContainerInfo(BaseModel):
    """One thinktank container as seen by ``gc`` and ``thinktank sandbox ls``."""

    id: str
    """Full container id."""
    name: str
    """Container name (``thinktank-…``)."""
    state: str
    """Engine state: running, exited, …"""
    owner: str
    """``host/boot/pid/starttime`` of the process that created it."""
    owner_alive: bool | None
    """Whether the owner still runs (``None``: another host, unknown)."""
    age_s: float
    """Seconds since creation."""
    ttl_s: int
    """Lifetime label, seconds."""


class GcReport(BaseModel):
    """What ``gc`` removed (or would remove, with ``dry_run``) and why."""

    removed: dict[str, Reason] = Field(default_factory=dict)
    """Container name → reason."""
    kept: list[str] = Field(default_factory=list)
    """Names of containers left alone."""
    errors: dict[str, str] = Field(default_factory=dict)
    """Container name → error when removal failed."""
    dry_run: bool = False
    """True when nothing was actually removed."""
    images: list[str] = Field(default_factory=list)
    """Outdated sandbox image tags removed (with ``images=True``)."""


def list_containers(client: docker.DockerClient | None = None) -> list[ContainerInfo]:
    """Every container carrying the thinktank sandbox label, running or not."""
    client = client or docker_client()
    with engine_errors("list containers"):
        raw: list[dict[str, Any]] = client.api.containers(
            all=True, filters={"label": _cleanup.LABEL}
        )
    now = time.time()
    out = []
    for item in raw:
        labels = item.get("Labels") or {}
        owner = labels.get(_cleanup.L_OWNER, "")
        created = float(labels.get(_cleanup.L_CREATED, item.get("Created", now)))
        out.append(
            ContainerInfo(
                id=str(item["Id"]),
                name=str((item.get("Names") or ["/?"])[0]).lstrip("/"),
                state=str(item.get("State", "unknown")),
                owner=owner,
                owner_alive=_cleanup.owner_alive(owner) if owner else None,
                age_s=max(0.0, now - created),
                ttl_s=int(labels.get(_cleanup.L_TTL, 0) or 0),
            )
        )
    return out


def _reason(info: ContainerInfo, everything: bool) -> Reason | None:
    if everything:
        return "all"
    if info.state not in ("running", "created", "restarting"):
        return "stopped"
    if info.ttl_s and info.age_s > info.ttl_s:
        return "expired"
    if info.owner_alive is False:
        return "orphaned"
    return None


def gc(
    client: docker.DockerClient | None = None,
    *,
    all: bool = False,
    dry_run: bool = False,
    images: bool = False,
) -> GcReport:
    """Remove expired, orphaned and stopped thinktank containers (``all``: every one).

    With ``images``, also remove ``thinktank/sandbox`` images built from older recipes
    (not the current one, not ``latest``, not used by a remaining container).
    """
    client = client or docker_client()
    report = GcReport(dry_run=dry_run)
    if images:
        report.images = _old_images(client, dry_run=dry_run)
    doomed: list[ContainerInfo] = []
    for info in list_containers(client):
        reason = _reason(info, all)
        if reason is None:
            report.kept.append(info.name)
        else:
            report.removed[info.name] = reason
            doomed.append(info)
    if dry_run or not doomed:
        return report

    def _remove(info: ContainerInfo) -> None:
        try:
            _cleanup.remove_container(client, info.id)
            _cleanup.unregister(info.id)
        except Exception as exc:
            report.errors[info.name] = str(exc)

    with ThreadPoolExecutor(max_workers=min(16, len(doomed))) as pool:
        list(pool.map(_remove, doomed))
    for name in report.errors:
        report.removed.pop(name, None)
    return report


def _old_images(client: docker.DockerClient, *, dry_run: bool) -> list[str]:
    import docker.errors

    from thinktank.sandboxes.image import IMAGE_REPO, STABLE_TAG, default_image

    keep = {default_image(), STABLE_TAG}
    with engine_errors("list images"):
        found = client.api.images(name=IMAGE_REPO)
    removed = []
    for image in found:
        for tag in image.get("RepoTags") or []:
            if tag in keep:
                continue
            if not dry_run:
                try:
                    client.api.remove_image(tag, noprune=False)
                except docker.errors.APIError:  # in use by a container: keep it
                    continue
            removed.append(tag)
    return removed
