"""How the planner reads single follow-up messages: intent and the card it points at, per
language and label, on a labelled message set (table + JSON).

The state is fixed and typical: five watches shown (a search behind them), one in the cart,
and for `confirm` / `decline` an add waiting for its yes or no. A message passes when the
planner's intent is the label's and, where the label names a card, it points at that card (or,
past the five shown, says so). Out-of-scope questions pass as a search: the search's scope
check answers them. `kagl-intents-dev.jsonl` (432 Chinese, 144 English; written by someone who
had not read the planner) is a dev set: the Chinese rules were worked on against it.
Usage: python benchmarks/eval_intents.py [--messages benchmarks/intents/kagl-intents-dev.jsonl] [--no-exemplars]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.intents import ExemplarIntents, IntentsByLanguage, chinese_intents  # noqa: E402
from assistant.planner import ShownProduct, plan_turn  # noqa: E402
from assistant.runtime import build_retriever, load_encoders  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402

EXPECT = {"details": "details", "compare": "compare", "add": "add_to_cart", "confirm": "confirm", "decline": "deny", "view_cart": "view_cart",
          "remove": "remove_from_cart", "more": "more", "similar": "similar", "why": "why", "policy": "policy", "dislike": "dislike",
          "like": "like", "greeting": "greeting", "out_of_scope": "search", "refine_colour": "refine", "refine_gender": "refine",
          "exclude_brand": "refine"}  # fmt: skip
POINTS = ("details", "add", "similar", "why", "dislike", "like")  # labels whose position is checked
SHOWN = [ShownProduct(str(i), f"Brand{i} Men {c} Watch", "Watches", c) for i, c in enumerate(["Black", "Silver", "Brown", "Black", "Blue"], 1)]
CART = [SHOWN[0]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=Path, default=Path(__file__).parent / "intents" / "kagl-intents-dev.jsonl")
    ap.add_argument("--no-exemplars", action="store_true", help="the rules alone, without the exemplar fallback")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "intents.json")
    add_index_options(ap)
    a = ap.parse_args()
    s = settings_from(a)
    retriever = build_retriever(s, encoders=load_encoders(s))
    intents = None if a.no_exemplars else IntentsByLanguage({"en": lambda: ExemplarIntents(retriever.text), "zh": chinese_intents})
    items = [json.loads(line) for line in a.messages.read_text(encoding="utf-8").splitlines() if line.strip()]
    ok: Counter = Counter()
    total: Counter = Counter()
    misses: dict[str, list[dict]] = defaultdict(list)
    seconds: list[float] = []
    for it in items:
        pending = it["intent"] in ("confirm", "decline")
        t0 = time.perf_counter()
        p = plan_turn(it["text"], SHOWN, "1", True, pending, False, retriever.vocabulary, intents, CART)
        seconds.append(time.perf_counter() - t0)
        good = p.intent == EXPECT[it["intent"]]
        pos = it.get("position")
        if good and pos and it["intent"] in POINTS:
            good = p.product_ids[:1] == [str(pos)] if pos <= len(SHOWN) else bool(p.problem)
        key = f"{it['lang']}/{it['intent']}"
        total[key] += 1
        ok[key] += good
        if not good:
            misses[key].append({"text": it["text"], "intent": p.intent, "product_ids": p.product_ids, "problem": p.problem})
    rows = []
    print(f"{'language/label':24s} {'passed':>8s}")
    for lang in ("zh", "en"):
        keys = sorted(k for k in total if k.startswith(lang + "/"))
        passed, n = sum(ok[k] for k in keys), sum(total[k] for k in keys)
        if not n:
            continue
        for k in keys:
            print(f"{k:24s} {ok[k]:>4d}/{total[k]:<4d}")
            rows.append({"label": k, "passed": ok[k], "total": total[k], "misses": misses[k]})
        print(f"{lang + ' overall':24s} {passed:>4d}/{n:<4d} {passed / n:.1%}")
        rows.append({"label": f"{lang}/all", "passed": passed, "total": n})
    seconds.sort()
    print(f"plan p50 {seconds[len(seconds) // 2] * 1000:.1f} ms, p95 {seconds[int(len(seconds) * 0.95)] * 1000:.1f} ms")
    write_result(a.out, {"messages": str(a.messages), "exemplars": not a.no_exemplars, "results": rows}, ensure_ascii=False)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
