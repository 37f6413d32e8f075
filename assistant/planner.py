"""The deterministic planner: a shopper's message + session → a typed `Plan`.

Decides what a turn is about (intent) and which shown products it refers to ("the second
one", "the first two", "that watch", "it"), without any model, so that a small or absent
LLM never decides correctness. Owns the phrase tables for intents and references. Does not
own search filters (`retrieval.understanding`) nor carrying the plan out (the agent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant import planner_zh as zh
from assistant.errors import QueryError
from assistant.intents import ExemplarIntents, IntentsByLanguage
from assistant.language.text import Language, detect_language, normalise
from assistant.language.zh import chinese_bridge
from assistant.messages import say
from assistant.references import picked, step_from
from assistant.retrieval.understanding import Vocabulary, parse_query, singular

MAX_MESSAGE_CHARS = 2000

Intent = Literal[
    "search", "refine", "more", "details", "compare", "similar", "why",
    "add_to_cart", "view_cart", "remove_from_cart", "confirm", "deny",
    "policy", "like", "dislike", "greeting", "unsupported_language", "back", "which",
]  # fmt: skip


@dataclass(frozen=True)
class ShownProduct:
    """A product the shopper has seen, as references need it."""

    id: str
    name: str
    category: str | None = None
    colour: str | None = None


@dataclass
class Plan:
    intent: Intent
    text: str | None = None  # the words to search or answer with
    product_ids: list[str] = field(default_factory=list)  # resolved references, in order
    problem: str | None = None  # a reference that cannot be resolved, said to the shopper
    language: Language = "en"  # the language the shopper wrote in, and the answer's
    show_others: bool = False  # a dislike that also asks for something else ("too flashy, something subtler")
    goes_with: str | None = None  # a search for things to wear with this product ("shirts to go with it")


ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7, "ninth": 8, "9th": 8, "tenth": 9, "10th": 9,
}  # fmt: skip
# Any numbered position ("the 30th one"), so a reference past the shown list is answered
# with how many were shown, not read as a search for "30th".
ORDINAL_WORDS = "|".join(ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th)"
COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "2": 2, "3": 3, "4": 4, "5": 5}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_TOP_POSITION = re.compile(
    r"\bthe\s+top\s+(?:(two|three|four|five|[2-5])(?:\s+(?:result|one|item|pick|match|hit)s?)?|(?:result|one|item|pick|match|hit)s?)\b", re.I
)
_NUMBER_WORD = re.compile(r"\b(number|item|product|no\.)\s+(" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_POLITE = r"([\s,!.]*(thanks|thank you|please))?[\s!.]*$"
_YES_WORDS = (
    r"(yes|yeah|yep|yup|sure|ok(ay)?|please do|do it|go ahead|go for it|go on|confirm(ed)?|absolutely|definitely|y|alright|all right"
    r"|fine|of course|why not|let'?s do it|great|perfect|correct|right|that'?s right|sounds (good|great)|that works|works for me|deal)"
)
# A yes-word, then at most a few more words ("sure, go ahead", "sure thing", "yes please add
# it"); a no-word anywhere makes it no answer to the confirmation ("yes, but not that one").
YES = re.compile(rf"^\s*{_YES_WORDS}\b(?!.*\b(no|not|don'?t|cancel)\b)[\w\s,!.']{{0,24}}$", re.I)
# Not now is a no too ("maybe later", "I'll think about it"): the cart stays as it is either way.
NO = re.compile(
    r"^\s*(no|nope|nah|cancel|don'?t|do not|never ?mind|n|not (now|yet|today)|maybe later|later|hold off|skip it|don'?t (add|do) (it|that)"
    r"|i'?ll think( about it)?|let me think( about it)?)\b" + _POLITE,
    re.I,
)
GREETING = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you|bye"
    r"|(are you|is anyone|anyone|anybody|someone) (there|here|around))\b"
    r"[\s!.,?]*$",
    re.I,
)

# (intent, pattern): the first that matches wins, so specific phrasings come first.
INTENT_PATTERNS: list[tuple[Intent, re.Pattern[str]]] = [
    (
        "view_cart",
        re.compile(
            r"\b(what'?s|what is|show|view|see|check|list|display|review|open)\b.*\b(cart|basket)\b|^\s*(my )?(cart|basket)\s*\??$"
            r"|\bwhat (have|did|do) i (got|get|have|added|picked|chosen|chose)\b|\bwhat am i (buying|getting|ordering|purchasing)\b"
            r"|\b(buying|bought|ordered|got|added|picked|chosen) so far\b"
            r"|\b(anything|something|what|how many( things| items)?)\b.*\b(in|inside) (my|the) (cart|basket|bag)\b",
            re.I,
        ),
    ),
    (
        "remove_from_cart",
        re.compile(
            r"\b(remove|delete|take out|drop|get rid of)\b|\btake\s+(\w+\s+){1,3}out\b|\b(from|out of|off)\s+(my|the)\s+(cart|basket|bag)\b", re.I
        ),
    ),
    (
        "add_to_cart",
        re.compile(
            r"\b(add|put)\b.*\b(cart|basket|bag)\b|\b(buy|purchase|order|i'?ll take)\b"
            r"|\bi'?ll (go with|have|get)\b|^\s*(ok(ay)?,?\s+)?i('ll| will)? ?(choose|pick|go for)\b"
            r"|\b(in|into|to)\s+(my|the)\s+(cart|basket|bag)\b"
            r"|\badd\s+(it|this|that|them|both|#\d|number\s+\d|item\s+\d|the\s+(first|second|third|fourth|fifth|last|\d\w*))\b"
            r"|^\s*i want (number |#|item )\d{1,2}\s*[.!]*\s*$",
            re.I,
        ),
    ),
    (
        "policy",
        re.compile(
            r"\b(return|refund|exchange|shipping|delivery|deliver|warranty|guarantee|payment|pay with|policy|policies|"
            r"store hours|opening hours|cash on delivery|cod|where'?s my order|track(ing)? (my |an |the )?order|order status)\b",
            re.I,
        ),
    ),
    # A question about the store itself ("do you offer gift wrapping?"), not about stock
    # ("do you have red shoes?"): answered from the policy documents, or honestly not.
    # A request about shown products ("can you tell me about number 2") is not one.
    (
        "policy",
        re.compile(
            r"^\s*(do|does|can|could|will|would|are|is)\s+(you|your|i|we)\b"
            r"(?!.*\b(have|sell|carry|stock|got|get|tell|show|see|compare|contrast|add|put|find|give|describe|recommend|number|"
            r"switch|change|swap|try|look|search|range|version|versions|"
            r"first|second|third|last|these|those|them|ones)\b)",
            re.I,
        ),
    ),
    (
        "back",
        re.compile(
            r"\b(go|going|get|take me|bring me|jump)\s+back\b|\bback to (the )?(previous|earlier|last|old|other|first)\b"
            r"|\b(previous|earlier|older|original|first|last)\s+(results|search|list|page|set|selection)\b|^\s*undo\b",
            re.I,
        ),
    ),
    (
        "why",
        re.compile(
            r"\b(why|how come|reason|reasons|reasoning)\b|\bhow (did|do) you (pick|choose|select|find)\b"
            r"|\bwhat (makes|made)\b.*\b(match|fit|pick|choice|result|suitable|right|good)\b",
            re.I,
        ),
    ),
    (
        "compare",
        re.compile(
            r"\b(compare|comparison|contrast|difference|differences|differ|versus|vs\.?)\b|\bside by side\b|\bstack up\b"
            r"|\b(" + ORDINAL_WORDS + r"|#?\d|number \d)( one)?\s+(or|and|vs\.?|&)\s+(the\s+)?(" + ORDINAL_WORDS + r"|#?\d|number \d)\b"
            r"(?=.*\b(which|better|pick|choose|prefer|stack|differ|best)\b)"
            r"|\b(which|better|pick|choose|prefer)\b.*\b("
            + ORDINAL_WORDS
            + r"|#?\d|number \d)( one)?\s+(or|and|vs\.?|&)\s+(the\s+)?("
            + ORDINAL_WORDS
            + r"|#?\d|number \d)\b",
            re.I,
        ),
    ),
    # A question across the shown products ("which of these is the cheapest?").
    (
        "which",
        re.compile(
            r"\bwhich\s+(of\s+(these|those|them|the\s+\w+)|one|ones|is|are|has|have)\b"
            r"|\b(any|are any|is any|is there one)\s+of\s+(these|those|them)\b",
            re.I,
        ),
    ),
    (
        "similar",
        re.compile(
            r"\b(similar|alternatives?|more like (this|that|it|number \d|#\d|the \w+)|like (this|that) one|anything like)\b"
            r"|\b(others?|ones|something|anything|things|stuff|items|more)\s+(just\s+)?like\s+(the|this|that|it|number|#)"
            r"|\b(along the lines of|in the style of|resembl\w*|looks? like)\b",
            re.I,
        ),
    ),
    (
        "dislike",
        re.compile(
            r"\b(don'?t|do not|doesn'?t)\s+(like|love|want)\b|\b(hate|not my style|not for me|ugly|not a fan|looks? cheap|meh)\b"
            r"|\b(too|way too|a bit too|rather too)\s+(flashy|bright|loud|busy|plain|dull|boring|big|small|long|short|formal|casual|"
            r"sporty|dark|light|colou?rful|simple|fancy|shiny|old[- ]fashioned|girly|childish)\b"
            r"|\b(not|isn'?t|aren'?t) (really )?(my|to my) (style|taste|thing)\b",
            re.I,
        ),
    ),
    (
        "like",
        re.compile(
            r"\b(i (really )?(like|love)|really (like|love)|nice one|looks great|that'?s (nice|great|perfect))\b"
            r"|\b(is|looks) (so |really |pretty |very )?(nice|cute|cool|lovely|gorgeous|beautiful|stylish)\b",
            re.I,
        ),
    ),
    (
        "details",
        re.compile(
            r"\b(tell me (more )?about|more about|details?|describe|what about (the|it|this|that)|more info|information about|specs?)\b"
            r"|^\s*tell me more\b|\b(talk|walk|take) me through\b|\bhow much (is|are|does|do|for)\b|\b(price|cost) of (the|it|this|that|#|number)\b"
            r"|\bwhat('?s| is| are)\s+(the\s+)?(#\d{1,2}|number \d{1,2}|\w+ (one|item))\s+like\b"
            r"|\b(can i|could i|let me|lemme|i'?d like to|i want to)\s+(see|look at|check out|view)\b"
            r".*\b(one|item|#\d{1,2}|number \d{1,2}|" + ORDINAL_WORDS + r")\b"
            r"|\b(show|give)\s+me\s+(the\s+)?(#\d{1,2}|number \d{1,2}|" + ORDINAL_WORDS + r"|middle|last)\b",
            re.I,
        ),
    ),
    (
        "more",
        re.compile(
            r"^\s*(show )?(me )?(some )?more( results| options| please)?\s*[.!?]*$|\b(next page|show more|more results|other options)\b"
            r"|\bnext (ones|page|few|batch|set|results)\b",
            re.I,
        ),
    ),
]
REFINE_START = re.compile(
    r"^\s*(in|but|and|only|just|without|not|no|except|cheaper|something cheaper|less expensive|more expensive|"
    r"under|below|over|above|between|for (men|women|boys|girls|kids|him|her)|make it|any in|same in|what about in)\b",
    re.I,
)
# A message that is only a pointer at a shown product ("the second one", "#3", "that one"):
# the shopper wants to hear about it.
BARE_REFERENCE = re.compile(
    r"^\s*(and\s+|hmm+,?\s+|ok(ay)?,?\s+)?(the\s+|that\s+|this\s+)?(" + ORDINAL_WORDS + r"|last|middle|#\d{1,2}|number \d{1,2}|one)"
    r"(\s+one)?(\s+(after|before)\s+(that|this|it))?\s*[.!?]*\s*$|^\s*(and\s+)?(the\s+)?(next|previous)\s+one\s*[.!?]*\s*$",
    re.I,
)
# "the one after that", "the next one", "the one before": a step from the product in focus.
STEP = re.compile(r"\b(?:the )?one (after|before)(?: (?:that|this|it))?\b|\b(next|previous) one\b", re.I)
# "in that colour", "the same colour": the product in focus's colour, put in its place.
SAME_COLOUR = re.compile(r"\b(that|this|the same|same|its|their)\s+colou?rs?\b", re.I)
# A dislike that also asks for something else.
ASK_OTHERS = re.compile(r"\b(something|anything|show|others?|different|instead|rather|else|more)\b", re.I)
# A message that speaks of the cart's lines: "the first item in my cart".
IN_CART = re.compile(
    r"\b(item|one|line|thing|product)s?\s+(in|from|of|on)\s+(my|the)\s+(cart|basket|bag)\b|\b(cart|basket|bag)'?s\s+\w+\s+(item|one|line)\b", re.I
)
# "shirts to go with it", "配这块表的皮带": a search for things to wear with a shown product.
GOES_WITH = re.compile(
    r"\b(to|that|which|would|will|could|can|might)\s+(go|goes|match|pair|be worn|wear|team up)\s+(well\s+)?with\s+"
    r"(it|this|that|them|these|those|the \w+( one)?)\b|\bgoes (well )?with (it|this|that|the)\b|\bmatching (it|this|that|the)\b",
    re.I,
)
# A position among the shown ("the second one", "#3", "the middle one"): a message that points
# so and asks for nothing the rules know wants to hear about that product.
POSITIONAL = re.compile(
    r"\b(" + ORDINAL_WORDS + r"|middle|last)\s+(one|item)\b|#\d{1,2}\b|\bnumber \d{1,2}\b"
    r"|\b(the|that|this)\s+(" + ORDINAL_WORDS + r"|middle|last)\b(?!\s+(two|three|four|five|few))",
    re.I,
)
# "these", "all of them": every shown product.
ALL_SHOWN = re.compile(r"\b(these|those|they|them|all of them|all)\b", re.I)
PRONOUN = re.compile(r"\b(it|this|that|this one|that one|these|those|them|both)\b", re.I)


def resolve_references(message: str, shown: Sequence[ShownProduct], focus: str | None = None) -> tuple[list[str], str | None]:
    """Product ids the message points at, and a problem to tell the shopper if any is out of reach."""
    text = message.lower()
    n = len(shown)
    # "the first two", "first 3", "top three", "both"
    m = re.search(r"\b(first|top|these|those)\s+(two|three|four|five|[2-5])\b", text)
    if m or re.search(r"\bboth\b", text):
        count = COUNTS[m.group(2)] if m else 2
        if count > n:
            return [], say("en", "shown_only", count=n)
        return [p.id for p in shown[:count]], None
    picks: list[tuple[int, int]] = []  # (position in the message, index into shown)
    for word, idx in ORDINALS.items():
        for mm in re.finditer(rf"\b{word}\b", text):
            picks.append((mm.start(), idx))
    for mm in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)\b", text):
        if int(mm.group(1)) > 10:  # 1st to 10th are ORDINALS, found above
            picks.append((mm.start(), int(mm.group(1)) - 1))
    for mm in re.finditer(r"(?:#|number |no\. ?|item )(\d{1,2})\b", text):
        picks.append((mm.start(), int(mm.group(1)) - 1))
    # "buy 4", "more info on 5", "something like 2", "5 is so cute": a bare card number
    # right after a verb or preposition, or opening the message before "is".
    bare = r"(?:\b(?:buy|get|want|on|like|recommending|about|add|pick|take|choose)\s+|^\s*)(10|[1-9])\b"
    for mm in re.finditer(bare + r"(?!\s*(?:\$|dollars?|%|items|products|pairs|of|x\b|more|bucks|euros|usd|inr|rs|stars?|sizes?|years?))", text):
        if mm.group(0).strip() != mm.group(1) or re.match(r"\s*(10|[1-9])\s+(is|isn'?t|looks|was|seems)\b", text):
            picks.append((mm.start(1), int(mm.group(1)) - 1))
    for mm in re.finditer(r"(?<![#\w.$])([1-9])\s+(?:and|or|vs\.?|&)\s+([1-9])\b(?!\s*(?:\$|dollars?|%|items|products))", text):
        # "how do 1 and 2 stack up?": bare numbers joined like positions are positions.
        picks += [(mm.start(1), int(mm.group(1)) - 1), (mm.start(2), int(mm.group(2)) - 1)]
    if re.search(r"\b(last one|the last)\b", text):
        picks.append((text.index("last"), n - 1))
    if (mid := re.search(r"\bmiddle\b", text)) is not None and n:
        picks.append((mid.start(), (n - 1) // 2))
    if not picks and (step := STEP.search(text)) is not None and n:
        picks.append((step.start(), step_from(shown, focus, step.group(1) or step.group(2))))
    if picks:
        return picked(picks, shown, "en")
    # "that watch", "the red one", "the sandals"
    words = [singular(w) for w in re.findall(r"[a-z]+", text)]
    for p in shown:
        cat = singular((p.category or "").lower())
        if cat and cat in words and (re.search(rf"\b(that|this|the)\s+(\w+\s+)?{re.escape(cat)}", " ".join(words))):
            return [p.id], None
    for p in shown:
        if p.colour and re.search(rf"\b(the|that)\s+{re.escape(p.colour.lower())}\s+one\b", text):
            return [p.id], None
    if PRONOUN.search(text) and (focus or shown):
        return [focus or shown[0].id], None
    return [], None


WhichOrder = Literal["price_asc", "price_desc", "year_desc", "year_asc"]
_WHICH_ORDERS: dict[Language, list[tuple[WhichOrder, re.Pattern[str]]]] = {
    "en": [
        ("price_desc", re.compile(r"\b(most expensive|priciest|pricier|dearest|highest price|costs? (the )?most)\b", re.I)),
        ("price_asc", re.compile(r"\b(cheapest|cheaper|least expensive|lowest price|most affordable|less pricey|costs? (the )?least)\b", re.I)),
        ("year_desc", re.compile(r"\b(newest|latest|most recent|newer)\b", re.I)),
        ("year_asc", re.compile(r"\b(oldest|earliest|older)\b", re.I)),
    ],
    "zh": [
        ("price_asc", re.compile(r"便宜|实惠|划算|价格最低|最低价")),
        ("price_desc", re.compile(r"最贵|更贵|价格最高|最高价")),
        ("year_desc", re.compile(r"最新|新款|最近")),
        ("year_asc", re.compile(r"最旧|最老|最早")),
    ],
}
# The words of a "which" question that are not what it asks about.
_WHICH_STOP = frozenset(
    "which what of these those them they is are was has have one ones the a an any there do does you think would should could "
    "i me my it for to be most more best better good nice nicest great recommend pick choose go with suit suits right in on "
    "item items product products thing things".split()
)  # fmt: skip
_WHICH_STOP_ZH = re.compile(r"这些|那些|里面|里|中|当中|之中|哪(一)?[个款件双块条只顶副套张支瓶样]|哪些|是|的|呢|吗|啊|有|比较|最|更|[？?。！!，,\s]")


@dataclass(frozen=True)
class WhichQuestion:
    """What a question across the shown products asks: an order, or words to look for."""

    order: WhichOrder | None = None
    words: tuple[str, ...] = ()  # lower-case English (catalogue) words, each to be found
    shown_words: tuple[str, ...] = ()  # the same, as the shopper wrote them


def which_question(text: str, language: Language) -> WhichQuestion:
    """ "which of these is the cheapest?" → order price_asc; "which of these is waterproof?" →
    words ("waterproof",); a Chinese question's words are read through the lexicon bridge."""
    for order, pattern in _WHICH_ORDERS[language]:
        if pattern.search(text):
            return WhichQuestion(order=order)
    if language == "zh":
        rest = _WHICH_STOP_ZH.sub(" ", text)
        bridged = chinese_bridge().to_english(rest)
        english = [w for w in re.findall(r"[a-z0-9]+", bridged.text.lower()) if w not in _WHICH_STOP]
        words = tuple(singular(w) for w in english) + tuple(bridged.residue)
        return WhichQuestion(words=words, shown_words=tuple(w for w in rest.split() if w))
    english = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _WHICH_STOP]
    return WhichQuestion(words=tuple(singular(w) for w in english), shown_words=tuple(english))


