"""A message that asks for several steps: "a black belt and a brown wallet for men", "find
black sandals, then compare the first two", "找女士黑色手表，然后比较前两个".

The planner reads a message as one step; this splits one into the steps it names, in order,
so the planner alone runs them (a tool-calling model does the same with its own calls, and
the guard reads the clauses the same way: `tool_loop.TurnContext.asks_search`). A split is
made only when it is clearly meant: every search step names a product type (so "black and
white shoes" stays one search), two searches name different types, and the first step is a
search (a follow-up first refers to what is already shown: one step). A clause that is
neither ("for men", "to go with them") belongs to the step before it; a gender said once
("... for men") holds for every search of the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.errors import AssistantError
from assistant.language.text import HAN
from assistant.planner import plan_turn
from assistant.retrieval.understanding import ParsedQuery, Vocabulary, parse_query, singular

# Clause breaks: punctuation, "and (then/also)", "then", "plus"; 然后 / 并且 / 还要 / 和.
CLAUSE = re.compile(r"\s*(?:[,;，；。]|\b(?:and then|then|and also|plus|and)\b|然后|并且|再帮我|还要|和)\s*", re.I)
FOLLOW_UPS = frozenset({"details", "compare", "similar", "why", "add_to_cart"})  # steps about what the search just showed
GENDER_WORDS = {"en": {"men": "for men", "women": "for women", "boys": "for boys", "girls": "for girls"},
                "zh": {"men": "男士", "women": "女士", "boys": "男童", "girls": "女童"}}  # fmt: skip


def parse(text: str, vocabulary: Vocabulary) -> ParsedQuery | None:
    try:
        return parse_query(text, vocabulary)
    except AssistantError:  # an empty or over-long clause says nothing
        return None


def product_type(parsed: ParsedQuery | None) -> frozenset[str]:
    if parsed is None:
        return frozenset()
    return frozenset(parsed.filters.category) | frozenset(parsed.filters.article_type)


@dataclass(frozen=True)
class Step:
    text: str
    intent: str  # "search", or the follow-up's intent (details, compare, ...)
    types: frozenset[str] = frozenset()  # a search's product types, lower case and singular ("sandals" = "sandal")

    @property
    def tool(self) -> str | None:
        """The tool that does this step (None: one that asks first, like an add)."""
        return {"search": "search_products", "details": "get_product", "compare": "compare_products", "similar": "similar_products"}.get(self.intent)


def split_steps(message: str, vocabulary: Vocabulary | None) -> list[str] | None:
    """The steps of `message` in order, or None when it is one step."""
    steps = steps_of(message, vocabulary)
    return [s.text for s in steps] if steps else None


def clauses(message: str) -> list[str]:
    """The message's clauses, cut at `CLAUSE`, empty ones left out."""
    return [p for p in CLAUSE.split(message) if p and p.strip()]


def steps_of(message: str, vocabulary: Vocabulary | None) -> list[Step] | None:
    """The steps of `message` with what each is, or None when it is one step."""
    if vocabulary is None:
        return None
    parts = clauses(message)
    if len(parts) < 2:
        return None
    steps: list[tuple[str, str]] = []  # (search or a follow-up's intent, text)
    for part in parts:
        intent = plan_turn(part, vocabulary=vocabulary).intent
        if intent in FOLLOW_UPS and steps:
            steps.append((intent, part))
        elif intent in ("search", "refine") and product_type(parse(part, vocabulary)):
            steps.append(("search", part))
        elif steps:
            kind, text = steps[-1]
            steps[-1] = (kind, f"{text} {part}")
        else:
            return None  # an opening that is no search ("compare the first two, then ..."): one step
    # Each search step read once (a gender added below names no product type).
    read = [parse(text, vocabulary) if kind == "search" else None for kind, text in steps]
    types = [product_type(r) for (kind, _), r in zip(steps, read, strict=True) if kind == "search"]
    follows = len(steps) > len(types)
    if steps[0][0] != "search" or not (follows or (len(types) > 1 and len(set(types)) == len(types))):
        return None
    out = []
    for (kind, text), own in zip(steps, read, strict=True):
        if kind == "search":
            found = frozenset(singular(t.lower()) for t in product_type(own))
            out.append(Step(_with_gender(text, own, message, vocabulary), kind, found))
        else:
            out.append(Step(text, kind))
    return out


def search_types(arguments: dict[str, Any]) -> frozenset[str]:
    """The product types a `search_products` call's filters ask for, singular and lower case."""
    filters = arguments.get("filters") or {}
    return frozenset(singular(str(v).lower()) for f in ("category", "article_type") for v in filters.get(f) or ())


def mixes_steps(steps: list[Step], arguments: dict[str, Any]) -> bool:
    """Whether a search asks for the product types of two of the message's steps at once
    ("sunglasses" and "watches" in one filter): it shows a mix, a few of each at best, and
    answers neither step."""
    asked = search_types(arguments)
    return sum(bool(s.types & asked) for s in steps if s.intent == "search") > 1


def undone(steps: list[Step], calls: list[tuple[str, dict[str, Any]]]) -> list[Step]:
    """The steps no call did: a search whose product types no search asked for, a follow-up
    whose tool did not run (after a search that was done). A search that mixed two steps'
    types did neither: each runs on its own."""
    searched = [search_types(args) for name, args in calls if name == "search_products" and not mixes_steps(steps, args)]
    ran = [name for name, _ in calls]
    left = []
    for step in steps:
        if step.intent == "search":
            done = any(step.types & asked for asked in searched)
        else:
            done = step.tool is None or step.tool in ran
        if not done:
            left.append(step)
    return left


def _with_gender(step: str, own: ParsedQuery | None, message: str, vocabulary: Vocabulary) -> str:
    """A search step (`own`: its reading) that names no gender takes the one the message names once for all."""
    if own is None or own.filters.gender:
        return step
    whole = parse(message, vocabulary)
    said = sorted(g for g in (whole.filters.gender if whole else ()) if g != "unisex")
    lang = "zh" if HAN.search(step) else "en"
    if len(said) != 1 or said[0] not in GENDER_WORDS[lang]:
        return step
    word = GENDER_WORDS[lang][said[0]]
    return f"{word}{step}" if lang == "zh" else f"{step} {word}"
