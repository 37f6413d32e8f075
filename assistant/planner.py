"""The deterministic planner: a shopper's message + session → a typed `Plan`.

Decides what a turn is about (intent) and which shown products it refers to ("the second
one", "the first two", "that watch", "it"), without any model, so that a small or absent
LLM never decides correctness. Owns the phrase tables for intents and references. Does not
own search filters (`retrieval.understanding`) nor carrying the plan out (the agent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant import planner_zh as zh
from assistant.errors import QueryError
from assistant.intents import ExemplarIntents
from assistant.language.text import Language, detect_language, normalise
from assistant.messages import say
from assistant.retrieval.understanding import Vocabulary, parse_query, singular

MAX_MESSAGE_CHARS = 2000

Intent = Literal[
    "search", "refine", "more", "details", "compare", "similar", "why",
    "add_to_cart", "view_cart", "remove_from_cart", "confirm", "deny",
    "policy", "like", "dislike", "greeting", "unsupported_language",
]  # fmt: skip


@dataclass(frozen=True)
class ShownProduct:
    """A product the shopper has seen, as references need it."""

    id: str
    name: str
    category: str | None = None
    colour: str | None = None


@dataclass
class Plan:
    intent: Intent
    text: str | None = None  # the words to search or answer with
    product_ids: list[str] = field(default_factory=list)  # resolved references, in order
    problem: str | None = None  # a reference that cannot be resolved, said to the shopper
    language: Language = "en"  # the language the shopper wrote in, and the answer's


ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "eighth": 7, "ninth": 8, "tenth": 9,
}  # fmt: skip
COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "2": 2, "3": 3, "4": 4, "5": 5}
_POLITE = r"([\s,!.]*(thanks|thank you|please))?[\s!.]*$"
_YES_WORDS = r"(yes|yeah|yep|yup|sure|ok(ay)?|please do|do it|go ahead|go for it|confirm(ed)?|absolutely|definitely|y)"
# A yes-word, then at most a few more words ("sure, go ahead", "sure thing", "yes please add
# it"); a no-word anywhere makes it no answer to the confirmation ("yes, but not that one").
YES = re.compile(rf"^\s*{_YES_WORDS}\b(?!.*\b(no|not|don'?t|cancel)\b)[\w\s,!.']{{0,24}}$", re.I)
NO = re.compile(r"^\s*(no|nope|nah|cancel|don'?t|do not|never ?mind|n)\b" + _POLITE, re.I)
GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you|bye)\b[\s!.,]*$", re.I)

# (intent, pattern): the first that matches wins, so specific phrasings come first.
INTENT_PATTERNS: list[tuple[Intent, re.Pattern[str]]] = [
    ("view_cart", re.compile(r"\b(what'?s|what is|show|view|see|check)\b.*\b(cart|basket)\b|^\s*(my )?(cart|basket)\s*\??$", re.I)),
    ("remove_from_cart", re.compile(r"\b(remove|delete|take out|drop|get rid of)\b|\btake\s+(\w+\s+){1,3}out\b", re.I)),
    ("add_to_cart", re.compile(
        r"\b(add|put)\b.*\b(cart|basket|bag)\b|\b(buy|purchase|order|i'?ll take)\b"
        r"|\badd\s+(it|this|that|them|both|#\d|number\s+\d|the\s+(first|second|third|fourth|fifth|last|\d\w*))\b", re.I)),
    ("policy", re.compile(
        r"\b(return|refund|exchange|shipping|delivery|deliver|warranty|guarantee|payment|pay with|policy|policies|"
        r"store hours|opening hours|cash on delivery|cod)\b", re.I)),
    # A question about the store itself ("do you offer gift wrapping?"), not about stock
    # ("do you have red shoes?"): answered from the policy documents, or honestly not.
    # A request about shown products ("can you tell me about number 2") is not one.
    ("policy", re.compile(
        r"^\s*(do|does|can|could|will|would|are|is)\s+(you|your|i|we)\b"
        r"(?!.*\b(have|sell|carry|stock|got|tell|show|see|compare|add|put|find|give|describe|recommend|number|first|second|third|last)\b)",
        re.I)),
    ("why", re.compile(r"\b(why|how come|reason|reasons|reasoning)\b", re.I)),
    ("compare", re.compile(r"\b(compare|comparison|difference|differences|versus|vs\.?)\b", re.I)),
    ("similar", re.compile(r"\b(similar|alternatives?|more like (this|that|it)|like (this|that) one|anything like)\b", re.I)),
    ("dislike", re.compile(r"\b(don'?t|do not|doesn'?t)\s+(like|love|want)\b|\b(hate|not my style|not for me|ugly)\b", re.I)),
    ("like", re.compile(r"\b(i (really )?(like|love)|nice one|looks great|that'?s (nice|great|perfect))\b", re.I)),
    ("details", re.compile(
        r"\b(tell me (more )?about|more about|details?|describe|what about (the|it|this|that)|more info|information about|specs?)\b"
        r"|^\s*tell me more\b", re.I)),
    ("more", re.compile(
        r"^\s*(show )?(me )?(some )?more( results| options| please)?\s*[.!?]*$|\b(next page|show more|more results|other options)\b", re.I)),
]
REFINE_START = re.compile(
    r"^\s*(in|but|and|only|just|without|not|no|except|cheaper|something cheaper|less expensive|more expensive|"
    r"under|below|over|above|between|for (men|women|boys|girls|kids|him|her)|make it|any in|same in|what about in)\b",
    re.I,
)
# A message that is only a pointer at a shown product ("the second one", "#3", "that one"):
# the shopper wants to hear about it.
BARE_REFERENCE = re.compile(
    r"^\s*(and\s+)?(the\s+|that\s+|this\s+)?(" + "|".join(ORDINALS) + r"|last|#\d{1,2}|number \d{1,2}|one)(\s+one)?\s*[.!?]*\s*$",
    re.I,
)
PRONOUN = re.compile(r"\b(it|this|that|this one|that one|these|those|them|both)\b", re.I)


def resolve_references(message: str, shown: Sequence[ShownProduct], focus: str | None = None) -> tuple[list[str], str | None]:
    """Product ids the message points at, and a problem to tell the shopper if any is out of reach."""
    text = message.lower()
    n = len(shown)
    # "the first two", "first 3", "top three", "both"
    m = re.search(r"\b(first|top)\s+(two|three|four|five|[2-5])\b", text)
    if m or re.search(r"\bboth\b", text):
        count = COUNTS[m.group(2)] if m else 2
        if count > n:
            return [], say("en", "shown_only", count=n)
        return [p.id for p in shown[:count]], None
    picks: list[tuple[int, int]] = []  # (position in the message, index into shown)
    for word, idx in ORDINALS.items():
        for mm in re.finditer(rf"\b{word}\b", text):
            picks.append((mm.start(), idx))
    for mm in re.finditer(r"(?:#|number |no\. ?|item )(\d{1,2})\b", text):
        picks.append((mm.start(), int(mm.group(1)) - 1))
    if re.search(r"\b(last one|the last)\b", text):
        picks.append((text.index("last"), n - 1))
    if picks:
        return zh.picked(picks, shown, "en")
    # "that watch", "the red one", "the sandals"
    words = [singular(w) for w in re.findall(r"[a-z]+", text)]
    for p in shown:
        cat = singular((p.category or "").lower())
        if cat and cat in words and (re.search(rf"\b(that|this|the)\s+(\w+\s+)?{re.escape(cat)}", " ".join(words))):
            return [p.id], None
    for p in shown:
        if p.colour and re.search(rf"\b(the|that)\s+{re.escape(p.colour.lower())}\s+one\b", text):
            return [p.id], None
    if PRONOUN.search(text) and (focus or shown):
        return [focus or shown[0].id], None
    return [], None


def plan_turn(
    message: str,
    shown: Sequence[ShownProduct] = (),
    focus: str | None = None,
    has_previous_search: bool = False,
    pending_confirmation: bool = False,
    has_photo: bool = False,
    vocabulary: Vocabulary | None = None,
    intents: ExemplarIntents | None = None,
) -> Plan:
    """What the turn is about, in the shopper's language. Raises `QueryError` for an empty or
    over-long message. With the catalogue's `vocabulary`, a message after a search that names
    only attributes ("do you have it in blue?", "换成蓝色的") refines that search; with
    `intents`, an English message no rule recognises takes its nearest exemplars' intent."""
    if not message.strip() and not has_photo:
        raise QueryError("the message is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise QueryError(f"the message is {len(message):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}")
    text = normalise(message)
    detected = detect_language(text)
    if detected == "other":
        return Plan("unsupported_language", text=text)
    tables = _ZH if detected == "zh" else _EN
    plan = _plan(
        text, detected, tables, shown, focus, has_previous_search, pending_confirmation, has_photo, vocabulary,
        intents if detected == "en" else None,  # the exemplars' sentence encoder reads English
    )
    plan.language = detected
    return plan


@dataclass(frozen=True)
class _Tables:
    """One language's phrase tables."""

    yes: re.Pattern[str]
    no: re.Pattern[str]
    greeting: re.Pattern[str]
    intents: list[tuple[Intent, re.Pattern[str]]]
    bare_reference: re.Pattern[str]
    refine_start: re.Pattern[str]
    resolve: Callable[[str, Sequence[ShownProduct], str | None], tuple[list[str], str | None]]


_EN = _Tables(YES, NO, GREETING, INTENT_PATTERNS, BARE_REFERENCE, REFINE_START, resolve_references)
_ZH = _Tables(zh.YES, zh.NO, zh.GREETING, zh.INTENT_PATTERNS, zh.BARE_REFERENCE, zh.REFINE_START, zh.resolve_references_zh)

def _names_only_attributes(text: str, vocabulary: Vocabulary) -> bool:
    """The message names filters or an order (colour, gender, brand, price, "cheaper") and
    no product type: it changes the last search rather than starting one."""
    try:
        parsed = parse_query(text, vocabulary)
    except QueryError:
        return False
    fields = {m.field for m in parsed.matches}
    return bool(fields or parsed.sort) and "category" not in fields


def _plan(
    text: str,
    language: Language,
    t: _Tables,
    shown: Sequence[ShownProduct],
    focus: str | None,
    has_previous_search: bool,
    pending_confirmation: bool,
    has_photo: bool,
    vocabulary: Vocabulary | None,
    intents: ExemplarIntents | None,
) -> Plan:
    if pending_confirmation:
        if t.yes.match(text):
            return Plan("confirm")
        if t.no.match(text):
            return Plan("deny")
    if has_photo:
        return Plan("search", text=text or None)
    if t.greeting.match(text):
        return Plan("greeting")
    for intent, pattern in t.intents:
        if not pattern.search(text):
            continue
        return _with_references(intent, text, language, t, shown, focus)
    if shown and t.bare_reference.match(text):
        ids, problem = t.resolve(text, shown, focus)
        if ids or problem:
            return Plan("details", text=text, product_ids=ids, problem=problem)
    if has_previous_search and (t.refine_start.match(text) or (vocabulary is not None and _names_only_attributes(text, vocabulary))):
        return Plan("refine", text=text)
    guess = intents.guess(text) if intents is not None else None
    if guess is not None and guess.intent != "search" and (guess.intent != "refine" or has_previous_search):
        if guess.intent in ("refine", "greeting"):
            return Plan(guess.intent, text=text)  # type: ignore[arg-type]
        return _with_references(guess.intent, text, language, t, shown, focus)  # type: ignore[arg-type]
    return Plan("search", text=text)


def _with_references(intent: Intent, text: str, language: Language, t: _Tables, shown: Sequence[ShownProduct], focus: str | None) -> Plan:
    """A plan for `intent`, with the shown products the message points at (or a problem)."""
    if intent == "policy":
        return Plan("policy", text=text)
    if intent in ("view_cart", "more"):
        return Plan(intent)
    ids, problem = t.resolve(text, shown, focus)
    if intent == "compare" and not ids and not problem:
        if len(shown) < 2:
            problem = say(language, "nothing_to_compare")
        else:
            ids = [p.id for p in shown[:2]]
    if intent in ("details", "similar", "why", "like", "dislike", "add_to_cart", "remove_from_cart") and not ids and not problem:
        if intent == "remove_from_cart" or (intent in ("add_to_cart",) and not shown):
            pass  # the agent asks which one (or what, with an empty cart)
        elif not shown:
            # "more about X" with nothing shown is a search for X.
            if intent == "details":
                return Plan("search", text=text)
            problem = say(language, "nothing_shown")
        else:
            ids = [focus or shown[0].id]
    return Plan(intent, text=text, product_ids=ids, problem=problem)