def plan_turn(
    message: str,
    shown: Sequence[ShownProduct] = (),
    focus: str | None = None,
    has_previous_search: bool = False,
    pending_confirmation: bool = False,
    has_photo: bool = False,
    vocabulary: Vocabulary | None = None,
    intents: ExemplarIntents | IntentsByLanguage | None = None,
    cart: Sequence[ShownProduct] = (),
) -> Plan:
    """What the turn is about, in the shopper's language. Raises `QueryError` for an empty or
    over-long message. With the catalogue's `vocabulary`, a message after a search that names
    only attributes ("do you have it in blue?", "换成蓝色的") refines that search; with
    `intents`, a message no rule recognises takes its nearest exemplars' intent (a bare
    `ExemplarIntents` is the English table alone; `IntentsByLanguage` has one per language).
    `cart` is the cart's lines, in order, for "the first item in my cart"."""
    if not message.strip() and not has_photo:
        raise QueryError("the message is empty", zh="消息是空的")
    if len(message) > MAX_MESSAGE_CHARS:
        raise QueryError(
            f"the message is {len(message):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}",
            zh=f"消息有 {len(message):,} 个字符，最多 {MAX_MESSAGE_CHARS:,} 个",
        )
    text = normalise(message)
    detected = detect_language(text)
    if detected == "other":
        return Plan("unsupported_language", text=text)
    tables = _ZH if detected == "zh" else _EN
    if detected == "en":
        # "number two", "item three": a position written as a word reads as its digit.
        text = _NUMBER_WORD.sub(lambda m: f"number {NUMBER_WORDS[m.group(2).lower()]}", text)
        # "the top result", "the top two": positions, not the catalogue's tops.
        text = _TOP_POSITION.sub(lambda m: f"the first {m.group(1) or 'one'}", text)
    if shown and not has_photo:
        text = _name_the_colour(text, tables, shown, focus)
    plan = _plan(
        text,
        detected,
        tables,
        shown,
        focus,
        has_previous_search,
        pending_confirmation,
        has_photo,
        vocabulary,
        intents.for_language(detected) if isinstance(intents, IntentsByLanguage) else intents if detected == "en" else None,
        cart,
    )
    plan.language = detected
    return plan


