"""Text to speech with espeak-ng, and what of an answer is worth saying aloud.

espeak-ng (Debian's package) is a real, small, fast formant synthesiser: about 20x faster
than real time on one core, so an answer's first clause is audible a few hundred
milliseconds after its text. Answers are spoken clause by clause as their text streams in,
and only up to a budget: a list of ten products with ids reads well and sounds endless.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from assistant.errors import ModelError

SAMPLE_RATE = 22_050  # espeak-ng's native rate; sent with every audio chunk

# What a reader skims and a listener should not hear: ids, sources, markup.
_UNSPOKEN = [
    (re.compile(r"\((?:id|source)[^)]*\)", re.I), ""),
    (re.compile(r"https?://\S+"), ""),
    (re.compile(r"[*_#`>|]+"), " "),
    (re.compile(r"\s+"), " "),
]
# A clause ends at . ! ? ; or : and a space, but not after a list number ("1. ") or inside "3.5".
_CLAUSE_END = re.compile(r"(?<=[^\d\s][.!?;:])\s+")


def speakable(text: str) -> str:
    for pattern, repl in _UNSPOKEN:
        text = pattern.sub(repl, text)
    return text.strip()


class Speaker:
    """espeak-ng as a subprocess per clause (text on stdin: never parsed as options)."""

    def __init__(self, voice: str = "en-us", words_per_minute: int = 165, binary: str = "espeak-ng", timeout_s: float = 10.0) -> None:
        path = shutil.which(binary)
        if path is None:
            raise ModelError(f"spoken answers need {binary} (Debian package espeak-ng); install it or turn voice output off")
        self.cmd = [path, "-v", voice, "-s", str(words_per_minute), "--stdout"]
        self.timeout_s = timeout_s

    def synthesize(self, text: str) -> bytes:
        """PCM16 little-endian mono samples at SAMPLE_RATE."""
        try:
            out = subprocess.run(self.cmd, input=text.encode(), capture_output=True, timeout=self.timeout_s, check=True).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise ModelError(f"espeak-ng failed: {type(e).__name__}") from None
        return _wav_samples(out)


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
