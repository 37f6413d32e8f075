"""Hearing the catalogue's words: a transcript corrected against the catalogue's vocabulary.

A general speech model hears shop words as the everyday words they sound like ("saree" →
"cherry", "sports shoes" → "spots shoes", "leather" → "never"), and a fixed list of shop words
in its prompt pulls other words towards that list ("check shirts" → "t-shirts"). Here the
catalogue's own vocabulary (article types, colours, usages, frequent brands: what ingest
found) does two things:

- the prompt Whisper is given lists the catalogue's most frequent terms, not a hand-made list;
- each word Whisper was unsure of (its word probability) and that names nothing in the
  catalogue is compared, alone and with its neighbours, to the catalogue's terms by sound
  (Metaphone keys) and by spelling; a close enough term replaces it, the alternatives are
  kept, and a word that is unsure and close to nothing is reported as doubtful, so the turn
  can ask back instead of searching on it.

Words Whisper was sure of are left as heard: a catalogue word is only substituted where the
recogniser itself doubted what it heard.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz.distance import Levenshtein

from assistant.errors import ModelError
from assistant.retrieval.understanding import ORDINARY_WORDS, STOPWORDS, Vocabulary, parse_query, singular

UNSURE = 0.55  # a word below this probability is open to correction
MIN_SCORE = 0.64  # how close (0-1, sound and spelling together) a term must be to replace it
# ... and where the words compared hold a catalogue word already ("random jacket" is not a
# "rain jacket"; "wet shirt" is a sweatshirt, 0.84).
MIN_SCORE_WITH_KNOWN = 0.70
SUGGEST_SCORE = 0.45  # an unsure word this close to a term is asked about ("did you mean sarees?")
PROMPT_TERMS = 25  # article types in Whisper's prompt: 60 made it invent endings ("That's it.", "you")
MAX_SPAN = 3  # words of a transcript compared with one term ("round hand man" → "brown handbag")
# Words that carry the request's shape, not its content: never replaced, never doubtful.
FRAME_WORDS = STOPWORDS | frozenset(
    "men women man woman mens womens boys girls kids her him his wife husband show shows add cart please "
    "under over below above cheap cheaper more less size new best good nice one two three first second third last "
    "what how much does do you your have has can could would long delivery return returns policy yes no not "
    "bring get give find want need looking look see buy tell pick which thing things basket range deal item items "
    "drop remove put pop rid pair sure made send switch accept payment methods reasoning fit scrap take review".split()
)


@dataclass(frozen=True)
class HeardWord:
    text: str
    probability: float  # Whisper's, 0-1


@dataclass(frozen=True)
class Correction:
    heard: str  # the words as transcribed
    term: str  # the catalogue term they were taken for
    score: float
    alternatives: tuple[str, ...]  # the next closest terms


@dataclass(frozen=True)
class Doubt:
    """An unsure word that names nothing in the catalogue, and what it may have been."""

    heard: str  # as transcribed
    term: str | None  # the closest catalogue term, when any is at least somewhat close
    query: str | None  # the transcript with `term` in its place: what to search for on a yes
    # The audio heard again (`assistant.voice.rehearing`) and Whisper's own score supports
    # `query`: searched at once, with a notice, rather than asked about.
    sure: bool = False
    # The kind the transcript named that `query` names in full ("rings" heard for earrings):
    # the search is heard again or asked about though the transcript names a kind.
    replaces: str | None = None


@dataclass(frozen=True)
class Hearing:
    text: str  # the transcript with its corrections
    corrections: tuple[Correction, ...] = ()
    doubtful: tuple[str, ...] = ()  # unsure content words that are close to no catalogue term
    doubt: Doubt | None = None  # the first of them, with its suggestion


# Sounds a recogniser confuses, by espeak-ng's phoneme names (stress and length marks dropped):
# a substitution within a group costs 0.4, between groups 1.
_LIKE_SOUNDS = [
    "s S tS z Z dZ", "f v T D", "i I e E @ 3 a0", "a A aI aU 0 O o oU o@ V", "u U", "m n N", "p b", "t d", "k g", "r l R",
]  # fmt: skip
_GROUP = {ph: n for n, group in enumerate(_LIKE_SOUNDS) for ph in group.split()}


def _phoneme_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Edit distance over phonemes, like sounds substituted cheaply; 0 (same) to 1."""
    if not a or not b:
        return 1.0
    prev = [float(j) for j in range(len(b) + 1)]
    for i, pa in enumerate(a, 1):
        cur = [float(i)]
        for j, pb in enumerate(b, 1):
            sub = 0.0 if pa == pb else 0.4 if _GROUP.get(pa, -1) == _GROUP.get(pb, -2) else 1.0
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub))
        prev = cur
    return prev[-1] / max(len(a), len(b))


