"""Build the English paraphrase conversation sets (deterministic), checked like `kagl.jsonl`:
`benchmarks/conversations/kagl-paraphrase-dev.jsonl` (20 conversations, for tuning) and
`kagl-paraphrase-test.jsonl` (40, held out until its first run; its misses were then worked
on), `kagl-paraphrase-fresh.jsonl` (40, a third phrasing pool, held out for one run; its misses
were then worked on too) and `kagl-paraphrase-latest.jsonl` (40, a fourth pool, written after
that work and before any run of it: held out; its misses were then worked on) and
`kagl-paraphrase-fifth.jsonl` (40, a fifth pool written without reading the planner: held out;
its misses were then worked on) and `kagl-paraphrase-sixth.jsonl` (40, a sixth pool,
`conversations/pools/sixth.json`, written the same way: held out).

Every follow-up is phrased the way shoppers write, not the way the planner's tables are
written ("do you have it in blue?", "I'll go with the second one", "get rid of the first item
from my cart"). The two sets draw their phrasings from disjoint pools, written together
before any tuning, so a figure on the held-out set says how the assistant meets phrasings
it was never adjusted to. Usage: python benchmarks/make_conversations_paraphrase.py
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from benchmarks.make_conversations import GENDER, WORDS  # noqa: E402

# kind → (dev phrasings, held-out phrasings); {c} a colour, {g} a gender word. The first
# held-out set's misses were read (and worked on) after its one run, so it became a second
# dev set; FRESH below is a third pool, written before that work, for a new held-out set.
POOLS: dict[str, tuple[list[str], list[str]]] = {
    "colour": (["do you have it in {c}?", "what about {c} ones"],
               ["any chance these come in {c}?", "I'd prefer {c}", "got anything in {c}?", "could I see {c} instead"]),
    "gender": (["same thing but for {g}", "are there ones for {g}?"],
               ["now the same for {g}", "I need these for {g} actually", "ok and for {g}?", "switch to {g} please"]),
    "details": (["can you tell me about number 2", "what's the deal with the second one?"],
                ["give me the specs of the 2nd", "how much is the second one", "what can you tell me about item 2?", "more on #2 please"]),
    "compare": (["how do the first and second differ?", "put the top two side by side"],
                ["which is better, the first or the second?", "what sets the first two apart?", "first vs second?", "weigh up #1 and #2 for me"]),
    "add": (["I'll go with the first one", "put number 1 in my bag"],
            ["I want to buy the first one", "grab me the first one", "let me get the 1st", "first one please, add it"]),
    "yes": (["sure, go ahead", "yep"], ["yes please", "ok do it", "sure thing", "yeah go for it"]),
    "view": (["what have I got in my basket?", "show me my cart"],
             ["what's in the basket", "cart please", "what did I add so far?", "check my cart"]),
    "remove": (["get rid of it from my cart", "take that out of my cart"],
               ["remove it from my basket", "delete that from the cart", "drop it from my cart", "take it out of the basket please"]),
    "more": (["anything else?", "what else do you have"], ["show me a few more", "other options please", "got more?", "keep them coming"]),
    "similar": (["got anything like the first one?", "show me ones that look like number 1"],
                ["something along the lines of the first one", "more in the style of #1", "things that resemble the first",
                 "similar ones to number 1?"]),
    "why": (["what made you choose the first?", "how come you suggested number 1?"],
            ["why is the first one there", "what's the reasoning behind the first pick?", "why that first one?", "why did the first one come up?"]),
    "policy": (["can I send it back if it doesn't fit?", "do you take cash on delivery?"],
               ["what if I want to return it?", "what payment methods do you accept?", "is there a warranty on watches?", "how do refunds work?"]),
}  # fmt: skip
FRESH: dict[str, list[str]] = {
    "colour": ["is there a {c} version?", "show me the {c} ones", "maybe in {c}?", "{c} would be better"],
    "gender": ["what about for {g}?", "I meant for {g}", "can I get these for {g}", "change it to {g}"],
    "details": ["details on the second one please", "tell me about the 2nd", "what is number 2 like?", "info on #2"],
    "compare": ["compare 1 and 2", "first or second, which one?", "how does the first compare to the second?", "contrast the top two"],
    "add": ["I'd like the first one", "add #1", "the first one goes in my cart", "I'll have the first"],
    "yes": ["yes", "please do", "sure", "okay, yes"],
    "view": ["show the cart", "what's in my bag?", "let me see my cart", "what have I got so far"],
    "remove": ["remove it", "take it out", "delete it from my cart please", "drop that item"],
    "more": ["more please", "any more?", "show me more of those", "other ones?"],
    "similar": ["anything similar to the first?", "similar to #1?", "more like number 1", "find me something like the first one"],
    "why": ["why the first?", "why did you show me the first one?", "explain the first result", "reason for number 1?"],
    "policy": ["how long is delivery?", "can I get a refund?", "do you accept cards?", "what's the exchange policy?"],
}
# A fourth pool, written before its set was ever run, after the third's misses were worked on.
LATEST: dict[str, list[str]] = {
    "colour": ["do these come in {c}?", "I'd rather see {c}", "{c} instead, please", "have you got them in {c}?"],
    "gender": ["and for {g}?", "do you have these for {g} too?", "these but for {g}", "show me the version for {g}"],
    "details": ["what do we know about number two?", "could you describe the second one?", "more info on the 2nd one?",
                "talk me through the second"],
    "compare": ["how do 1 and 2 stack up?", "what's the difference between the first two?", "1st or 2nd, which should I pick?",
                "compare the first with the second"],
    "add": ["I'll buy the first one", "add the first to my basket", "pop number 1 in the cart", "the first one, I'll take it"],
    "yes": ["yes, add it", "go on then", "alright", "yup, do it"],
    "view": ["what's in my shopping cart?", "review my basket", "what am I buying so far?", "open my cart"],
    "remove": ["take it off my cart", "I changed my mind, remove it", "scrap that item from the basket", "remove that from my bag"],
    "more": ["next ones please", "show me some others", "what else is there?", "more options?"],
    "similar": ["anything that looks like the first one?", "similar to the 1st please", "show me alternatives to number 1",
                "others like the first"],
    "why": ["why is number 1 first?", "what makes the first one a match?", "why did number one show up?", "why recommend the first?"],
    "policy": ["what's your returns policy?", "how long does shipping take?", "how long do refunds take?", "can I pay by card?"],
}  # fmt: skip
# A fifth pool, written by someone who had not read the planner or the other pools, before
# its set was ever run: held out.
FIFTH: dict[str, list[str]] = {
    "colour": [
        "Do you have these in {c}?",
        "show me the same but {c}",
        "any {c} ones?",
        "Could I see them in {c} instead, please?",
        "what about in {c}",
        "I'd prefer {c} - got any like that?",
    ],
    "gender": [
        "Do you have these for {g}?",
        "show me the {g}'s versions",
        "What about ones for {g}?",
        "Actually I need them for {g}",
        "same thing but for {g} please",
        "Can you switch to the {g}'s range?",
    ],
    "details": [
        "Tell me more about the second one",
        "what are the details on #2?",
        "Can I get more info on item 2, please?",
        "more about the 2nd product",
        "What's the second one like?",
        "Could you give me the specs for number two?",
    ],
    "compare": [
        "Compare the first and second ones",
        "How does #1 stack up against #2?",
        "what's the difference between 1 and 2?",
        "Can you compare the first two items for me?",
        "1st vs 2nd - which is better?",
        "Could you put the first product side by side with the second?",
    ],
    "add": [
        "I'll take the first one",
        "Add number 1 to my cart",
        "put the first item in my basket please",
        "I want #1",
        "Can you add the 1st product to my bag?",
        "Let's go with the first one",
    ],
    "yes": ["yes please", "yep, add it", "sure", "Go ahead", "Yes, put it in the cart", "ok do it"],
    "view": [
        "What's in my cart?",
        "show me my basket",
        "Can I see my bag?",
        "view cart",
        "what have I added so far?",
        "Could you list the items in my cart please?",
    ],
    "remove": [
        "Remove it from my cart",
        "take that out of the basket",
        "Actually, delete the item from my bag",
        "get rid of it please",
        "Can you remove that from my cart?",
        "drop it from the cart",
    ],
    "more": [
        "show me more",
        "any other options?",
        "Can I see more results?",
        "more please",
        "What else have you got?",
        "Could you show me a few more from this search?",
    ],
    "similar": [
        "Show me things similar to the first one",
        "anything like #1?",
        "Do you have more like the first item?",
        "find me products similar to number 1",
        "Got anything resembling the 1st one?",
        "I like the first one - can you show me others like it?",
    ],
    "why": [
        "Why did you recommend the first one?",
        "why #1?",
        "What made you pick the first item?",
        "Why is number 1 at the top?",
        "How come you showed me the first product?",
        "Can you explain why the 1st one was suggested?",
    ],
    "policy": [
        "What's your return policy?",
        "how long does shipping take?",
        "Can I get a refund if it doesn't fit?",
        "Which payment methods do you accept?",
        "Do you do exchanges?",
        "Do your products come with a warranty?",
    ],
}
# A sixth pool (`conversations/pools/sixth.json`), written the same way and committed before its
# set was first run: held out.
SIXTH: dict[str, list[str]] = json.loads((Path(__file__).parent / "conversations" / "pools" / "sixth.json").read_text(encoding="utf-8"))["en"]
KIND_TURNS = {  # follow-up → what must happen
    "colour": lambda c, cat, col, g: {"tools": ["search_products"], "filters": {"colour": [c.lower()]},
                                       "products": {"category": [cat], "colour": [c]}},
    "gender": lambda c, cat, col, g: {"tools": ["search_products"], "products": {"category": [cat], "gender": [g, "Unisex"]}},
    "details": lambda c, cat, col, g: {"tools": ["get_product"], "mentions_shown": 1},
    "compare": lambda c, cat, col, g: {"tools": ["compare_products"], "text_contains": ["Comparing"]},
    "add": lambda c, cat, col, g: {"tools": [], "text_contains": ["Shall I add"]},
    "yes": lambda c, cat, col, g: {"tools": ["add_to_cart"], "text_contains": ["1 item"]},
    "view": lambda c, cat, col, g: {"tools": ["view_cart"], "mentions_shown": 0},
    "remove": lambda c, cat, col, g: {"tools": [], "text_contains": ["Shall I remove"]},
    "yes_remove": lambda c, cat, col, g: {"tools": ["remove_from_cart"], "text_contains": ["0 items"]},
    "more": lambda c, cat, col, g: {"tools": ["search_products"], "products": {"category": [cat], "colour": [col]}, "new_products": True},
    "similar": lambda c, cat, col, g: {"tools": ["similar_products"], "products": {"category_any": [cat]}},
    "why": lambda c, cat, col, g: {"tools": [], "text_contains": ["found by"]},
    "policy": lambda c, cat, col, g: {"tools": ["answer_policy_question"], "text_contains": ["Source"]},
}  # fmt: skip
SCRIPTS = [["colour", "details"], ["add", "yes", "view", "remove", "yes_remove"], ["gender", "compare"], ["more", "similar"], ["why", "policy"],
           ["details", "add", "yes"], ["colour", "more"], ["compare", "why"]]  # fmt: skip


def build(combos: list[tuple[str, str, str]], counts: Counter, held_out: bool | str, n: int, rng: random.Random) -> list[dict]:
    convs = []
    for i, (cat, colour, gender) in enumerate(combos[:n]):
        g, w = GENDER[gender], WORDS[cat]
        # "sandals" are sandals of any kind: the catalogue files sports sandals apart.
        types = [cat, "Sports Sandals"] if cat == "Sandals" else [cat]
        turns = [{"user": f"I need {colour.lower()} {w} for {g}", "tools": ["search_products"], "filters": {"colour": [colour.lower()]},
                  "products": {"category": types, "colour": [colour], "gender": [gender, "Unisex"]}}]  # fmt: skip
        other_g = {"Men": "Women", "Women": "Men"}[gender]
        alt = next((k for k in ("Black", "White", "Blue", "Brown", "Grey") if k != colour and counts[(cat, k, gender)] >= 5), None)
        current = colour  # the colour of the products on screen
        for kind in SCRIPTS[i % len(SCRIPTS)]:
            if kind == "colour" and alt is None:
                continue
            pool = {"fresh": FRESH, "latest": LATEST, "fifth": FIFTH, "sixth": SIXTH}.get(held_out) if isinstance(held_out, str) else None
            # A plain "yes" to the removal question: drawn from no pool, so the sets' other
            # phrasings stay the ones first drawn.
            phrase = "yes" if kind == "yes_remove" else rng.choice(pool[kind] if pool else POOLS[kind][1 if held_out else 0])
            turn = {"user": phrase.format(c=(alt or "").lower(), g=GENDER[other_g]), **KIND_TURNS[kind](alt, cat, current, other_g)}
            turns.append(turn)
            current = alt if kind == "colour" else current
        prefixes = {"fresh": "f", "latest": "l", "fifth": "v", "sixth": "s"}
        prefix = prefixes.get(held_out, "p") if isinstance(held_out, str) else "p" if held_out else "d"
        convs.append({"id": f"{prefix}{i:02d}", "turns": turns})
    return convs


def main() -> None:
    products = load_catalogue(Path("../shared/data/kagl/products.csv")).products
    counts = Counter((p.category, p.colour, p.gender) for p in products if p.category in WORDS and p.gender in GENDER and p.colour)
    good = sorted(c for c, k in counts.items() if k >= 12)
    rng = random.Random(4141)
    rng.shuffle(good)
    out = Path(__file__).parent / "conversations"
    sets: tuple[tuple[str, list, bool | str, int], ...] = (
        ("kagl-paraphrase-dev", good[40:60], False, 20),
        ("kagl-paraphrase-test", good[:40], True, 40),
        ("kagl-paraphrase-fresh", good[60:100], "fresh", 40),
        ("kagl-paraphrase-latest", good[100:140], "latest", 40),
        ("kagl-paraphrase-fifth", good[140:180], "fifth", 40),
        ("kagl-paraphrase-sixth", good[180:220], "sixth", 40),
    )
    for name, combos, held_out, n in sets:
        convs = build(combos, counts, held_out, n, rng)
        (out / f"{name}.jsonl").write_text("".join(json.dumps(c) + "\n" for c in convs))
        print(f"wrote {len(convs)} conversations, {sum(len(c['turns']) for c in convs)} turns, to {out / name}.jsonl")


if __name__ == "__main__":
    main()
