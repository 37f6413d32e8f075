"""Scripted conversation evaluation: pass rate per turn and time to first card / first text.

Runs `benchmarks/conversations/kagl.jsonl` through the agent (no-LLM mode today) on the
ingested index, with a fresh session store. A turn passes when: the expected tools were
called (in order), the search got the expected filters, every shown product meets the
turn's constraints, the answer contains the expected words, and no product is named that a
tool did not return in this conversation (grounding). Prints a table, writes JSON.

Usage: python benchmarks/eval_conversations.py [--index PATH] [--collection NAME]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.agent import Agent  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.encoders.images import load_image  # noqa: E402
from assistant.policies import EXAMPLE_POLICIES, PolicyIndex, load_passages  # noqa: E402
from assistant.retrieval.understanding import singular  # noqa: E402
from assistant.runtime import build_retriever, load_encoders  # noqa: E402
from assistant.sessions import SqliteSessionStore  # noqa: E402


def check_turn(turn: dict, events: list, known: dict[str, str], shown_before: list[dict]) -> list[str]:
    """Problems with one turn (empty: it passed)."""
    problems = []
    tools = [e.tool_name for e in events if e.type == "tool-input-available"]
    expected_tools = turn.get("tools", [])
    if [t for t in tools if t != "get_facets"] != expected_tools:
        problems.append(f"tools {tools} != {expected_tools}")
    text = "".join(e.delta for e in events if e.type == "text-delta")
    products = [p for e in events if e.type == "data-products" for p in e.data["products"]]
    for e in events:
        if e.type == "tool-output-available":
            for p in e.output.get("products", []) + e.output.get("lines", []):
                known[p.get("id") or p.get("product_id")] = p["name"]
            if "name" in e.output and "id" in e.output:
                known[e.output["id"]] = e.output["name"]
    if "filters" in turn:
        search = next((e.input for e in events if e.type == "tool-input-available" and e.tool_name == "search_products"), {})
        for k, v in turn["filters"].items():
            if search.get("filters", {}).get(k) != v:
                problems.append(f"filter {k}={search.get('filters', {}).get(k)} != {v}")
    want = turn.get("products", {})
    if want and not products:
        problems.append("no products shown")
    for p in products:
        for field in ("category", "colour", "gender"):
            if field in want and p.get(field) not in want[field]:
                problems.append(f"product {p['id']} {field} {p.get(field)} not in {want[field]}")
        path = {singular(x.lower()) for x in p.get("category_path", [])}
        if "category_any" in want and not any(singular(c.lower()) in path for c in want["category_any"]):
            problems.append(f"product {p['id']} category path {p.get('category_path')} lacks {want['category_any']}")
    if "colour_share" in want and products:
        for colour, share in want["colour_share"].items():
            got = sum(p.get("colour") == colour for p in products) / len(products)
            if got < share:
                problems.append(f"only {got:.0%} {colour}")
    if turn.get("new_products") and {p["id"] for p in products} & {p["id"] for p in shown_before}:
        problems.append("'show more' repeated products")
    for w in turn.get("text_contains", []):
        if w not in text:
            problems.append(f"answer lacks {w!r}")
    if "mentions_shown" in turn and shown_before:
        name = shown_before[turn["mentions_shown"]]["name"]
        if name not in text:
            problems.append(f"answer does not name {name!r}")
    # Grounding: a listing names exactly the products the tools returned, in order; and any
    # other product name in the answer belongs to a product a tool returned this conversation.
    if products:
        listing = "; ".join(f"{n}. {p['name']}" for n, p in enumerate(products, 1))
        if listing not in text:
            problems.append("the answer's product list differs from the products shown")
    elif re.search(r": 1\. ", text):
        problems.append("the answer lists products although none were shown")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path)
    ap.add_argument("--collection", default="kagl")
    ap.add_argument("--conversations", type=Path, default=Path(__file__).parent / "conversations" / "kagl.jsonl")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "conversations.json")
    a = ap.parse_args()
    s = Settings.from_env()
    if a.index:
        s.index.path = a.index
    s.collection = a.collection
    enc = load_encoders(s)
    retriever = build_retriever(s, encoders=enc)
    with tempfile.TemporaryDirectory() as d:
        agent = Agent(retriever, SqliteSessionStore(Path(d) / "s.db"), PolicyIndex(load_passages(EXAMPLE_POLICIES), enc.text))
        list(agent.turn("warmup", "black shoes"))
        convs = [json.loads(line) for line in a.conversations.read_text().splitlines() if line.strip()]
        results, first_card, first_text = [], [], []
        for conv in convs:
            known: dict[str, str] = {}
            shown: list[dict] = []
            for n, turn in enumerate(conv["turns"]):
                image = load_image(Path(turn["photo"])) if turn.get("photo") else None
                t0 = time.perf_counter()
                events, t_card, t_text = [], None, None
                for e in agent.turn(conv["id"], turn["user"], image):
                    if e.type == "data-products" and t_card is None:
                        t_card = time.perf_counter() - t0
                    if e.type == "text-delta" and t_text is None:
                        t_text = time.perf_counter() - t0
                    events.append(e)
                if t_card is not None:
                    first_card.append(t_card * 1e3)
                if t_text is not None:
                    first_text.append(t_text * 1e3)
                problems = check_turn(turn, events, known, shown)
                new_shown = [p for e in events if e.type == "data-products" for p in e.data["products"]]
                shown = new_shown or shown
                results.append({"conversation": conv["id"], "turn": n, "user": turn["user"], "passed": not problems, "problems": problems})
    passed = sum(r["passed"] for r in results)
    print(f"{'conversations':<26}{len(convs)}\n{'turns':<26}{len(results)}\n{'passed':<26}{passed} ({passed / len(results):.1%})")
    print(f"{'first product card p50':<26}{np.percentile(first_card, 50):.0f} ms (p95 {np.percentile(first_card, 95):.0f} ms)")
    print(f"{'first text p50':<26}{np.percentile(first_text, 50):.0f} ms (p95 {np.percentile(first_text, 95):.0f} ms)")
    for r in results:
        if not r["passed"]:
            print(f"  FAIL {r['conversation']} turn {r['turn']} {r['user']!r}: {'; '.join(r['problems'])}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"mode": "none", "turns": len(results), "passed": passed,
                                 "first_card_ms_p50": float(np.percentile(first_card, 50)),
                                 "first_text_ms_p50": float(np.percentile(first_text, 50)), "results": results}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
