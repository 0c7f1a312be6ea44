"""Loaders of the small bundled suites: ``math`` (+ ``game24``), ``code`` and ``web``.

``math`` — ``data/math.jsonl``: word and arithmetic problems written for this
project, one :class:`Task` per line, each with an exact answer (an integer, a
terminating decimal or a fraction such as ``5/36``) judged by the ``numeric``
evaluator; a test recomputes every answer in Python. ``load_suite("math")`` adds a
few seeded Game-of-24 hands; ``load_suite("game24", n=..., seed=...)`` gives as many
as wanted (generator, solver and checker in :mod:`.game24`).

``code`` — ``data/code.jsonl`` in the HumanEval schema (``task_id``, ``prompt`` with
signature and docstring, ``entry_point``, ``canonical_solution``, ``test`` defining
``check(candidate)``), read by :func:`~.loaders.code_jsonl.load_humaneval`. A test
runs every canonical solution against its hidden tests and checks a stub fails.

``web`` — ``data/web/pages/``: a small fictional world (the towns, companies, people
and clubs of the "Varnholt Coast") written as realistic pages of a local newspaper,
a regional wiki, company sites, a town council and a football league, each with
navigation, cookie banners, sidebars and footers, so main-text extraction matters.
Nothing in it exists, so no model can answer from memory. ``data/web/questions.jsonl``
holds ``id``, ``question``, ``answer``, ``aliases``, ``pages`` (the corpus paths that
together answer it) and ``hops``. Serve the corpus with
``thinktank.tools.web.serve.serve_corpus(web_corpus_dir())``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.game24 import Game24Config
from thinktank.evals.tasks.evaluators.string import StringConfig
from thinktank.evals.tasks.suites.files import data_file, parse_records, read_records
from thinktank.evals.tasks.suites.game24 import TARGET, generate_hands, prompt_for, solve
from thinktank.evals.tasks.suites.loaders.code_jsonl import load_humaneval
from thinktank.evals.tasks.task import Task

# --- math and game24 -------------------------------------------------------------

GAME24_IN_MATH = 10
"""How many Game-of-24 hands ``load_suite("math")`` includes."""


def load_word_problems() -> list[Task]:
    """The bundled word and arithmetic problems."""
    return parse_records(data_file("math.jsonl"), Task.model_validate)


def game24_tasks(n: int = 20, *, seed: int = 0, target: int = TARGET) -> list[Task]:
    """``n`` solvable Game-of-24 hands as ``math`` tasks checked by the ``game24`` evaluator.

    ``metadata['solution']`` holds one valid expression (found by the solver);
    ``metadata['answer_kind']`` tells voters to compare replies as text.
    """
    tasks = []
    for i, hand in enumerate(generate_hands(n, seed=seed, target=target)):
        tasks.append(
            Task(
                id=f"game24-s{seed}-{i:03d}",
                kind="math",
                prompt=prompt_for(hand, target),
                expected=target,
                metadata={
                    "numbers": list(hand),
                    "solution": solve(hand, target),
                    "tags": ["game24"],
                    # Replies are expressions, not numbers: vote on the text, not on
                    # a number extracted from it (see graphs.answers.vote kinds).
                    "answer_kind": "exact",
                },
                evaluator=Game24Config(target=target),
            )
        )
    return tasks


def load_math_suite(*, game24: int = GAME24_IN_MATH, seed: int = 0) -> list[Task]:
    """Word problems plus ``game24`` Game-of-24 hands."""
    return load_word_problems() + game24_tasks(game24, seed=seed)


# --- code ------------------------------------------------------------------------


def code_records() -> list[dict[str, Any]]:
    """The raw HumanEval-format records."""
    return [record for _, record in read_records(data_file("code.jsonl"))]


def load_code_suite() -> list[Task]:
    """The bundled code problems as ``code`` tasks."""
    return load_humaneval(data_file("code.jsonl"), source="thinktank:code")


# --- web -------------------------------------------------------------------------


class WebQuestion(StrictModel):
    """One bundled web question."""

    id: str = Field(min_length=1)
    """Unique id (``web-...``)."""
    question: str = Field(min_length=1)
    """The question as asked."""
    answer: str = Field(min_length=1)
    """The short answer, as written in the corpus."""
    aliases: list[str] = Field(default_factory=list)
    """Other accepted spellings."""
    pages: list[str] = Field(min_length=1)
    """Corpus paths (relative to the pages folder) that together answer the question."""
    hops: int = Field(ge=1)
    """How many pages must be read (2 = multi-hop)."""


def web_corpus_dir() -> Path:
    """The folder of HTML pages, as a filesystem path."""
    root = data_file("web", "pages")
    path = Path(str(root))
    if not path.is_dir():
        raise ConfigError(
            "the bundled web corpus is not on the filesystem (zipped install?); "
            "install thinktank as a regular (unzipped) package"
        )
    return path


def load_web_questions() -> list[WebQuestion]:
    """Every bundled question."""
    return parse_records(data_file("web", "questions.jsonl"), WebQuestion.model_validate)


def load_web_suite() -> list[Task]:
    """The bundled web questions as ``web`` tasks (normalised string match with aliases)."""
    return [
        Task(
            id=q.id,
            kind="web",
            prompt=q.question,
            expected=q.answer,
            metadata={
                "aliases": q.aliases,
                "pages": q.pages,
                "hops": q.hops,
                "corpus": "thinktank:web",
                "tags": ["multi-hop" if q.hops > 1 else "single-hop"],
            },
            evaluator=StringConfig(),
        )
        for q in load_web_questions()
    ]