def phonemes(texts: Sequence[str], binary: str = "espeak-ng") -> list[tuple[str, ...]]:
    """espeak-ng's phonemes of each text (letters only), one call for all: ("s", "a", "r", "i")."""
    clean = [" ".join(re.findall(r"[a-z]+", t.lower())) or "x" for t in texts]
    try:
        out = subprocess.run([binary, "-q", "-x", "--sep= "], input="\n".join(clean) + "\n", capture_output=True, text=True, timeout=30, check=True)
        lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
        if len(lines) != len(clean):  # espeak-ng split or joined a line: read each on its own
            return [_one(t, binary) for t in clean]
    except (OSError, subprocess.SubprocessError) as e:
        raise ModelError(f"hearing catalogue words needs {binary} (Debian package espeak-ng): {type(e).__name__}") from None
    return [_split(ln) for ln in lines]


def _split(line: str) -> tuple[str, ...]:
    return tuple(ph for raw in line.split() if (ph := re.sub(r"[',:_;!]", "", raw)))


@lru_cache(maxsize=4096)
def _one(text: str, binary: str) -> tuple[str, ...]:
    out = subprocess.run([binary, "-q", "-x", "--sep= "], input=text + "\n", capture_output=True, text=True, timeout=10, check=True)
    return _split(out.stdout)


def asks_back(doubt: Doubt | None, query: str, vocabulary: Vocabulary) -> bool:
    """Whether a spoken search is asked about rather than run as heard: it holds an unsure
    word and names no kind of product ("Looting for men" would show noise), or a reading heard
    again names in full a kind it named in part ("Go there, rings": earrings)."""
    return doubt is not None and (doubt.replaces is not None or not parse_query(query, vocabulary).filters.category)


def spoken_search(doubt: Doubt | None, query: str, vocabulary: Vocabulary) -> str | None:
    """What a spoken search runs on: the query itself where it is not asked about (`asks_back`),
    the re-heard reading where Whisper is sure of it, None where the shopper is asked. The one
    rule: the agent decides a spoken search by it (`Agent._turn`), the voice benchmarks count by it."""
    if not asks_back(doubt, query, vocabulary):
        return query
    assert doubt is not None  # asks_back holds only with a doubt
    return doubt.query if doubt.sure and doubt.query else None


def _key(text: str) -> str:
    return "".join(jellyfish.metaphone(w) for w in text.split())


def letters(text: str) -> str:
    """A word's letters in lower case, nothing else: "T-shirts." → "tshirts"."""
    return re.sub(r"[^a-z]", "", text.lower())