@dataclass(frozen=True)
class _Tables:
    """One language's phrase tables."""

    yes: re.Pattern[str]
    no: re.Pattern[str]
    greeting: re.Pattern[str]
    intents: list[tuple[Intent, re.Pattern[str]]]
    bare_reference: re.Pattern[str]
    refine_start: re.Pattern[str]
    resolve: Callable[[str, Sequence[ShownProduct], str | None], tuple[list[str], str | None]]
    same_colour: re.Pattern[str]
    ask_others: re.Pattern[str]
    in_cart: re.Pattern[str]
    all_shown: re.Pattern[str]
    goes_with: re.Pattern[str]
    positional: re.Pattern[str]
    pronoun: re.Pattern[str]
    more_loose: re.Pattern[str] | None = None  # "more" said loosely, read after the refine check
    cart_word: re.Pattern[str] = re.compile(r"\b(cart|basket)\b", re.I)


_EN = _Tables(
    YES, NO, GREETING, INTENT_PATTERNS, BARE_REFERENCE, REFINE_START, resolve_references, SAME_COLOUR, ASK_OTHERS, IN_CART, ALL_SHOWN,
    GOES_WITH, POSITIONAL, PRONOUN,
)  # fmt: skip
_ZH = _Tables(
    zh.YES, zh.NO, zh.GREETING, zh.INTENT_PATTERNS, zh.BARE_REFERENCE, zh.REFINE_START, zh.resolve_references_zh,
    zh.SAME_COLOUR, zh.ASK_OTHERS, zh.IN_CART, zh.ALL_SHOWN, zh.GOES_WITH, zh.POSITIONAL, zh.PRONOUN, zh.MORE_LOOSE, zh.CART_WORD,
)  # fmt: skip


