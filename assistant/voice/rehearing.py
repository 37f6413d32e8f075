"""Hearing a spoken search again: the catalogue's terms put to Whisper's own ear.

When a spoken search's transcript names no kind of product even after the correction by
sound (`assistant.voice.hearing`: "Looting for men.", "Show me a cherry for women."), or names
one that is part of a longer kind's name, which the recogniser may have heard in part ("Go
there, rings." for gold earrings, "A thoughtful bag" for a duffel bag, "Up top bar." for a
laptop bag), the recogniser's first guess is not the only reading of the audio. Here the audio
is heard again:

1. Whisper's beam search gives its five best readings (greedy decoding gave one);
2. each reading's content words, alone and in runs of up to three, are replaced by the
   catalogue terms that sound closest to them ("looting" → jeans, "cherry" → saree);
3. of all these, the readings that name a kind of product are scored by Whisper itself: the
   log-probability of each text given the audio (its decoder forced through the text,
   `ctranslate2`'s alignment pass), so the acoustic evidence decides, not the spelling;
4. the best one wins, with a bonus per token (a catalogue word such as "saree" takes more
   tokens than the everyday word it was heard as, and a sum of log-probabilities penalises
   every token) and per filter it sets (a colour or gender heard is evidence too).

The winner is a suggestion, not a fact: where Whisper's mean log-probability per token is
below `SURE_LOGPROB` the assistant asks ("did you mean a green dupatta?") instead of searching
on it. Where the transcript named a kind, the winner counts only if its kind extends that one
(`extends`: "earrings" over "rings"); any other kind would replace a word Whisper heard with
one it did not (on the dev set, every such swap of a right transcript was to a wrong kind).
The weights and the bars were chosen on the dev voice set (`bench_hearing.py --set dev`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.retrieval.understanding import Vocabulary, parse_query, singular
from assistant.voice.hearing import FRAME_WORDS, CatalogueHearing, letters, phonemes

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

BEAM = 5  # readings from Whisper's beam search
TERMS_PER_SPAN = 3  # closest catalogue terms tried in place of each run of words
MAX_SPAN = 3
TOKEN_BONUS = 1.0  # nats per token of the text (dev: 0-1.5 tried)
FILTER_BONUS = 2.0  # nats per filter the text sets: kind, colour, gender, usage (dev: 0-2)
SURE_LOGPROB = -3.0  # mean log-probability per token at or above which the reading is searched
TAIL_FRAMES = 50  # encoder frames (1 s) kept after the speech when scoring
BATCH = 16  # texts scored in one decoder pass
SHORTLIST = 5  # readings scored again in the prompt's context (dev: 3-12 chose the same)
MIN_EXTENSION = 3  # letters a longer kind adds to one heard ("ring" → "earring"); fewer is a plural


@dataclass(frozen=True)
class Reheard:
    """The best reading of the audio that names a kind of product."""

    text: str  # the transcript as re-heard: "blue jeans for men."
    kind: str  # the kind of product it names
    logprob: float  # Whisper's mean log-probability per token of `text`, given the audio
    sure: bool  # logprob at or above SURE_LOGPROB: searched, not asked about
    alternatives: tuple[str, ...]  # the next best readings naming a kind
    # The kind the transcript named that this reading's kind extends ("ring" → "earrings"); None
    # where the transcript named none.
    replaces: str | None = None


@dataclass(frozen=True)
class Scored:
    """A reading that names a kind of product, scored by Whisper against the audio."""

    text: str
    logprob: float  # the sum over its tokens and its end, each given the audio and the ones before
    tokens: int
    kind: str  # the kind of product it names
    filters: int  # filters it sets: kind, colour, gender, usage


def extends(kind: str, named: str) -> bool:
    """Whether catalogue kind `kind` is a longer name holding `named`, a kind a transcript named:
    "earrings" over "ring", "duffel bag" over "bags", "laptop bag" over "tops"; not a plural."""
    short, long = letters(singular(named)), letters(singular(kind))
    return bool(short) and short in long and len(long) >= len(short) + MIN_EXTENSION


def extendable(named: Sequence[str], vocabulary: Vocabulary) -> list[str]:
    """Those of the kinds a transcript named that some catalogue kind extends (`extends`)."""
    kinds = vocabulary.article_type or vocabulary.category
    return [n for n in named if any(extends(k, n) for k in kinds)]


def readings(texts: Sequence[str], hearing: CatalogueHearing) -> list[str]:
    """Each text, and each with a run of its content words replaced by a catalogue term that
    sounds like it (both the term's forms: "sarees", "saree"), in order, without two readings
    of the same words (case and punctuation aside: Whisper's beam often differs only there)."""
    sources = list(dict.fromkeys(t for t in texts if t.strip()))
    places: list[tuple[int, int, int, str]] = []  # (text, first word, words, the run as plain words)
    for k, text in enumerate(sources):
        words = text.split()
        for i in range(len(words)):
            for n in range(1, MAX_SPAN + 1):
                plain = [letters(w) for w in words[i : i + n]]
                if len(plain) < n:
                    break
                if all(not w or w in FRAME_WORDS for w in plain):
                    continue  # "for women" carries the request's shape, not what was misheard
                if n > 1 and (plain[0] in FRAME_WORDS or plain[-1] in FRAME_WORDS):
                    continue
                places.append((k, i, n, " ".join(plain)))
    runs = list(dict.fromkeys(run for *_, run in places))  # the beam's readings share most runs: each is matched once
    sounds = phonemes(runs, hearing.espeak) if hearing.speaks and runs else [None] * len(runs)
    closest = {run: hearing.closest(run, TERMS_PER_SPAN, sound) for run, sound in zip(runs, sounds, strict=True)}
    out: dict[str, str] = {}  # plain words → the reading as written
    for text in sources:
        out.setdefault(_plain(text), text)
    for k, i, n, run in places:
        words = sources[k].split()
        last = words[i + n - 1]
        trailing = last[len(last.rstrip(".,!?")) :]  # "women." keeps its full stop
        for term, _ in closest[run]:
            for form in dict.fromkeys((term.lower(), singular(term).lower())):
                reading = " ".join([*words[:i], form + trailing, *words[i + n :]])
                out.setdefault(_plain(reading), reading)
    return list(out.values())


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9$]+", text.lower()))


def _rank(s: Scored) -> float:
    return -(s.logprob + TOKEN_BONUS * s.tokens + FILTER_BONUS * s.filters)


def choose(scored: Sequence[Scored]) -> Reheard | None:
    """The best reading by Whisper's score with the bonuses; None when nothing was scored."""
    if not scored:
        return None
    ranked = sorted(scored, key=_rank)
    best = ranked[0]
    mean = best.logprob / max(best.tokens, 1)
    return Reheard(best.text.strip(), best.kind, round(mean, 3), mean >= SURE_LOGPROB, tuple(s.text.strip() for s in ranked[1:4]))


class Rehearing:
    """Hears a clip again with the catalogue's terms; shares the transcriber's loaded Whisper."""

    def __init__(self, model: WhisperModel, hearing: CatalogueHearing, prompt: str | None) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.hearing = hearing
        self.tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
        tok = self.tokenizer
        # The prompt the transcript was decoded under: readings are scored in the same context.
        prompt_ids = [tok.sot_prev, *tok.encode(" " + prompt)] if prompt else []
        self.bare_start = [*tok.sot_sequence, tok.no_timestamps]
        self.start = [*prompt_ids, *self.bare_start]

    def hear(self, samples: np.ndarray, heard: Sequence[str], max_tokens: int, named: Sequence[str] = ()) -> Reheard | None:
        """The best reading of English speech `samples` (one 30 s window at most) that names a
        kind of product, from Whisper's beam and the catalogue's terms; `heard` are the
        transcripts already made of it (as heard, as corrected). With `named`, the kinds the
        transcript named, the best reading is kept only where its kind extends one of them."""
        features = self.model.feature_extractor(samples)[..., :3000]
        frames = features.shape[-1]
        # Whisper reads a whole 30 s window. This one keeps the feature extractor's last frame,
        # which the transcript's reads drop: read as they read it (one encoding for all three),
        # the beam changed for 6 of 160 dev queries, 2 fewer right, so it is encoded on its own.
        features = np.pad(features, ((0, 0), (0, 3000 - frames)))
        encoded = self.model.encode(features)
        beam = self.model.model.generate(encoded, [self.start], beam_size=BEAM, num_hypotheses=BEAM, max_length=max_tokens)[0]
        texts = readings([*heard, *(self.tokenizer.decode(ids).strip() for ids in beam.sequences_ids)], self.hearing)
        vocabulary = self.hearing.vocabulary
        naming: list[tuple[str, str, int]] = []
        for text in texts:
            filters = parse_query(text, vocabulary).filters
            if filters.category:
                count = sum(bool(f) for f in (filters.category, filters.colour, filters.gender, filters.usage))
                naming.append((text, sorted(filters.category)[0], count))
        if not naming:
            return None
        # The decoder attends to every encoder frame; the padding after the speech adds nothing
        # to tell readings apart but costs most of the time, so it is cut (ranking checked on dev).
        kept = min(1500, frames // 2 + TAIL_FRAMES)
        audio = np.ascontiguousarray(np.asarray(encoded)[:, :kept])
        # Scored twice: every reading after Whisper's bare start (short, so cheap), then the best
        # few in the prompt's context the transcript was decoded in (on dev, the same choice as
        # scoring every reading in context, at a fraction of the time).
        scored = self._score(audio, naming, self.bare_start)
        if self.start != self.bare_start:
            shortlist = sorted(scored, key=_rank)[:SHORTLIST]
            scored = self._score(audio, [(s.text, s.kind, s.filters) for s in shortlist], self.start)
        best = choose(scored)
        if best is None or not named:
            return best
        replaced = next((n for n in named if extends(best.kind, n)), None)
        return dataclasses.replace(best, replaces=replaced) if replaced else None

    def _score(self, audio: np.ndarray, naming: Sequence[tuple[str, str, int]], start: list[int]) -> list[Scored]:
        """Each (text, kind, filters) scored by Whisper's decoder forced through it, given the
        encoded audio (`[1, frames, width]`) and the start tokens."""
        import ctranslate2

        token_ids = [self.tokenizer.encode(" " + text) for text, _, _ in naming]
        scored: list[Scored] = []
        for b in range(0, len(naming), BATCH):
            chunk = token_ids[b : b + BATCH]
            batch = ctranslate2.StorageView.from_array(np.repeat(audio, len(chunk), axis=0))
            results = self.model.model.align(batch, start, chunk, [2 * audio.shape[1]] * len(chunk))
            for (text, kind, count), ids, result in zip(naming[b : b + BATCH], chunk, results, strict=True):
                # The probabilities of the text's tokens and of its end, each given the ones before.
                p = np.maximum(np.asarray(result.text_token_probs, dtype=np.float64), 1e-12)
                scored.append(Scored(text, float(np.log(p).sum()), len(ids), kind, count))
        return scored
