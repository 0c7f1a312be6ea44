"""In-process test doubles for :class:`~thinktank.llm.base.ChatModel`.

* :class:`ScriptedModel` replays a fixed list of outputs in order and raises
  :class:`~thinktank.errors.ScriptExhausted` when asked for more.
* :class:`FunctionModel` computes each reply with a user function.

Both are real ``ChatModel`` subclasses, so budgets, the cache and the ledger work
with them exactly as with a remote endpoint. One *output* can be written as:

* a ``str`` — the reply text;
* a :class:`~thinktank.llm.types.Completion` — used as is (usage filled in when zero);
* a :class:`~thinktank.llm.types.ToolCall` or a list of them — a tool-calling reply;
* a ``dict`` — ``{"content": ..., "tool_calls": [...], "finish_reason": ...}``, or a
  single tool call ``{"name": ..., "arguments": {...} | "json"}``, or a tool call in
  OpenAI wire form ``{"id": ..., "type": "function", "function": {...}}``;
* an ``Exception`` instance — raised when its turn comes.

Usage token counts are estimated from text length (≈4 characters per token).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from thinktank.errors import ScriptExhausted
from thinktank.llm.base import Capabilities, ChatModel
from thinktank.llm.types import ChatRequest, Completion, ToolCall, Usage

Output: TypeAlias = (
    str | Completion | ToolCall | Sequence[ToolCall] | Mapping[str, Any] | BaseException
)
"""Anything :func:`as_completion` accepts (exceptions only in scripts)."""

FunctionResult: TypeAlias = Output | list[Output]


def approx_tokens(text: str) -> int:
    """A rough token count for ``text`` (≈4 characters per token, at least 1 when non-empty)."""
    return (len(text) + 3) // 4


def prompt_tokens(request: ChatRequest) -> int:
    """Estimated prompt tokens of a request: message text plus a small per-message overhead."""
    total = 3
    for m in request.messages:
        content = m.get("content")
        if isinstance(content, str):
            total += approx_tokens(content)
        elif content is not None:
            total += approx_tokens(json.dumps(content, default=str))
        if m.get("tool_calls"):
            total += approx_tokens(json.dumps(m["tool_calls"], default=str))
        total += 4
    if request.tools:
        total += approx_tokens(json.dumps(request.tools, default=str))
    return total


def _tool_call(spec: Any, k: int) -> ToolCall:
    if isinstance(spec, ToolCall):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"a tool call must be a ToolCall or a dict, not {type(spec).__name__}")
    if "function" in spec:  # OpenAI wire form
        fn = spec["function"]
        name, args, call_id = fn["name"], fn.get("arguments", "{}"), spec.get("id")
    else:
        name, args, call_id = spec["name"], spec.get("arguments", "{}"), spec.get("id")
    if not isinstance(args, str):
        args = json.dumps(args)
    return ToolCall(id=call_id or f"call_{k}", name=name, arguments=args)


def as_completion(output: Any, *, model: str = "", prompt: int = 0, start: int = 0) -> Completion:
    """Normalise one scripted *output* (see the module docstring) to a Completion.

    ``prompt`` is the prompt token count to record; ``start`` numbers generated
    tool-call ids (``call_<start>``, ``call_<start+1>``, …) so ids stay unique.
    Completions whose usage is all zero get estimated usage.
    """
    if isinstance(output, Completion):
        c = output
    elif isinstance(output, str):
        c = Completion(text=output)
    elif isinstance(output, ToolCall):
        c = Completion(tool_calls=[output], finish_reason="tool_calls")
    elif isinstance(output, Mapping):
        if "name" in output or "function" in output:
            c = Completion(tool_calls=[_tool_call(output, start)], finish_reason="tool_calls")
        else:
            unknown = set(output) - {"content", "text", "tool_calls", "finish_reason"}
            if unknown:
                raise TypeError(f"unknown keys in scripted output: {sorted(unknown)}")
            calls = [_tool_call(s, start + i) for i, s in enumerate(output.get("tool_calls") or [])]
            text = output.get("content", output.get("text")) or ""
            reason = output.get("finish_reason") or ("tool_calls" if calls else "stop")
            c = Completion(text=text, tool_calls=calls, finish_reason=reason)
    elif isinstance(output, Sequence) and output and all(_is_call(x) for x in output):
        calls = [_tool_call(s, start + i) for i, s in enumerate(output)]
        c = Completion(tool_calls=calls, finish_reason="tool_calls")
    else:
        raise TypeError(f"cannot turn a {type(output).__name__} into a completion")
    if c.usage.prompt_tokens == 0 and c.usage.completion_tokens == 0:
        out_tokens = approx_tokens(c.text) + sum(
            approx_tokens(t.name + t.arguments) for t in c.tool_calls
        )
        c = c.model_copy(
            update={"usage": Usage(prompt_tokens=prompt, completion_tokens=out_tokens)}
        )
    if model and not c.model:
        c = c.model_copy(update={"model": model})
    return c


class ScriptedModel(ChatModel):
    """Replays ``outputs`` in order, one per sample (a call with ``n=3`` takes three).

    An ``Exception`` in the script is raised when reached (the outputs before it in
    the same call are discarded). When the script runs out,
    :class:`~thinktank.errors.ScriptExhausted` says how many outputs were scripted.
    Every request received is appended to :attr:`requests`.
    """

    def __init__(
        self,
        outputs: Iterable[Output] = (),
        *,
        model_id: str = "scripted",
        capabilities: Capabilities | None = None,
    ) -> None:
        self.model_id = model_id
        if capabilities is not None:
            self.capabilities = capabilities
        self._outputs: list[Output] = list(outputs)
        self._pos = 0
        self.requests: list[ChatRequest] = []
        """Requests received, in order (one per ``_generate`` call)."""

    @property
    def remaining(self) -> int:
        """Outputs not consumed yet."""
        return len(self._outputs) - self._pos

    @property
    def consumed(self) -> int:
        """Outputs consumed so far."""
        return self._pos

    def extend(self, outputs: Iterable[Output]) -> None:
        """Append more outputs to the script."""
        self._outputs.extend(outputs)

    async def _generate(self, request: ChatRequest) -> list[Completion]:
        self.requests.append(request)
        ptoks = prompt_tokens(request)
        out: list[Completion] = []
        for _ in range(request.n):
            if self._pos >= len(self._outputs):
                raise ScriptExhausted(
                    f"{self.model_id}: the script holds {len(self._outputs)} output(s) and all "
                    f"were used; request #{len(self.requests)} asked for sample "
                    f"{len(out) + 1} of {request.n}"
                )
            item = self._outputs[self._pos]
            self._pos += 1
            if isinstance(item, BaseException):
                raise item
            out.append(as_completion(item, model=self.model_id, prompt=ptoks, start=self._pos))
        return out


class FunctionModel(ChatModel):
    """Computes replies with ``fn(request)``, sync or async.

    ``fn`` returns one output (see the module docstring) or a list of exactly
    ``request.n`` outputs. When it returns a single output and ``n > 1``, it is
    called again for each remaining sample (so a stateful ``fn`` can vary them).
    A list whose items are all tool calls counts as *one* tool-calling output.
    Requests received are appended to :attr:`requests`.
    """

    def __init__(
        self,
        fn: Callable[[ChatRequest], FunctionResult | Awaitable[FunctionResult]],
        *,
        model_id: str = "function",
        capabilities: Capabilities | None = None,
    ) -> None:
        self.fn = fn
        self.model_id = model_id
        if capabilities is not None:
            self.capabilities = capabilities
        self.requests: list[ChatRequest] = []
        """Requests received, in order."""

    async def _call(self, request: ChatRequest) -> Any:
        result = self.fn(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _generate(self, request: ChatRequest) -> list[Completion]:
        self.requests.append(request)
        ptoks = prompt_tokens(request)
        result = await self._call(request)
        if _is_many(result):
            items = list(result)
            if len(items) != request.n:
                raise ValueError(
                    f"{self.model_id}: fn returned {len(items)} outputs for n={request.n}"
                )
        else:
            items = [result]
            while len(items) < request.n:
                items.append(await self._call(request))
        out = []
        for k, item in enumerate(items):
            if isinstance(item, BaseException):
                raise item
            out.append(as_completion(item, model=self.model_id, prompt=ptoks, start=k))
        return out


def _is_call(x: Any) -> bool:
    return isinstance(x, ToolCall) or (isinstance(x, Mapping) and ("name" in x or "function" in x))


def _is_many(result: Any) -> bool:
    """A list of outputs, as opposed to one output that is itself a list of tool calls."""
    if not isinstance(result, list) or not result:
        return False
    return not all(_is_call(x) for x in result)


__all__ = [
    "FunctionModel",
    "ScriptedModel",
    "approx_tokens",
    "as_completion",
    "prompt_tokens",
]
