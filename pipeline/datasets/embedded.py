"""The embedded data of the problems shipped with the package: a run whose home holds no span
generates its problem's data (the recommendation funnel's impressions, the text problem's
sentences and paragraphs); another problem's data is the user's to bring."""

from __future__ import annotations

import os
from collections.abc import Callable

from models.spec import PROBLEMS_DIR, ProblemSpec, default_spec, load_spec
from pipeline.datasets import generator, text_generator


def _recommendation(out: str | os.PathLike, examples: int, seed: int,
                    optional_tasks=()) -> list:
    return generator.generate(out, examples, 1, seed, optional_tasks=optional_tasks)


def _text(out: str | os.PathLike, examples: int, seed: int, optional_tasks=()) -> list:
    if optional_tasks:
        raise ValueError(f"the embedded text data has no optional task {list(optional_tasks)}")
    return text_generator.generate(out, examples, 1, seed)


# Examples a run generates by default, per problem.
DEFAULT_EXAMPLES = {"recommendation": 100_000, "text": 20_000}


def generator_for(spec: ProblemSpec) -> tuple[Callable, int] | None:
    """(the generator of `spec`'s embedded data, its default number of examples), or None for
    a problem without one. A packaged problem is recognised by its content, so an edited copy
    generates nothing."""
    if spec == default_spec():
        return _recommendation, DEFAULT_EXAMPLES["recommendation"]
    if spec == load_spec(PROBLEMS_DIR / "text" / "spec.yaml"):
        return _text, DEFAULT_EXAMPLES["text"]
    return None
