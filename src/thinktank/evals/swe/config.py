"""What the SWE harness is told (:class:`SWEHarnessConfig`) and what it hands out: a
repository checked out in a sandbox (:class:`Checkout`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.evals.swe.envs import OFFICIAL_IMAGE, Prepared, RepoData, SWEEnvMode
from thinktank.evals.swe.repo import SWECase
from thinktank.sandboxes.base import Sandbox


class SWEHarnessConfig(StrictModel):
    """How the harness prepares repositories and runs tests."""

    env: SWEEnvMode = Field(
        default_factory=lambda: os.environ.get("THINKTANK_SWE_ENV", "auto")  # type: ignore[arg-type]
    )
    """Environment mode (``auto``, ``official``, ``build``, ``clone``; default
    ``$THINKTANK_SWE_ENV`` or ``auto``: ``build`` for instances with a ``swebench``
    specification, ``clone`` for the rest). See :mod:`thinktank.evals.swe.envs`."""
    repo_dir: str = "repo"
    """``clone`` mode: sandbox path of the repository (relative: under the work dir)."""
    repos: str | None = Field(default_factory=lambda: os.environ.get("THINKTANK_SWE_REPOS"))
    """Host folder of local clones for public instances (``<owner>__<name>``); default
    ``$THINKTANK_SWE_REPOS``. ``official`` mode needs none."""
    official_image: str = OFFICIAL_IMAGE
    """``official`` mode: the image name template (``{id}``, ``{arch}``), e.g.
    ``registry.local:5000/swebench/sweb.eval.{arch}.{id}:latest`` for a mirror."""
    data: list[RepoData] = Field(default_factory=list)
    """Host folders a repository's tests read at run time, mounted read-only."""
    python_download: bool = True
    """``build`` mode: let ``uv`` download a Python the machine lacks (when it can)."""
    build_cache: str | None = None
    """``build`` mode: where wheelhouses and build logs go (default ``~/.cache/thinktank/swe``)."""
    setup: bool = True
    """Run the spec's pre-install and install commands after checkout."""
    setup_timeout_s: float = Field(default=1800.0, gt=0)
    """Limit for the set-up commands."""
    apply_timeout_s: float = Field(default=120.0, gt=0)
    """Limit for applying the patches."""
    test_timeout_s: float = Field(default=1800.0, gt=0)
    """Limit for the evaluation script; a timeout fails the instance."""
    fuzz: int = Field(default=3, ge=0)
    """``patch --fuzz`` used when ``git apply`` refuses the patch."""
    log_chars: int = Field(default=20_000, ge=1000)
    """How much of each log the verdict keeps (the tail); ``log_dir`` gets all of it."""
    log_dir: str | None = None
    """When set, ``<log_dir>/<instance_id>/`` gets the patch, the script, the full logs
    and the report."""


@dataclass
class Checkout:
    """A repository placed in a sandbox."""

    sandbox: Sandbox
    repo: str
    """Absolute sandbox path of the repository root."""
    base_commit: str
    """The commit patches are diffs against (the snapshot's for uploaded repositories)."""
    case: SWECase
    prepared: Prepared | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def prelude(self) -> str:
        """Shell lines that activate the environment (prefix for commands run here)."""
        if self.prepared is None:
            return ""
        return "".join(line + "\n" for line in self.prepared.layout.activate)
