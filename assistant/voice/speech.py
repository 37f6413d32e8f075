"""Text to speech with espeak-ng, and what of an answer is worth saying aloud.

espeak-ng (Debian's package) is a real, small, fast formant synthesiser: about 20x faster
than real time on one core, so an answer's first clause is audible a few hundred
milliseconds after its text. Answers are spoken clause by clause as their text streams in,
and only up to a budget: a list of ten products with ids reads well and sounds endless.
Chinese runs of a clause are spoken by espeak-ng's Mandarin voice from their pinyin with
tone numbers (pypinyin; espeak-ng reads Han characters themselves poorly), the rest of the
clause (product names, numbers) by the English voice, and the pieces joined.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from assistant.errors import ModelError

SAMPLE_RATE = 22_050  # espeak-ng's native rate; sent with every audio chunk
MANDARIN_VOICE = "cmn-latn-pinyin"  # espeak-ng's Mandarin, reading pinyin with tone numbers
# Chinese characters with their punctuation: the part of a clause the Mandarin voice says.
_CHINESE_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff，。！？；：、（）“”]+)")

# What a reader skims and a listener should not hear: ids, sources, markup.
_UNSPOKEN = [
    (re.compile(r"\((?:id|source)[^)]*\)", re.I), ""),
    (re.compile(r"https?://\S+"), ""),
    (re.compile(r"[*_#`>|]+"), " "),
    (re.compile(r"\s+"), " "),
]
# A clause ends at . ! ? ; or : and a space, but not after a list number ("1. ") or inside "3.5".
# Chinese clause punctuation (。！？；：) ends a clause with or without a space after it.
_CLAUSE_END = re.compile(r"(?<=[^\d\s][.!?;:])\s+|(?<=[。！？；：])\s*")


def speakable(text: str) -> str:
    for pattern, repl in _UNSPOKEN:
        text = pattern.sub(repl, text)
    return text.strip()


class Speaker:
    """espeak-ng as a subprocess per clause (text on stdin: never parsed as options)."""

    def __init__(
        self, voice: str = "en-us", words_per_minute: int = 165, binary: str = "espeak-ng", timeout_s: float = 10.0,
        mandarin_voice: str = MANDARIN_VOICE,
    ) -> None:  # fmt: skip
        path = shutil.which(binary)
        if path is None:
            raise ModelError(f"spoken answers need {binary} (Debian package espeak-ng); install it or turn voice output off")
        self.cmd = [path, "-v", voice, "-s", str(words_per_minute), "--stdout"]
        self.mandarin_cmd = [path, "-v", mandarin_voice, "-s", str(words_per_minute), "--stdout"]
        self.timeout_s = timeout_s

    def synthesize(self, text: str) -> bytes:
        """PCM16 little-endian mono samples at SAMPLE_RATE."""
        if not _CHINESE_RUN.search(text):
            return self._run(self.cmd, text)
        pieces = []
        for run in _CHINESE_RUN.split(text):  # Chinese runs at odd positions
            if not run.strip():
                continue
            if _CHINESE_RUN.fullmatch(run):
                pieces.append(self._run(self.mandarin_cmd, pinyin(run)))
            elif re.search(r"\w", run):
                pieces.append(self._run(self.cmd, run))
        return b"".join(pieces)

    def _run(self, cmd: list[str], text: str) -> bytes:
        try:
            out = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=self.timeout_s, check=True).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise ModelError(f"espeak-ng failed: {type(e).__name__}") from None
        return _wav_samples(out)


def pinyin(text: str) -> str:
    """ "我想买" → "wo3 xiang3 mai3": what espeak-ng's Mandarin pinyin voice reads."""
    from pypinyin import Style, lazy_pinyin  # loaded on first Chinese answer

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


def _wav_samples(wav: bytes) -> bytes:
    # espeak-ng streams its WAV with placeholder sizes, so read the chunks by hand rather
    # than trust the header's lengths as the `wave` module does.
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ModelError("espeak-ng did not produce WAV audio")
    pos = 12
    while pos + 8 <= len(wav):
        cid, size = wav[pos : pos + 4], int.from_bytes(wav[pos + 4 : pos + 8], "little")
        if cid == b"data":
            data = wav[pos + 8 :]
            return data[: len(data) - len(data) % 2]
        pos += 8 + size
    raise ModelError("espeak-ng's WAV has no data chunk")


@dataclass
class SpokenAnswer:
    """Cuts an answer's streamed text into clauses to speak, within a character budget."""

    budget_chars: int = 320
    _pending: str = ""
    _spoken_chars: int = 0

    def feed(self, delta: str) -> list[str]:
        """Complete clauses ready to speak after this piece of text."""
        self._pending += delta
        parts = _CLAUSE_END.split(self._pending)
        self._pending = parts.pop()  # the unfinished clause waits for more text
        return self._take(parts)

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, ""
        return self._take([rest])

    def _take(self, clauses: list[str]) -> list[str]:
        out = []
        for clause in clauses:
            said = speakable(clause)
            if not said or self._spoken_chars >= self.budget_chars:
                continue
            self._spoken_chars += len(said)
            out.append(said)
        return out
