"""The Chinese bridge: a Chinese (or mixed) shopper message → the English words the
catalogue's understanding reads, with each Chinese phrase aligned to what it became.

    normalised message
      → price and exclusion phrasings rewritten ("300元以下" → "under 300", "不要耐克" → "not 耐克")
      → jieba segmentation, with the reviewed lexicon's words added to jieba's dictionary
      → each word: lexicon term → its English term; Latin words and numbers kept;
        function words (我, 想, 买, 的, 吗 ...) dropped; anything else kept as residue
      → `Bridged`: English text ("black heels women"), the alignments, the residue

The lexicon (`zh_lexicon.tsv`, reviewed by hand against the catalogue's values) names
catalogue terms in English, so the English understanding turns them into the same filters
as an English query would, against whatever catalogue is loaded. Does not own filters or
intents: it only translates words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from assistant.language.text import HAN_RUN

LEXICON_FILE = "zh_lexicon.tsv"
HEADS_FILE = "zh_heads.tsv"
# jieba's dictionary counts from general text: product compounds (石英表 3, 长裙 102, 工装裤 3)
# are rare there, everyday words that merely end in a head character (代表 32,777, 面包 884,
# 报表 294, 钟表 171) are not. Chosen on those words, listed in tests/test_language.py.
HEAD_MAX_FREQ = 150

# Words that carry no shopping meaning in a request ("我想买一件…的…吗").
FUNCTION_WORDS = frozenset(
    "我 我们 你 你们 想 想要 要 需要 买 购买 选 挑 一件 一双 一个 一条 一块 一顶 一副 一只 一款 一套 "
    "一些 一点 一下 件 双 个 条 块 顶 副 只 款 套 些 点 的 地 得 了 吗 呢 吧 啊 呀 嘛 哦 有 有没有 没有 "
    "请 请问 帮 帮我 给 给我 推荐 找 找找 看 看看 瞧瞧 想看 来 来点 什么 哪些 哪个 适合 穿 戴 用 和 与 "
    "或 或者 及 还有 再 能 可以 能不能 这 那 这个 那个 这些 那些 其他 别的 好 好看 漂亮 时尚 新款 类 "
    "种 样 样子 款式 风格 东西 商品 产品 是 在 就 也 都 很 非常 特别 最好 比较 更 给她 给他 送 送给 "
    "礼物 元 块钱 人民币 左右 价格 价位 多少钱 , 。 ! ? 、 ~ …".split()
)
_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"\s*(?:元|块钱|块|rmb|RMB|¥|\$|美元|刀)?\s*"
# Price phrasings → the English ones the understanding reads; the first that matches a span wins.
_PRICE_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"[¥$]?\s*{_NUM}{_UNIT}(?:到|至|-|~|—)\s*[¥$]?\s*{_NUM}{_UNIT}(?:之间|以内|之内)?"), r" between \1 and \2 "),
    (re.compile(rf"[¥$]?\s*{_NUM}{_UNIT}(?:以下|以内|之内|之下|内|以下的)"), r" under \1 "),
    (re.compile(rf"(?:不超过|不到|不高于|低于|少于|小于|便宜于|最多|最高|预算)\s*[¥$]?\s*{_NUM}{_UNIT}"), r" under \1 "),
    (re.compile(rf"[¥$]?\s*{_NUM}{_UNIT}(?:以上|之上)"), r" over \1 "),
    (re.compile(rf"(?:超过|高于|大于|多于|至少|最低|不低于)\s*[¥$]?\s*{_NUM}{_UNIT}"), r" over \1 "),
]
# "不要耐克", "除了黑色", "不是阿迪的": the next word is excluded (the understanding excludes brands).
_NEGATION = re.compile(r"(不要|不想要|别要|别(?![的人处家款样])|除了|除去|排除|不是|非|不含|不喜欢)")
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万]+(?=\s*(?:元|块|以下|以内|以上|到|至))")


def chinese_number(s: str) -> int:
    """ "三百五十" → 350, "两千" → 2000, "十五" → 15 (the numerals of prices)."""
    total, current = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            total += (current or 1) * unit
            current = 0
    return total + current


@dataclass(frozen=True)
class Alignment:
    """One Chinese phrase of the message and the English term it became."""

    zh: str
    en: str


@dataclass
class Bridged:
    """A message in the English the understanding reads."""

    text: str  # English terms, Latin words and numbers, in the message's order
    alignments: list[Alignment] = field(default_factory=list)
    residue: list[str] = field(default_factory=list)  # Chinese words the lexicon does not know

    def source_of(self, english_phrase: str) -> str | None:
        """The Chinese words an English phrase of `text` came from, if any."""
        words = [a.zh for a in self.alignments if a.en == english_phrase or english_phrase in a.en.split()]
        return "".join(dict.fromkeys(words)) or None


def load_lexicon(name: str = LEXICON_FILE) -> dict[str, str]:
    """The reviewed Chinese → English table (comment lines start with '#'); `HEADS_FILE`
    is read the same way."""
    text = resources.files("assistant.language").joinpath(name).read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        zh, sep, en = line.partition("\t")
        if not sep or not zh.strip() or not en.strip():
            raise ValueError(f"{name}:{n}: expected 'Chinese<TAB>English', got {line!r}")
        if zh in table:
            raise ValueError(f"{name}:{n}: {zh!r} is listed twice")
        table[zh.strip()] = en.strip()
    return table


class ChineseBridge:
    """Segments and translates Chinese shopper messages (build once; thread-safe to call)."""

    def __init__(self, lexicon: dict[str, str] | None = None, heads: dict[str, str] | None = None) -> None:
        import jieba  # imported here: its dictionary loads in about a second, only when needed

        jieba.setLogLevel(logging.WARNING)
        self.lexicon = lexicon if lexicon is not None else load_lexicon()
        self.heads = heads if heads is not None else load_lexicon(HEADS_FILE)
        self._tokenizer = jieba.Tokenizer()
        for word in self.lexicon:
            # A high frequency makes jieba keep the lexicon's words whole ("高跟鞋", "双肩包").
            self._tokenizer.add_word(word, freq=200_000)
        self._tokenizer.initialize()
        self._longest = max(map(len, self.lexicon))

    def segment(self, text: str) -> list[str]:
        return [t for t in self._tokenizer.lcut(text, HMM=False) if t.strip()]

    def _rewrite_structure(self, text: str) -> str:
        text = _CN_NUMBER.sub(lambda m: str(chinese_number(m.group(0))), text)
        for pattern, repl in _PRICE_REWRITES:
            text = pattern.sub(repl, text)
        return _NEGATION.sub(" not ", text)

    def _split_unknown(self, token: str) -> list[tuple[str, str | None]]:
        """A word the lexicon lacks, cut into the longest lexicon words of two or more
        characters it contains ("黑色牛仔" → 黑色, 牛仔); what is left, read by its head
        character where it ends in one ("休闲裤" → 休闲 + 裤 → casual trousers, "渔夫帽" →
        caps), else unknown."""
        out: list[tuple[str, str | None]] = []

        def flush(rest: str) -> None:
            if rest:
                # A run jieba's general dictionary knows well is a word of its own (代表,
                # 面包, 毛巾), not a product compound: its last character heads nothing.
                common = len(rest) > 1 and self._tokenizer.FREQ.get(rest, 0) >= HEAD_MAX_FREQ
                out.append((rest, None if common else self.heads.get(rest[-1])))

        i, rest = 0, ""
        while i < len(token):
            for n in range(min(self._longest, len(token) - i), 1, -1):
                piece = token[i : i + n]
                if piece in self.lexicon:
                    flush(rest)
                    rest = ""
                    out.append((piece, self.lexicon[piece]))
                    i += n
                    break
            else:
                rest += token[i]
                i += 1
        flush(rest)
        return out

    def to_english(self, text: str) -> Bridged:
        """The message's English reading (see the module docstring). `text` is normalised."""
        out: list[str] = []
        alignments: list[Alignment] = []
        residue: list[str] = []
        for token in self.segment(self._rewrite_structure(text)):
            if re.fullmatch(r"[A-Za-z0-9][\w.'&+-]*|[<>$%]", token, re.ASCII):
                out.append(token)
                continue
            if token in self.lexicon:
                pieces: list[tuple[str, str | None]] = [(token, self.lexicon[token])]
            elif token in FUNCTION_WORDS or not re.search(r"\w", token):
                continue
            else:
                pieces = self._split_unknown(token)
            for zh, en in pieces:
                if en is not None:
                    out.append(en)
                    alignments.append(Alignment(zh, en))
                elif zh not in FUNCTION_WORDS:
                    residue.append(zh)
        return Bridged(text=" ".join(out), alignments=alignments, residue=residue)


