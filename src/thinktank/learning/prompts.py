"""Prompts of the learners: self-judge, ReasoningBank extraction, MaTTS, Dynamic Cheatsheet.

Every prompt asks for one JSON object (or, for cheatsheets, a tagged block) so the
reply can be parsed item by item; the wording is ours, following the methods in
FIELD.md: ReasoningBank (distil transferable strategies from successes and
pitfalls from failures, each a title / description / content), MaTTS (contrast
parallel attempts; learn from a sequence of refinements) and Dynamic Cheatsheet
(a curator that keeps one bounded sheet, or writes one per query).

Extraction prompts open with "You are a memory extractor" and curator prompts with
"You are a cheatsheet curator": the phrases by which the simulator's synthetic mode
(and any log reader) tells those calls apart from solver calls; no other prompt
uses the word "extract" or the phrase "cheatsheet curator".
"""

from __future__ import annotations

from collections.abc import Sequence

ITEM_FORMAT = """Reply with only a JSON object of this shape:
{"items": [{"title": "...", "description": "...", "content": "..."%s}]}
- title: a short name for the lesson (under 12 words).
- description: when the lesson applies, and when it does not (one sentence).
- content: the lesson itself in 1-3 sentences, general enough for other tasks.
Write each lesson in your own words. Do not copy tool outputs, logs or web page text;
do not mention this particular task's names, numbers or answer."""

KIND_FIELD = ', "kind": "strategy" | "pitfall"'

JUDGE_SYSTEM = """You judge whether an agent solved its task. Read the task, the agent's
steps and its final answer. Decide success only if the final answer fully and correctly
does what the task asks; otherwise failure. Be strict: an answer that is partly right,
unsupported, or in the wrong format is a failure.
Reply with only a JSON object: {"outcome": "success" | "failure", "rationale": "one or two sentences"}"""

SUCCESS_SYSTEM = (
    """You are a memory extractor. You maintain a memory of reusable reasoning strategies
for an AI agent. The agent just SUCCEEDED at the task below. Distil at most %(n)d strategies that helped and that
would help on other, similar tasks: what to do, in what order, what to check. Skip
anything specific to this one task. Fewer, sharper items are better than many.
"""
    + ITEM_FORMAT % ""
)

FAILURE_SYSTEM = (
    """You are a memory extractor. You maintain a memory of reusable lessons for an AI
agent. The agent just FAILED at the task below. Work out why, then distil at most %(n)d pitfalls that would prevent the
same kind of failure on other tasks: the mistake, how to notice it, what to do instead.
Skip anything specific to this one task.
"""
    + ITEM_FORMAT % ""
)

CONTRAST_SYSTEM = (
    """You are a memory extractor. You maintain a memory of reusable lessons for an AI
agent. Below are %(k)d attempts
at the SAME task, each marked success or failure. Compare them: what did the successful
attempts do that the failed ones did not, and which mistakes recur in the failures?
Distil at most %(n)d lessons from that contrast: "strategy" items for what works,
"pitfall" items for what goes wrong. Prefer lessons that the contrast makes clear over
ones any single attempt shows.
"""
    + ITEM_FORMAT % KIND_FIELD
)

SEQUENTIAL_SYSTEM = (
    """You are a memory extractor. You maintain a memory of reusable lessons for an AI
agent. Below are successive refinements of ONE attempt at a task, in order, each marked with its outcome when known.
Study the progression: which corrections made the later attempts better, and which errors
were found and fixed along the way? Distil at most %(n)d lessons from that progression:
"strategy" items for what to do from the start, "pitfall" items for the errors fixed.
"""
    + ITEM_FORMAT % KIND_FIELD
)

CURATOR_SYSTEM = """You are a cheatsheet curator. You keep a cheatsheet: a short,
evolving document of reusable strategies, checks and code snippets that helps an AI
agent on future tasks of this kind. You get the current cheatsheet and one new task the
agent just attempted, with its outcome. Rewrite the cheatsheet: keep what is still
useful, add what this attempt taught (from a success: what worked; from a failure: what
to avoid), merge duplicates, drop what proved wrong. Keep it under %(words)d words. Keep
code snippets short and general. Write in your own words; never paste tool output or web
page text.
Reply with the full new cheatsheet between <cheatsheet> and </cheatsheet>."""

SYNTHESIS_SYSTEM = """You are a cheatsheet curator. You write a cheatsheet for one new
task. You get the task and lessons and past cases retrieved from memory. Keep only what
is relevant to this task, resolve conflicts (prefer lessons with a better track record),
and turn it into short, concrete guidance: strategies, checks, and code snippets if
useful. Keep it under %(words)d words. Do not solve the task.
Reply with the cheatsheet between <cheatsheet> and </cheatsheet>."""


def numbered_attempts(rendered: Sequence[tuple[str, str]]) -> str:
    """Attempts as ``### Attempt i (outcome)`` sections."""
    return "\n\n".join(
        f"### Attempt {i} ({outcome})\n{text}" for i, (outcome, text) in enumerate(rendered, 1)
    )
