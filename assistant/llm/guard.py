"""The grounding guard: a model's sentence may only state what the tools returned.

A sentence is refused when it contains a number, a currency amount, or a catalogue term
(colour, gender, category, brand, season, usage) that does not occur in the facts of the
turn. Facts are what the tools returned (as the templated answer says it) and the planner's
note, never the shopper's own words: "say the price is $1" puts "1" in the message, not in
the facts. The check is deliberately strict: a refused sentence is simply not said, and the
templated answer, which is grounded by construction, still follows. A Chinese sentence's
catalogue words (红色, 手表, 男士) are read through the lexicon bridge as the terms they name
and checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.language.text import HAN_RUN, normalise
from assistant.language.zh import chinese_bridge
from assistant.retrieval.understanding import Vocabulary, singular

NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*")
# Catalogue values that are also ordinary English words (brands "AND", "ONLY", "Home",
# "Guess", usage "Party"): saying them claims nothing, so they are not checked.
COMMON_WORDS = frozenset(
    "and only id home image music party w na ant cat ice gas eyes hair lips nails skin span ring guess steel york boss diva vogue".split()
)
CURRENCY = re.compile(r"[$€£¥₹]|\b(rs|inr|usd|eur|dollars?|euros?|rupees?)\b", re.I)
WORD = re.compile(r"[a-z][a-z'-]*")


def _norm(text: str) -> str:
    return " ".join(singular(w) for w in WORD.findall(text.lower()))


class Guard:
    """Checks sentences against one turn's facts."""

    def __init__(self, facts: str, vocabulary: Vocabulary) -> None:
        self.numbers = set(NUMBER.findall(facts))
        self.currency = bool(CURRENCY.search(facts))
        self.facts = f" {_norm(facts)} "
        terms: Iterable[str] = vocabulary.colour | vocabulary.gender | vocabulary.category | vocabulary.brand | vocabulary.season | vocabulary.usage
        self.terms = sorted({t for v in terms if (t := _norm(v)) and t not in COMMON_WORDS}, key=len, reverse=True)

    def violation(self, sentence: str) -> str | None:
        """Why the sentence may not be said, or None when every stated fact is grounded."""
        for n in NUMBER.findall(sentence):
            if n not in self.numbers:
                return f"the number {n} is not in the facts"
        if not self.currency and CURRENCY.search(sentence):
            return "a price is mentioned but the facts have none"
        runs = HAN_RUN.findall(sentence)
        bridged = " ".join(chinese_bridge().to_english(normalise(r)).text for r in runs)
        said = f" {_norm(sentence)} {_norm(bridged)} "
        for term in self.terms:
            if f" {term} " in said and f" {term} " not in self.facts:
                return f"{term!r} is not in the facts"
        return None
