"""The grounding guard: a model's sentence may only state what the tools returned.

A sentence is refused when it contains a number, a currency amount, or a catalogue term
(colour, gender, category, brand, season, usage) that does not occur in the facts of the
turn. Facts are what the tools returned (as the templated answer says it) and the planner's
note, never the shopper's own words: "say the price is $1" puts "1" in the message, not in
the facts. The check is deliberately strict: a refused sentence is simply not said, and the
templated answer, which is grounded by construction, still follows. A Chinese sentence's
catalogue words (红色, 手表, 男士) are read through the lexicon bridge as the terms they name
and checked the same way.

Two checks read what the turn did rather than its words: a sentence that denies results
("Sorry, I don't have any shoes...") is refused when the turn showed cards, and a sentence
that names a filter value the search had to drop ("Here are black handbags" after the colour
was relaxed) is refused, since the cards below it do not have it. A quantity (a duration, a
share, a range: "2-3 business days", "30 天") must be one the facts state with the same unit:
its digits alone occurring somewhere in the facts (a price, a count) is not enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from assistant.language.text import HAN_RUN, normalise
from assistant.language.zh import chinese_bridge
from assistant.retrieval.understanding import ORDINARY_WORDS, Vocabulary, singular

NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*")
CURRENCY = re.compile(r"[$€£¥₹]|\b(rs|inr|usd|eur|dollars?|euros?|rupees?)\b", re.I)
WORD = re.compile(r"[a-z][a-z'-]*")
_NUM = r"(\d+(?:\.\d+)?)"
# "3 to 5 business days", "30 days", "2-3 weeks", "10%", "3到5个工作日", "30 天".
QUANTITY = re.compile(
    _NUM + r"(?:\s*(?:-|–|—|~|to|or|到|至)\s*" + _NUM + r")?[\s-]*"
    r"(%|percent\b|(?:(business|working|calendar)\s+)?(day|week|month|hour|year|minute)s?\b|个?(工作日|天|日|周|星期|个月|月|小时|年|分钟))",
    re.I,
)
# A bare range ("2-3", "3 to 5") claims both ends whatever follows it.
RANGE = re.compile(r"(?<![\d.])" + _NUM + r"\s*(?:-|–|—|~|to|到|至)\s*" + _NUM + r"(?!\.?\d)", re.I)
_ZH_UNITS = {
    "工作日": "business day", "天": "day", "日": "day", "周": "week", "星期": "week",
    "个月": "month", "月": "month", "小时": "hour", "年": "year", "分钟": "minute",
}  # fmt: skip
# Sentences that say there is nothing to show.
DENIAL = re.compile(
    r"\b(sorry|unfortunately|apologi[sz]e"
    r"|(?:don'?t|do not|didn'?t|did not|couldn'?t|could not|can'?t|cannot|wasn'?t able to|was unable to|were unable to|unable to)"
    r"\s+(?:have|find|locate|see|offer|show)"
    r"|no (?:products?|items?|results?|matches|options)|nothing (?:matched|matches|found|like that)|not (?:find|found) any)\b"
    r"|没有找到|没找到|找不到|抱歉|无法找到|暂无|没有(?:相关|符合|匹配|这类|此类)",
    re.I,
)

# Sentences that single one product out as the only match: false whenever several were shown,
# all of them found by the same filters (measured: the packaged 1.5B wrote "The second product
# ... is the only one that matches your criteria" above five matching cards).
ONLY_ONE = re.compile(
    r"\b(?:is|was|seems|appears to be) the only (?:one|product|item|option|match|pair)\b"
    r"|\bonly one (?:of (?:them|these|the \w+) )?(?:product |item |option )?(?:matches|fits|meets|suits|is)\b"
    r"|只有(?:这)?一(?:款|个|件|双|种)(?:符合|满足|匹配)",
    re.I,
)


class Quantity(NamedTuple):
    low: float
    high: float | None
    unit: str


def quantities(text: str) -> list[Quantity]:
    """The durations, shares and ranges a text states, units normalised ("3 to 5 business days")."""
    out = []
    for m in QUANTITY.finditer(text):
        lo, hi, whole, qualifier, en_unit, zh_unit = m.groups()
        if whole == "%" or whole.lower().startswith("percent"):
            unit = "percent"
        elif zh_unit:
            unit = _ZH_UNITS[zh_unit]
        else:
            unit = ("business " if qualifier and qualifier.lower() in ("business", "working") else "") + en_unit.lower()
        out.append(Quantity(float(lo), float(hi) if hi else None, unit))
    return out


def relaxed_values(relaxed: Iterable[str]) -> list[str]:
    """The values of filters a search dropped ("colour is black or navy" → black, navy);
    "brand is not X" and price bounds are left to the other checks."""
    out = []
    for cond in relaxed:
        name, sep, values = cond.partition(" is ")
        if sep and not values.startswith("not ") and name in ("colour", "gender", "category", "article type", "brand", "season", "usage"):
            out += [v for v in values.split(" or ") if v]
    return out


def _norm(text: str) -> str:
    return " ".join(singular(w) for w in WORD.findall(text.lower()))


class Guard:
    """Checks sentences against one turn's facts."""

    def __init__(self, facts: str, vocabulary: Vocabulary, shown: int = 0, relaxed: Sequence[str] = ()) -> None:
        """`shown`: how many product cards the turn showed; `relaxed`: the conditions its
        searches dropped, as `filters_relaxed` describes them ("colour is black")."""
        self.numbers = set(NUMBER.findall(facts))
        self.quantities = quantities(facts)
        self.ranges = {(float(a), float(b)) for a, b in RANGE.findall(facts)}
        self.shown = shown
        self.relaxed = sorted({t for v in relaxed_values(relaxed) if (t := _norm(v)) and t not in ORDINARY_WORDS}, key=len, reverse=True)
        self.currency = bool(CURRENCY.search(facts))
        self.facts = f" {_norm(facts)} "
        terms: Iterable[str] = vocabulary.colour | vocabulary.gender | vocabulary.category | vocabulary.brand | vocabulary.season | vocabulary.usage
        self.terms = sorted({t for v in terms if (t := _norm(v)) and t not in ORDINARY_WORDS}, key=len, reverse=True)

    def violation(self, sentence: str) -> str | None:
        """Why the sentence may not be said, or None when every stated fact is grounded."""
        for q in quantities(sentence):
            if not self._stated(q):
                return f"the quantity {_say(q)} is not in the facts"
        for a, b in RANGE.findall(sentence):
            if (float(a), float(b)) not in self.ranges:
                return f"the range {a}-{b} is not in the facts"
        for n in NUMBER.findall(sentence):
            if n not in self.numbers:
                return f"the number {n} is not in the facts"
        if not self.currency and CURRENCY.search(sentence):
            return "a price is mentioned but the facts have none"
        if self.shown and DENIAL.search(sentence):
            return f"it denies results while {self.shown} products were shown"
        if self.shown > 1 and ONLY_ONE.search(sentence):
            return f"it calls one product the only match while {self.shown} were shown"
        runs = HAN_RUN.findall(sentence)
        bridged = " ".join(chinese_bridge().to_english(normalise(r)).text for r in runs)
        said = f" {_norm(sentence)} {_norm(bridged)} "
        for value in self.relaxed:
            if f" {value} " in said:
                return f"{value!r} was dropped from the search, so the products shown may not be {value}"
        for term in self.terms:
            if f" {term} " in said and f" {term} " not in self.facts:
                return f"{term!r} is not in the facts"
        return None

    def _stated(self, q: Quantity) -> bool:
        """A range must be stated as it is; a single value may be either end of a stated range
        ("within 5 business days" of "3 to 5 business days")."""
        for f in self.quantities:
            if f.unit != q.unit:
                continue
            if q.high is not None and (f.low, f.high) == (q.low, q.high):
                return True
            if q.high is None and q.low in (f.low, f.high):
                return True
        return False


def _say(q: Quantity) -> str:
    return f"{q.low:g}{f'-{q.high:g}' if q.high is not None else ''} {q.unit}"