class CatalogueHearing:
    """The catalogue's terms, ready to be heard; built once from the index's vocabulary."""

    def __init__(self, vocabulary: Vocabulary, espeak: str = "espeak-ng") -> None:
        # Targets: what a shopper names and a recogniser mishears, the article types and colours.
        # Brands, usages and seasons are heard as they are ("seal" is not the brand Steel, "form"
        # not the usage Formal): on the dev set every brand substitution was a wrong one.
        kinds = vocabulary.article_type or vocabulary.category
        self.terms = sorted(t for t in kinds | vocabulary.colour if t and letters(t))
        forms = [(t, f) for t in self.terms for f in {t, singular(t)}]
        self.vocabulary = vocabulary
        self.espeak = espeak
        self.speaks = shutil.which(espeak) is not None  # else Metaphone keys: coarser, but no binary
        sounds = phonemes([f for _, f in forms], espeak) if self.speaks else [tuple(_key(f)) for _, f in forms]
        self._forms = [(t, f, letters(f), snd) for (t, f), snd in zip(forms, sounds, strict=True)]
        brands = {b for b in vocabulary.brand if b not in ORDINARY_WORDS and vocabulary.counts.get(b, 0) >= 5}
        known = vocabulary.category | vocabulary.colour | vocabulary.usage | vocabulary.season | vocabulary.gender | brands
        self.words = {f for t in known for w in t.split() for f in (letters(w), letters(singular(w)))}
        counts = vocabulary.counts
        self._prompt_terms = sorted(kinds, key=lambda t: (-counts.get(t, 0), t))[:PROMPT_TERMS]

    def prompt(self) -> str:
        """Whisper's prompt: the catalogue's most frequent article types, as a shopper's line."""
        return "Shopper: show me " + ", ".join(self._prompt_terms) + ". Add it to my cart."

    def closest(self, heard: str, n: int = 3, sound: tuple[str, ...] | None = None) -> list[tuple[str, float]]:
        """The catalogue terms closest to `heard` by sound and spelling, best first (0-1);
        `sound`: its phonemes where the caller has them already (`phonemes` reads many at once)."""
        if sound is None:
            sound = phonemes([heard], self.espeak)[0] if self.speaks else tuple(_key(heard))
        return self._closest(heard, sound, n)

    def _closest(self, heard: str, sound: tuple[str, ...], n: int) -> list[tuple[str, float]]:
        plain = letters(heard)
        best: dict[str, float] = {}
        for term, _, tletters, tsound in self._forms:
            score = 0.7 * (1 - _phoneme_distance(sound, tsound)) + 0.3 * Levenshtein.normalized_similarity(plain, tletters)
            best[term] = max(best.get(term, 0.0), score)
        return sorted(best.items(), key=lambda x: -x[1])[:n]

    def all_known(self, text: str) -> bool:
        """Whether every word of a transcript is a frame word or a catalogue word: nothing to correct."""
        return all(self._explained(w) for raw in text.split() if (w := letters(raw)))

    def _bar(self, span: Sequence[tuple[str, str, float]]) -> float:
        return MIN_SCORE_WITH_KNOWN if any(self._explained(t) for _, t, _ in span) else MIN_SCORE

    def _explained(self, word: str) -> bool:
        """A frame word or a word of some catalogue term: heard as it is."""
        return word in FRAME_WORDS or word in self.words or singular(word) in self.words

    def correct(self, words: Sequence[HeardWord]) -> Hearing:
        """The transcript with unsure words that name nothing replaced by the catalogue term they
        sound like; see the module's note."""
        # (as written, its letters in lower case, probability): "$50" and "t-shirts." keep their form.
        tokens = [(w.text.strip(), letters(w.text), w.probability) for w in words if w.text.strip()]
        out: list[str] = []
        corrections: list[Correction] = []
        doubtful: list[str] = []
        doubt_at: tuple[int, str, tuple[str, float] | None] | None = None
        i = 0
        while i < len(tokens):
            written, word, p = tokens[i]
            if p >= UNSURE or not word or self._explained(word):
                out.append(written)
                i += 1
                continue
            # An unsure word that names nothing: alone, and with the words after it that are not
            # frame words ("spots shoes", "round hand man"), against every term.
            spans = []
            for n in range(1, MAX_SPAN + 1):
                span = [t for _, t, _ in tokens[i : i + n]]
                if len(span) < n or not span[-1] or (n > 1 and span[-1] in FRAME_WORDS - {"man", "men"}):
                    break
                spans.append(" ".join(span))
            sounds = phonemes(spans, self.espeak) if self.speaks else [tuple(_key(x)) for x in spans]
            best: tuple[float, int, list[tuple[str, float]]] | None = None
            for n, (span_text, sound) in enumerate(zip(spans, sounds, strict=True), 1):
                found = self._closest(span_text, sound, 3)
                tail = "".join(t for _, t, _ in tokens[i + 1 : i + n])
                if n > 1 and letters(singular(found[0][0])) in (tail, letters(singular(tail))):
                    continue  # "got sunglasses" is not corrected to "sunglasses": the unsure word is not heard better so
                if found and (best is None or found[0][1] > best[0]):
                    best = (found[0][1], n, found)
            if best is not None and best[0] >= self._bar(tokens[i : i + best[1]]):
                score, n, found = best
                heard = " ".join(w for w, _, _ in tokens[i : i + n])
                corrections.append(Correction(heard, found[0][0], round(score, 3), tuple(t for t, _ in found[1:])))
                trailing = re.search(r"[.,!?]+$", tokens[i + n - 1][0])
                out.append(found[0][0] + (trailing.group(0) if trailing else ""))
                i += n
                continue
            doubtful.append(written)
            if doubt_at is None:
                doubt_at = (len(out), written, best[2][0] if best is not None and best[0] >= SUGGEST_SCORE else None)
            out.append(written)
            i += 1
        doubt = None
        if doubt_at is not None:
            at, heard, suggestion = doubt_at
            term = suggestion[0] if suggestion else None
            query = " ".join([*out[:at], term, *out[at + 1 :]]) if term else None
            doubt = Doubt(heard.strip(",.!?"), term, query)
        return Hearing(" ".join(out), tuple(corrections), tuple(doubtful), doubt)
