"""Speech to text with Whisper (faster-whisper, CTranslate2, int8 on the CPU).

Whisper base is multilingual. English and Chinese speech become the query as transcribed
(Chinese is understood by the assistant itself, through `assistant.language`, and Whisper's
Traditional characters are normalised to Simplified); speech in another language is
transcribed as spoken, for the shopper to see, and translated to English by Whisper itself
(`task="translate"`), which becomes the query. Silence and noise are caught by Silero VAD (shipped with faster-whisper)
before Whisper runs: Whisper given no speech invents text ("Thank you."), VAD does not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import ModelError, NoSpeech
from assistant.language.text import normalise
from assistant.language.zh import homophones
from assistant.retrieval.understanding import parse_query
from assistant.voice.audio import SAMPLE_RATE
from assistant.voice.hearing import CatalogueHearing, Correction, Doubt, HeardWord
from assistant.voice.rehearing import Reheard, Rehearing, extendable

# Words a shopper says that a general speech model mishears in robotic or accented speech;
# the prompt biases Whisper's decoder towards them (it is context, not a constraint). With a
# catalogue (`CatalogueHearing`) the prompt is the catalogue's own terms instead.
DEFAULT_PROMPT = (
    "Shopper: show me men's t-shirts, women's kurtas, jeans, sneakers, handbags, heels, sandals, "
    "watches, earrings, track pants, jerseys, lipstick, night suits. Add it to my cart."
)


log = logging.getLogger(__name__)

# Declared Mandarin gets only a sentence in Simplified characters (Whisper otherwise often
# writes Traditional): a list of shop words, tried like the English prompt, was echoed back
# as the transcript ("加入购物车。") or looped ("鞋、鞋、鞋…") on espeak-ng's Mandarin.
MANDARIN_PROMPT = "以下是普通话的句子。"
MAX_TOKENS = 96  # about 60 words
WINDOW_S = 30.0  # Whisper's input window


@dataclass(frozen=True)
class Transcript:
    text: str  # what was said, in the language it was said in
    language: str  # ISO 639-1 code Whisper detected or was told
    query: str  # the English text the turn runs on (the text itself for English)
    audio_seconds: float
    words: tuple[HeardWord, ...] = ()  # as Whisper heard them, with its word probabilities
    corrections: tuple[Correction, ...] = ()  # words taken for the catalogue terms they sound like
    doubtful: tuple[str, ...] = ()  # unsure words that sound like no catalogue term
    doubt: Doubt | None = None  # the first of them, with the term it may have been
    # A search naming no kind of product, or one a longer kind holds, heard again with the catalogue's terms.
    reheard: Reheard | None = None
    # Whisper's mean log-probability per token of its first reading of the audio (None where it
    # was not read); low for speech it could hardly make out (noise, a poor line).
    logprob: float | None = None


class Transcriber:
    """One loaded Whisper model; thread-safe (CTranslate2 queues concurrent calls)."""

    def __init__(
        self,
        model_dir: Path,
        threads: int = 2,
        prompt: str | None = DEFAULT_PROMPT,
        min_speech_s: float = 0.25,
        hearing: CatalogueHearing | None = None,
        rehear: bool = True,
    ) -> None:
        try:
            from assistant.voice.whisper_model import EncodingOnce
        except ImportError as e:  # pragma: no cover - a broken install
            raise ModelError(f"speech recognition needs faster-whisper: {e}") from None
        # A window is encoded once for the transcript's two reads (text, word probabilities).
        self.model = EncodingOnce(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self.hearing = hearing
        self.prompt = prompt
        self.rehearing = Rehearing(self.model, hearing, prompt) if hearing is not None and rehear else None
        self.min_speech_s = min_speech_s
        self._vad_lock = threading.Lock()  # Silero's ONNX session is shared; one caller at a time

    def speech_seconds(self, samples: np.ndarray) -> float:
        """Seconds of speech Silero VAD finds (0.0 for silence or noise)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        with self._vad_lock:
            spans = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=300, speech_pad_ms=100))
        return sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE

    def _run(
        self,
        samples: np.ndarray,
        language: str | None,
        task: str,
        on_text: Callable[[str], None] | None,
        words: list[HeardWord] | None = None,
        logprobs: list[float] | None = None,
    ) -> tuple[str, str]:
        """The text and the language; `words` (when given) receives each word with its probability,
        `logprobs` each segment's mean log-probability per token.

        Without timestamps Whisper reads each 30-second window whole, in one segment. With word
        timings it resumes after the last word it placed, inside the window it has just read, and
        on what is left it invents a segment ("you", "Thank you.", "That's it."): reading stops
        at the second segment of a window."""
        segments, info = self.model.transcribe(
            samples,
            language=language,
            task=task,
            beam_size=1,  # greedy: a shopper's question is short; beam search costs time, not accuracy here
            condition_on_previous_text=False,
            without_timestamps=True,
            # No temperature fallback and a short cap: a shopper's question is a sentence, and a
            # confused decode repeating itself must end quickly, not be retried five times.
            temperature=0.0,
            max_new_tokens=MAX_TOKENS,
            initial_prompt=self._prompt(language) if task == "transcribe" else None,
            word_timestamps=words is not None,
        )
        parts: list[str] = []
        windows_read: set[int] = set()
        for seg in segments:  # a generator: each segment is decoded when asked for
            window = int(seg.start // WINDOW_S)
            if window in windows_read:
                # Not read, and nothing after it decoded: an utterance is at most 30 s
                # (`AudioLimits`), one window, and decoding the invention would double the time.
                break
            windows_read.add(window)
            parts.append(seg.text.strip())
            if logprobs is not None:
                logprobs.append(float(seg.avg_logprob))
            if words is not None:
                words.extend(HeardWord(w.word, float(w.probability)) for w in seg.words or [])
            if on_text is not None:
                on_text(" ".join(parts))
            if (window + 1) * WINDOW_S * SAMPLE_RATE >= samples.size:
                # The clip's last window is read: asking for the next segment would encode and
                # decode the rest of this window again only to find the invention above.
                break
        return " ".join(p for p in parts if p), info.language

    def _rehear(self, samples: np.ndarray, heard: str, corrected: str) -> Reheard | None:
        """A transcript that still names no kind of product, or names one a longer kind's name
        holds ("rings": earrings), heard again (`assistant.voice.rehearing`)."""
        if self.rehearing is None or self.hearing is None:
            return None
        named = parse_query(corrected, self.hearing.vocabulary).filters.category
        if named and not extendable(named, self.hearing.vocabulary):
            return None  # "brown leather belt": no longer kind to have been heard in part
        try:
            return self.rehearing.hear(samples, [heard, corrected], MAX_TOKENS, named)
        except (RuntimeError, ValueError) as e:  # CTranslate2's errors: the corrected transcript is still an answer
            log.warning("transcript not heard again: %s: %s", type(e).__name__, e)
            return None

    def _prompt(self, language: str | None) -> str | None:
        """The shop-word prompt for a declared language (detection keeps the English one)."""
        if self.prompt is None:
            return None
        if (language or "en") == "en":
            return self.prompt
        return MANDARIN_PROMPT if language == "zh" else None

    def hypothesis(self, samples: np.ndarray, language: str | None) -> str:
        """A quick partial transcript of the audio so far (may be revised by the final one), read
        in a window cut short (`EncodingOnce.partial`)."""
        with self.model.partial():
            text, _ = self._run(samples, language or "en", "transcribe", None)
        return text

    def transcribe(self, samples: np.ndarray, language: str | None = None, on_text: Callable[[str], None] | None = None) -> Transcript:
        """The final transcript; `language=None` detects it. Raises NoSpeech for silence or noise."""
        seconds = samples.size / SAMPLE_RATE
        if self.speech_seconds(samples) < self.min_speech_s:
            raise NoSpeech(
                "no speech was heard in the audio (silence or noise); please try again", zh="音频里没有听到说话声（静音或噪音），请再试一次"
            )
        logprobs: list[float] = []
        text, lang = self._run(samples, language, "transcribe", on_text, logprobs=logprobs)
        logprob = round(float(np.mean(logprobs)), 3) if logprobs else None
        if not text:
            raise NoSpeech("the speech could not be made out; please try again", zh="没有听清您说的话，请再试一次")
        query = text
        if lang == "en" and self.hearing is not None and not self.hearing.all_known(text):
            # Word probabilities cost a second pass (Whisper's word alignment: about 0.5 s here),
            # so only a transcript with a word the catalogue does not know is read again with them.
            heard: list[HeardWord] = []
            text, _ = self._run(samples, "en", "transcribe", None, heard)
            try:
                hearing = self.hearing.correct(heard)
                reheard = self._rehear(samples, text, hearing.text)
            except ModelError as e:  # espeak-ng failed: the transcript as heard is still an answer
                log.warning("transcript not corrected against the catalogue: %s", e.message)
                return Transcript(text, lang, text, seconds, tuple(heard), logprob=logprob)
            doubt = hearing.doubt
            if reheard is not None:
                # The re-heard reading is offered, or searched where Whisper is sure of it; the agent
                # uses it only for a search (`Agent._ask_back`): "add it to my cart" is never rewritten.
                heard_as = doubt.heard if doubt is not None else text.strip(" .,!?")
                doubt = Doubt(heard_as, reheard.text.rstrip(".,!?"), reheard.text, sure=reheard.sure, replaces=reheard.replaces)
            return Transcript(text, lang, hearing.text, seconds, tuple(heard), hearing.corrections, hearing.doubtful, doubt, reheard, logprob)
        if lang == "zh":
            # The turn runs on the Chinese itself, with catalogue words written as they sound.
            query, _ = homophones().mend(normalise(text))
        elif lang != "en":
            query, _ = self._run(samples, lang, "translate", None)
        return Transcript(text=text, language=lang, query=query or text, audio_seconds=seconds, logprob=logprob)


def load_transcriber(models_dir: Path, threads: int = 2, hearing: CatalogueHearing | None = None) -> Transcriber:
    """The packaged Whisper; with `hearing`, English transcripts are corrected against the catalogue."""
    from assistant.voice.checkpoint import packaged_whisper

    prompt = hearing.prompt() if hearing is not None else DEFAULT_PROMPT
    return Transcriber(packaged_whisper(models_dir), threads=threads, prompt=prompt, hearing=hearing)
