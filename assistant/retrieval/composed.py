"""A photo with words ("like this but in red", "same but for her", "this in leather"): the
answers keep what the photo shows, except what the words change.

A fused photo + words vector (early or attention) finds products near both, but nothing in a
single vector says which of the photo's traits the words meant to keep. A shopper who sends
a man's black cap and says "same but for her" wants women's caps, still black; "this in
leather" wants this kind of product, for the same wearer, with leather in its name. So the
fused list is re-ranked in tiers, each a trait the answers should share, in this order:
1. the photo's kind (article type), read from its nearest neighbours and the fused list's head;
2. the added words that the understanding did not turn into a filter ("leather", "hooded"),
   named in the product's name;
3. the photo's gender, unless the words set one (unisex products fit any);
4. the photo's colour, unless the words set one;
and within a tier the fused order stands (where the fused list holds less than a page of the
photo's kind, `retrieval.search` fills the kind's tier from the same lists searched within it).
Every hit a tier favours says so in its sources (`photo_kind`, `asked_words`, `photo_gender`,
`photo_colour`). Chosen on the composed dev set (`benchmarks/bench_composed.py --set dev`).

Owns the reading of a photo's traits and the tiers; not the lists (`retrieval.search`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assistant.index.schema import key
from assistant.retrieval import fusion as fz
from assistant.retrieval.understanding import STOPWORDS, singular

Trait = Literal["kind", "words", "gender", "colour"]
TRAITS: tuple[Trait, ...] = ("kind", "words", "gender", "colour")
# The payload field each trait is read from (normalised, `index.schema.key`).
FIELDS: Mapping[str, str] = {"kind": "article_type_key", "gender": "gender_key", "colour": "colour_key"}
# Words that say how to change the photo, not what to find ("something like this, same style,
# but the other one please"): never a product's word.
COMPOSING_WORDS = frozenset(
    "same similar style styled one ones version kind type sort but instead just also too exactly rather else other "
    "wear worn do you have has got can could would will there here same-style similar-looking".split()
)
ASKED_WORDS = "asked_words"  # the source under which a hit's named words are explained
UNISEX = "unisex"


@dataclass(frozen=True)
class PhotoReading:
    """What a photo shows, as its neighbours vote (1/rank): each trait's value (normalised like
    the index's `_key` fields) and its share of the vote."""

    kind: str | None = None
    gender: str | None = None
    colour: str | None = None
    shares: Mapping[str, float] | None = None

    def value(self, trait: str) -> str | None:
        return getattr(self, trait) if trait in FIELDS else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def read_photo(
    neighbours: Sequence[Mapping[str, Any]],
    fused_head: Sequence[Mapping[str, Any]],
    *,
    depth: int = 10,
    fused_weight: float = 0.5,
    colour_depth: int = 5,
    colour_read: Mapping[str, float] | None = None,
    colour_read_weight: float = 0.0,
) -> PhotoReading:
    """The photo's kind, gender and colour from the payloads of its own nearest neighbours
    (the photo searched alone) and, for the kind, also the fused list's head at `fused_weight`:
    the words can tell a shirt from a kurta the photo alone leaves open. Colour is read closer
    in (`colour_depth`): far neighbours share the kind, less often the colour. `colour_read`
    (colour name → probability, `clip.colour_reader`) joins the neighbours' colour shares at
    `colour_read_weight` (the shares at 1 - that)."""
    values: dict[str, str | None] = {}
    shares: dict[str, float] = {}
    for trait, field in FIELDS.items():
        tally = fz.rank_tally([_text(p.get(field)) for p in neighbours[: colour_depth if trait == "colour" else depth]])
        if trait == "kind":
            fz.rank_tally([_text(p.get(field)) for p in fused_head[:depth]], fused_weight, into=tally)
        total = sum(tally.values())
        if trait == "colour" and colour_read and colour_read_weight > 0:
            mixed = {v: (1 - colour_read_weight) * t / total for v, t in tally.items()} if total > 0 else {}
            for name, p in colour_read.items():
                mixed[key(name)] = mixed.get(key(name), 0.0) + colour_read_weight * p
            tally, total = mixed, sum(mixed.values())
        if total <= 0:
            values[trait] = None
            continue
        best = max(sorted(tally), key=lambda v: tally[v])  # ties by name: the same answer every run
        values[trait], shares[trait] = best, tally[best] / total
    return PhotoReading(values["kind"], values["gender"], values["colour"], shares)


def asked_words(text: str, matched_phrases: Sequence[str]) -> list[str]:
    """The words of a photo's message that ask for something the filters do not hold:
    "this in leather" → ["leather"]; "like this but in red" (red became a filter) → []."""
    said = {singular(t) for p in matched_phrases for t in _tokens(p)}
    out: list[str] = []
    for t in _tokens(text):
        if t in STOPWORDS or t in COMPOSING_WORDS:
            continue
        w = singular(t)
        if len(w) > 2 and not w.isdigit() and w not in COMPOSING_WORDS and w not in said and w not in out:
            out.append(w)
    return out


def _tokens(text: str) -> list[str]:
    return [t for t in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


def named(name: str, words: Sequence[str]) -> int:
    """How many of `words` a product's name holds (plurals folded)."""
    have = {singular(t) for t in _tokens(name)}
    return sum(w in have for w in words)


def keep_photo(
    fused: Sequence[fz.Fused],
    payloads: Mapping[str, Mapping[str, Any]],
    reading: PhotoReading,
    said: set[str],
    words: Sequence[str],
    traits: Sequence[Trait] = TRAITS,
) -> list[fz.Fused]:
    """`fused` re-ranked by the tiers of `traits` (module doc); a trait in `said` (the words
    set it as a filter) or not read from the photo is skipped. Stable within a tier."""
    active: list[Trait] = [t for t in traits if t not in said and (reading.value(t) if t in FIELDS else words)]
    if not active:
        return list(fused)
    shares = reading.shares or {}

    def fits(trait: Trait, payload: Mapping[str, Any]) -> float:
        if trait == "words":
            return named(str(payload.get("name") or ""), words)
        have, want = payload.get(FIELDS[trait]), reading.value(trait)
        if trait == "gender":
            return float(have == want or have == UNISEX or want == UNISEX)
        return float(have == want)

    scored = []
    for order, f in enumerate(fused):
        p = payloads[f.id]
        marks = [fits(t, p) for t in active]
        sources = dict(f.sources)
        for t, m in zip(active, marks, strict=True):
            if m > 0:  # explained as (place, share) like a vote; words as (how many, how many)
                sources[ASKED_WORDS if t == "words" else fz.vote_source(t)] = (int(m), m) if t == "words" else (1, shares.get(t, 1.0))
        scored.append(([-m for m in marks], order, fz.Fused(f.id, f.score, sources)))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [f for _, _, f in scored]