def _name_the_colour(text: str, t: _Tables, shown: Sequence[ShownProduct], focus: str | None) -> str:
    """ "anything else in that colour?" → "anything else in black?": the colour of the product
    the shopper points at (or of the one in focus, or the first shown) in the words' place,
    so the rest of planning and the understanding read an ordinary colour word."""
    m = t.same_colour.search(text)
    if m is None:
        return text
    ids, _ = t.resolve(t.same_colour.sub(" ", text), shown, focus)
    target = ids[0] if ids else (focus or shown[0].id)
    colour = next((p.colour for p in shown if p.id == target and p.colour), None)
    if colour is None:
        return text
    return text[: m.start()] + colour.lower() + text[m.end() :]


def _names_only_attributes(text: str, vocabulary: Vocabulary) -> bool:
    """The message names filters or an order (colour, gender, brand, price, "cheaper") and
    no product type: it changes the last search rather than starting one."""
    try:
        parsed = parse_query(text, vocabulary)
    except QueryError:
        return False
    fields = {m.field for m in parsed.matches}
    return bool(fields or parsed.sort) and "category" not in fields


def _drops_a_filter(text: str, t: _Tables, has_previous_search: bool, vocabulary: Vocabulary | None) -> bool:
    """A removal or a "the same kind" that names a brand or other attribute and neither the
    cart nor a product ("去掉耐克", "同款有黑色吗") changes the last search."""
    if not has_previous_search or vocabulary is None or t.cart_word.search(text) or t.positional.search(text) or t.pronoun.search(text):
        return False
    return _names_only_attributes(text, vocabulary)


