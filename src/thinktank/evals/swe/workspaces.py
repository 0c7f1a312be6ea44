"""One repository checkout per agent run, behind one set of tools.

A graph may run several agents on one SWE task at once (``best_of_n`` samples,
debaters, refiners). Edits must not mix, so each agent run gets its own checkout:
the first run uses the sandbox the environment opened for the task, every further
run gets a new sandbox with the repository at the base commit (started when it
first calls a tool). The graph binds one :class:`Tool` per name; each call is
routed to the calling run's checkout.

An agent run is recognised by the usage scope it opens (``Agent.run`` enters one
per run and every tool call happens inside it); calls made outside any agent (a
script, a test) use the first checkout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from thinktank.evals.swe.config import Checkout
from thinktank.llm.ledger import current_scope
from thinktank.tools.base import Tool, ToolResult
from thinktank.tools.code import BashArgs, BashTool
from thinktank.tools.swe import Workspace, diff, swe_tools


class RepoBash(BashTool):
    """``bash`` starting in the repository, in the instance's environment (its Python
    activated; ``python`` means ``python3`` in the plain sandbox image)."""

    def __init__(self, *args: Any, prelude: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prelude = prelude

    async def run(self, args: BashArgs) -> ToolResult:
        shimmed = args.model_copy(update={"command": self.prelude + args.command})
        return await super().run(shimmed)


class Space:
    """A checkout and the tools bound to it."""

    def __init__(self, co: Checkout, *, bash: bool, bash_timeout_s: float) -> None:
        self.checkout = co
        tools = swe_tools(co.sandbox, co.repo, base_commit=co.base_commit)
        if bash:
            tools.append(
                RepoBash(co.sandbox, timeout_s=bash_timeout_s, cwd=co.repo, prelude=co.prelude)
            )
        self.tools: dict[str, Tool[Any]] = {t.name: t for t in tools}

    async def diff(self) -> str:
        """The checkout's changes against the base commit (what ``submit`` would send)."""
        co = self.checkout
        return await diff(Workspace(co.sandbox, co.repo, base_commit=co.base_commit))


class _Routed(Tool[Any]):
    """A tool that forwards each call to the calling agent run's checkout."""

    def __init__(self, spaces: Workspaces, template: Tool[Any]) -> None:
        self.spaces = spaces
        self.name = template.name
        self.description = template.description
        self.args_model = template.args_model
        self.max_output_chars = template.max_output_chars

    async def run(self, args: Any) -> Any:
        space = await self.spaces.current()
        return await space.tools[self.name].run(args)


class Workspaces:
    """The checkouts of one task; ``open_more()`` makes a new one in a new sandbox."""

    def __init__(
        self,
        first: Checkout,
        open_more: Callable[[], Awaitable[Checkout]],
        *,
        bash: bool = True,
        bash_timeout_s: float = 120.0,
        isolate: bool = True,
    ) -> None:
        self._open_more = open_more
        self._bash = bash
        self._bash_timeout_s = bash_timeout_s
        self.isolate = isolate
        self.first = Space(first, bash=bash, bash_timeout_s=bash_timeout_s)
        self.spaces: list[Space] = [self.first]
        self._by_run: dict[int, tuple[object, Space]] = {}
        self._lock = asyncio.Lock()

    def tools(self) -> list[Tool[Any]]:
        """The routed tools (``view``, ``str_replace``, …, ``submit``, ``bash``)."""
        return [_Routed(self, t) for t in self.first.tools.values()]

    @property
    def used(self) -> list[Space]:
        """Checkouts some agent run worked in (the first one always counts)."""
        seen = {id(s) for _, s in self._by_run.values()}
        return [s for s in self.spaces if s is self.first or id(s) in seen]

    async def current(self) -> Space:
        """The calling agent run's checkout (made on its first call)."""
        run = current_scope()
        key = id(run)
        hit = self._by_run.get(key)
        if hit is not None:
            return hit[1]
        if not self.isolate or "role" not in run.labels:  # not inside an agent run
            return self.first
        async with self._lock:
            if key not in self._by_run:
                taken = {id(s) for _, s in self._by_run.values()}
                if id(self.first) not in taken:
                    space = self.first
                else:
                    co = await self._open_more()
                    space = Space(co, bash=self._bash, bash_timeout_s=self._bash_timeout_s)
                    self.spaces.append(space)
                # keep the scope object alive so its id is not reused by another run
                self._by_run[key] = (run, space)
        return self._by_run[key][1]

    async def aclose(self) -> None:
        """Close the sandboxes of every checkout but the first (the environment owns it)."""
        more, self.spaces = self.spaces[1:], self.spaces[:1]
        for space in more:
            await space.checkout.sandbox.close()
