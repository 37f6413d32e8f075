"""Message normalisation and language detection.

    normalise: NFKC (full-width digits, letters and punctuation → ASCII: "１２３" → "123",
               "￥" → "¥"), Traditional → Simplified Chinese (OpenCC), emoji and other
               pictographs removed, white space folded
    detect_language: "zh" when the message has Chinese characters, "en" for Latin script
               that does not read as another European language, "other" otherwise

Detection is by script, not a model: a shopper's message is short, and the two languages
served have disjoint scripts. A Latin-script message counts as English unless most of its
function words belong to one of the common European languages this store does not serve.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Literal

Language = Literal["en", "zh"]
Detected = Literal["en", "zh", "other"]

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")  # a run of Chinese characters
# Kana and Hangul: Japanese or Korean, even when written with Han characters too.
KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
LATIN = re.compile(r"[A-Za-z]")
# Letters of scripts neither served language uses (Cyrillic, Greek, Arabic, Hebrew, Devanagari,
# Thai, ...): any alphabetic character outside Latin and Han.
# Pictographs, dingbats, variation selectors and joiners: emoji carry no shopping words.
EMOJI = re.compile("[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\u2300-\u23ff\u2b00-\u2bff\ufe0e\ufe0f\u200d\u20e3]")
# Function words that mark a Latin-script message as French, Spanish, German, Italian or
# Portuguese (none of which is an English word a shopper would write).
FOREIGN_FUNCTION_WORDS = frozenset(
    "je tu il elle nous vous ils le la les des du une est et pour avec sans cherche voudrais "
    "yo el los las una unos unas por con quiero busco necesito para "
    "ich du er sie wir ihr der die das ein eine und mit ohne für suche möchte brauche nicht "
    "io lui lei noi voi gli della cerco vorrei "
    "eu ele ela nós vocês um uma os com sem procuro quero preciso".split()
)


@cache
def _t2s():  # type: ignore[no-untyped-def]
    import opencc  # loaded on first use: no converter is built at import time

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """The message as the understanding reads it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = EMOJI.sub(" ", text)
    if HAN.search(text):
        text = _t2s().convert(text)
    return " ".join(text.split())


def detect_language(text: str) -> Detected:
    """Which language a (normalised) message is in."""
    if KANA_HANGUL.search(text):
        return "other"
    if HAN.search(text):
        return "zh"
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"  # digits, punctuation, ids: nothing says it is not English
    latin = sum(1 for c in letters if LATIN.match(c) or unicodedata.name(c, "").startswith("LATIN"))
    if latin < len(letters) / 2:
        return "other"
    words = re.findall(r"[^\W\d_]+", text.lower())
    foreign = len(set(words) & FOREIGN_FUNCTION_WORDS)
    # "la", "die", "des" occur in English shop words too: it takes two different ones, a
    # third of the short words, before a Latin message is taken as another language.
    short = [w for w in words if len(w) <= 7]
    if foreign >= 2 and foreign >= len(short) / 3:
        return "other"
    return "en"


def answer_language(text: str | None) -> Language:
    """The language to answer a raw message in, before it is planned: Chinese for a Chinese
    message, English otherwise (another language is told, in English, that it is not read)."""
    return "zh" if text and detect_language(normalise(text)) == "zh" else "en"
