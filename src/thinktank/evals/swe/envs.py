"""Where an SWE instance runs: three environment modes, one option (``swe_env``).

* ``official`` — the instance's SWE-bench evaluation image
  (``swebench/sweb.eval.x86_64.<id with __ as _1776_>:latest``; a template names a
  mirror), the repository at ``/testbed``, the ``testbed`` conda environment activated
  for set-up, the agents' tools and the tests. Commands run as root (the images own
  ``/testbed`` as root) with a writable root filesystem; no network, no capabilities.
* ``build`` — an environment image made here per (repository, version) with no
  network (:mod:`thinktank.evals.swe.build`); the repository at the base commit is
  uploaded to ``/testbed`` (owned by the sandbox user) and installed offline.
* ``clone`` — the sandbox image; the repository is uploaded to the work dir and the
  spec's set-up commands run there (``python`` means ``python3``). Right for
  repositories that need nothing but pytest (the bundled suite) or for sandboxes
  given a network.

``auto`` (the default) is ``build`` for instances with a ``swebench`` specification and
``clone`` for the rest (bundled instances, and public ones only the pytest fallback knows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import model_validator

from thinktank._strict import StrictModel
from thinktank.evals.swe.scripts import OFFICIAL_ACTIVATE, PYTHON_SHIM, Layout

SWEEnvMode = Literal["auto", "clone", "build", "official"]
ENV_MODES = ("auto", "clone", "build", "official")
OFFICIAL_IMAGE = "swebench/sweb.eval.{arch}.{id}:latest"
"""The official evaluation images' names; ``{id}`` is the instance id with ``__`` written
``_1776_`` (registries refuse double underscores), ``{arch}`` is ``x86_64``/``arm64``."""


def official_image(instance_id: str, template: str = OFFICIAL_IMAGE, arch: str = "x86_64") -> str:
    """The official image of ``instance_id`` (``template`` names a mirror or another tag)."""
    return template.format(id=instance_id.replace("__", "_1776_"), arch=arch).lower()


class RepoData(StrictModel):
    """Files a repository's tests read at run time, from a host folder.

    Mounted read-only into every sandbox of the repository's instances (agents' and
    judges'), e.g. pydicom's test data: ``RepoData(repo="pydicom/pydicom",
    source="/data/pydicom-data/data_store/data", target="/home/sandbox/.pydicom/data")``.
    """

    repo: str
    """``owner/name``, or ``*`` for every repository."""
    source: str
    """Absolute host folder."""
    target: str
    """Absolute path inside the sandbox."""

    @model_validator(mode="after")
    def _absolute(self) -> RepoData:
        if not (self.source.startswith("/") and self.target.startswith("/")):
            raise ValueError("data source and target must be absolute paths")
        return self


def resolve_mode(mode: SWEEnvMode, specified: bool) -> Literal["clone", "build", "official"]:
    """``auto`` → ``build`` when the instance has a ``swebench`` specification
    (``specified``), else ``clone``."""
    if mode == "auto":
        return "build" if specified else "clone"
    return mode


def layout_for(mode: str, repo_dir: str) -> Layout:
    """The repository path and activation lines of ``mode``."""
    if mode == "official":
        return Layout("/testbed", OFFICIAL_ACTIVATE, official=True)
    if mode == "build":
        from thinktank.evals.swe.build import REPO_DIR, VENV

        return Layout(REPO_DIR, (f"export PATH={VENV}/bin:$PATH VIRTUAL_ENV={VENV}",))
    return Layout(repo_dir, (PYTHON_SHIM,))


@dataclass
class Prepared:
    """An instance's environment, ready for sandboxes."""

    mode: Literal["clone", "build", "official"]
    layout: Layout
    image: str | None = None
    """The image its sandboxes run (``None``: the harness's own provider)."""
    python: str | None = None
    warnings: list[str] = field(default_factory=list)
    built: bool = False
    seconds: float = 0.0