def _names_a_category(text: str, vocabulary: Vocabulary | None) -> bool:
    """The message names a product type ("the second one in red shoes?" is a search)."""
    if vocabulary is None:
        return False
    try:
        return any(m.field == "category" for m in parse_query(text, vocabulary).matches)
    except QueryError:
        return False


def _plan(
    text: str,
    language: Language,
    t: _Tables,
    shown: Sequence[ShownProduct],
    focus: str | None,
    has_previous_search: bool,
    pending_confirmation: bool,
    has_photo: bool,
    vocabulary: Vocabulary | None,
    intents: ExemplarIntents | None,
    cart: Sequence[ShownProduct],
) -> Plan:
    if pending_confirmation:
        if t.yes.match(text):
            return Plan("confirm")
        if t.no.match(text):
            return Plan("deny")
    if has_photo:
        return Plan("search", text=text or None)
    if t.greeting.match(text):
        return Plan("greeting")
    for intent, pattern in t.intents:
        if not pattern.search(text):
            continue
        if intent in ("remove_from_cart", "similar") and _drops_a_filter(text, t, has_previous_search, vocabulary):
            # "去掉耐克": the search without Nike, not the cart; "同款有黑色吗": the same search in black.
            return Plan("refine", text=text)
        return _with_references(intent, text, language, t, shown, focus, cart)
    if shown and t.bare_reference.match(text):
        ids, problem = t.resolve(text, shown, focus)
        if ids or problem:
            return Plan("details", text=text, product_ids=ids, problem=problem)
    if shown and (m := t.goes_with.search(text)) is not None:
        ids, _ = t.resolve(text[m.start() :], shown, focus)
        return Plan("search", text=text, goes_with=ids[0] if ids else (focus or shown[0].id))
    if has_previous_search and (t.refine_start.match(text) or (vocabulary is not None and _names_only_attributes(text, vocabulary))):
        return Plan("refine", text=text)
    if has_previous_search and t.more_loose is not None and t.more_loose.search(text) and not _names_a_category(text, vocabulary):
        return Plan("more")
    guess = intents.guess(text) if intents is not None else None
    if guess is not None and guess.intent != "search" and (guess.intent != "refine" or has_previous_search):
        if guess.intent in ("refine", "greeting"):
            return Plan(guess.intent, text=text)  # type: ignore[arg-type]
        return _with_references(guess.intent, text, language, t, shown, focus, cart)  # type: ignore[arg-type]
    if shown and t.positional.search(text) and not _names_a_category(text, vocabulary):
        ids, problem = t.resolve(text, shown, focus)
        if ids or problem:
            return Plan("details", text=text, product_ids=ids, problem=problem)
    return Plan("search", text=text)