class Homophones:
    """Mends a speech transcript's Chinese against the lexicon by sound: a run of two to four
    characters that is no lexicon word but is pronounced (toneless pinyin) exactly like one
    becomes that word ("泡鞋" → 跑鞋, "饮色" → 银色). Speech recognisers write a sound with
    the wrong characters far more often than they miss the sound; typed text is left alone."""

    def __init__(self, lexicon: dict[str, str]) -> None:
        from pypinyin import lazy_pinyin  # loaded with the first Chinese transcript

        self._pinyin = lazy_pinyin
        by_sound: dict[tuple[str, ...], list[str]] = {}
        for word in lexicon:
            if 2 <= len(word) <= 4 and HAN_RUN.fullmatch(word):
                by_sound.setdefault(tuple(lazy_pinyin(word)), []).append(word)
        # A sound shared by words of different terms is evidence of neither.
        self._words = {sound: words[0] for sound, words in by_sound.items() if len({lexicon[w] for w in words}) == 1}
        self._lexicon = lexicon

    def mend(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The text with homophones replaced, and each replacement (heard → lexicon word)."""
        out: list[str] = []
        changes: list[tuple[str, str]] = []
        i = 0
        while i < len(text):
            for n in range(4, 1, -1):
                piece = text[i : i + n]
                if len(piece) < n or not HAN_RUN.fullmatch(piece):
                    continue
                word = piece if piece in self._lexicon else self._words.get(tuple(self._pinyin(piece)))
                if word is not None:
                    if word != piece:
                        changes.append((piece, word))
                    out.append(word)
                    i += n
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out), changes


@cache
def homophones() -> Homophones:
    """The process's homophone mender over the reviewed lexicon, built on first use."""
    return Homophones(load_lexicon())


@cache
def chinese_bridge() -> ChineseBridge:
    """The process's bridge, built on first use (jieba's dictionary takes about a second)."""
    return ChineseBridge()
