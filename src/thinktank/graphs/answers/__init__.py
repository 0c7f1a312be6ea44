"""Answer extraction and equivalence for voting.

One module per concern: :mod:`.numbers`, :mod:`.choice`, :mod:`.text`,
:mod:`.code`, :mod:`.judge` (an optional LLM equivalence judge) and :mod:`.vote`
(majority and weighted voting over canonical keys). See README.md here.
"""

from __future__ import annotations

from thinktank.graphs.answers.choice import canonical_choice, extract_choice, format_options
from thinktank.graphs.answers.code import (
    TestRunner,
    behaviour_keys,
    behaviour_signature,
    canonical_code,
    code_blocks,
    extract_code,
    passed_count,
)
from thinktank.graphs.answers.judge import (
    EquivalenceVerdict,
    answers_equivalent,
    judge_equivalence,
    judge_keys,
)
from thinktank.graphs.answers.latex import final_segment
from thinktank.graphs.answers.numbers import (
    NumberAnswer,
    canonical_number,
    extract_number,
    format_fraction,
    numbers_equal,
    parse_number,
    to_number,
)
from thinktank.graphs.answers.text import (
    canonical_text,
    extract_text,
    normalize_text,
    text_equal,
    token_f1,
)
from thinktank.graphs.answers.vote import (
    AnswerKind,
    VoteResult,
    answer_kind_for,
    canonical_key,
    vote,
    vote_keys,
    weighted_vote,
)

__all__ = [
    "AnswerKind",
    "EquivalenceVerdict",
    "NumberAnswer",
    "TestRunner",
    "VoteResult",
    "answer_kind_for",
    "answers_equivalent",
    "behaviour_keys",
    "behaviour_signature",
    "canonical_choice",
    "canonical_code",
    "canonical_key",
    "canonical_number",
    "canonical_text",
    "code_blocks",
    "extract_choice",
    "extract_code",
    "extract_number",
    "extract_text",
    "final_segment",
    "format_fraction",
    "format_options",
    "judge_equivalence",
    "judge_keys",
    "normalize_text",
    "numbers_equal",
    "parse_number",
    "passed_count",
    "text_equal",
    "to_number",
    "token_f1",
    "vote",
    "vote_keys",
    "weighted_vote",
]