def _with_references(
    intent: Intent, text: str, language: Language, t: _Tables, shown: Sequence[ShownProduct], focus: str | None,
    cart: Sequence[ShownProduct] = (),
) -> Plan:  # fmt: skip
    """A plan for `intent`, with the shown products the message points at (or a problem)."""
    if intent == "policy":
        return Plan("policy", text=text)
    if intent in ("view_cart", "more", "back"):
        return Plan(intent)
    if intent == "which":
        if not shown:  # "which shoes are best for running?" with nothing shown is a search
            return Plan("search", text=text)
        ids, problem = t.resolve(text, shown, None)
        if len(ids) >= 2 or problem:  # "which is better, the first or the second?" compares those
            return Plan("compare", text=text, product_ids=ids, problem=problem)
        return Plan("which", text=text, product_ids=[p.id for p in shown])
    if intent == "remove_from_cart" and cart and t.in_cart.search(text):
        # "the first item in my cart": positions count the cart's lines, not the shown list.
        ids, problem = t.resolve(text, cart, None)
        return Plan(intent, text=text, product_ids=ids, problem=problem)
    if intent == "dislike" and shown and t.all_shown.search(text):
        return Plan(intent, text=text, product_ids=[p.id for p in shown], show_others=bool(t.ask_others.search(text)))
    ids, problem = t.resolve(text, shown, focus)
    pronoun_only = ids == [focus or (shown[0].id if shown else None)]  # what "it"/"them" resolves to
    if intent in ("compare", "add_to_cart", "like") and len(shown) > 1 and pronoun_only and t.all_shown.search(text) and not problem:
        # "compare them", "add them all to my cart": a plural that names no position is every
        # product shown, not the one in focus (a compare takes at most five).
        named, _ = t.resolve(t.all_shown.sub(" ", text), shown, None)
        if not named:
            ids = [p.id for p in shown[: 5 if intent == "compare" else len(shown)]]
        elif intent == "compare" and len(named) == 1:  # "compare the first with these": with the rest
            ids = [*named, *[p.id for p in shown if p.id != named[0]]][:5]
    if intent == "compare" and len(ids) == 1 and not problem:
        if focus and focus != ids[0] and t.pronoun.search(text):  # "compare it with the second"
            ids = [focus, ids[0]]
        else:
            name = next((p.name for p in shown if p.id == ids[0]), "")
            problem = say(language, "compare_which_other", name=name)
    if intent == "compare" and not ids and not problem:
        if len(shown) < 2:
            problem = say(language, "nothing_to_compare")
        else:
            ids = [p.id for p in shown[:2]]
    if intent in ("details", "similar", "why", "like", "dislike", "add_to_cart", "remove_from_cart") and not ids and not problem:
        if intent == "remove_from_cart" or (intent in ("add_to_cart",) and not shown):
            pass  # the agent asks which one (or what, with an empty cart)
        elif not shown:
            # "more about X" with nothing shown is a search for X.
            if intent == "details":
                return Plan("search", text=text)
            problem = say(language, "nothing_shown")
        else:
            ids = [focus or shown[0].id]
    others = intent == "dislike" and bool(t.ask_others.search(text))
    return Plan(intent, text=text, product_ids=ids, problem=problem, show_others=others)
