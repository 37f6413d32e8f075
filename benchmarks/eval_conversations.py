"""Scripted conversation evaluation: pass rate per turn and time to first card / first text.

Runs `benchmarks/conversations/kagl.jsonl` (or `--conversations kagl-zh.jsonl`, the Chinese set) through the agent once per LLM mode (`none`:
templated answers; `embedded`: the packaged model writes each answer's opening sentence;
`openai`: an endpoint given by --llm-url) on the ingested index, each with a fresh session
store. A turn passes when: the expected tools were called (in order), the search got the
expected filters, every shown product meets the turn's constraints, the answer contains the
expected words, the answer's product list is the products shown, and the answer is grounded:
every number of two or more digits, every price and every catalogue term (colour, gender,
category, brand, season, usage) in it occurs in what the tools were asked or returned this
turn. Prints a table per mode, writes JSON.

Usage: python benchmarks/eval_conversations.py [--modes none,embedded] [--index PATH] [--collection NAME]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.callbacks import get_usage_metadata_callback  # noqa: E402

from assistant.agent import Agent  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.encoders.images import load_image  # noqa: E402
from assistant.language.text import HAN, HAN_RUN, normalise  # noqa: E402
from assistant.language.zh import chinese_bridge, chinese_number  # noqa: E402
from assistant.llm.backends import load_lead_writer, load_tool_model  # noqa: E402
from assistant.llm.wording import Lead  # noqa: E402
from assistant.policies import EXAMPLE_POLICIES, PolicyIndex, load_passages  # noqa: E402
from assistant.retrieval.understanding import ORDINARY_WORDS, Vocabulary, singular  # noqa: E402
from assistant.runtime import build_retriever, load_encoders  # noqa: E402
from assistant.sessions import SqliteSessionStore  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402


def _words(text: str) -> str:
    return " " + " ".join(singular(w) for w in re.findall(r"[a-z][a-z'-]*", text.lower())) + " "


NUMBER = r"(?<![\d.])\d+(?:\.\d+)?"


def ungrounded(text: str, tool_io: str, vocabulary: Vocabulary) -> list[str]:
    """Facts in the answer that no tool of the conversation so far was asked for or returned.

    Numbers of two or more digits must equal a tool's number (to its printed precision:
    scores are shown rounded); prices need a tool price; catalogue terms a tool mention."""
    io_numbers = [float(x) for x in re.findall(NUMBER, tool_io)]
    problems = []
    for n in re.findall(NUMBER, text):
        if len(n.split(".")[0]) < 2 and "." not in n:
            continue  # list positions, "3 to 5 days" in a cited policy: single digits carry no product fact
        tol = 0.5 * 10 ** -len(n.split(".")[1]) if "." in n else 0.0
        if not any(abs(float(n) - x) <= tol + 1e-9 for x in io_numbers):
            problems.append(f"number {n} not from a tool")
    if re.search(r"[$€£¥₹]", text) and not re.search(r'"price": \d', tool_io):
        problems.append("a price although no tool returned one")
    if HAN.search(text):
        # A Chinese answer's catalogue words (红色, 手表) are checked as the terms they name;
        # only its Chinese runs are bridged (the English product names are checked as they are).
        runs = HAN_RUN.findall(normalise(text))
        text = f"{text} {' '.join(chinese_bridge().to_english(r).text for r in runs)}"
    # Terms are matched within a clause: "Fastrack (12), Titan (5)" names two brands, not the
    # catalogue's "fastrack titan".
    said = " | ".join(_words(part) for part in re.split(r"[(),;:。，；：（）]", text))
    io = _words(tool_io.replace("_", " "))
    terms = vocabulary.colour | vocabulary.gender | vocabulary.category | vocabulary.brand | vocabulary.season | vocabulary.usage
    for t in terms:
        w = _words(t)
        if w.strip() and t not in ORDINARY_WORDS and w in said and w not in io:
            problems.append(f"{t!r} not from a tool")
    return problems


# Written apart from the guard's own patterns, so the evaluation does not only re-run the guard.
_DENIES = re.compile(
    r"\b(sorry|unfortunately|(don'?t|do not|couldn'?t|could not|can'?t|cannot|unable to) (have|find|show)|no (products|items|results|matches)"
    r"|nothing (matched|matches|found))\b|没有找到|找不到|没找到|抱歉",
    re.I,
)
_REPORTS_DROP = re.compile(r"\bdropped\b|放宽", re.I)
_HONEST_DROP = re.compile(r"\b(dropped|no|not|without|couldn'?t|none)\b|放宽|没有|不", re.I)


# "X is the only one that matches" above several cards that all match (the checker's own wording, apart from the guard's).
_SOLE = re.compile(r"\bthe only (?:one|product|item|option|match)\b|\bonly one\b.{0,30}\b(?:match|fit|meet|suit)|只有一(?:款|个|件|双)", re.I)


def contradictions(text: str, events: list) -> list[str]:
    """Sentences of the answer that contradict what the turn did: a denial of results above
    shown cards, one card called the only match among several, a claim of a filter the search dropped, a policy number the cited passage
    does not state."""
    out = []
    shown = [p for e in events if e.type == "data-products" for p in e.data["products"]]
    for p in shown:  # product names are the catalogue's ("... I don't Have Enough Black T-shirt"), not the answer's claims
        text = text.replace(p["name"], "")
    sentences = [x for x in re.split(r"(?<=[.!?。！？])\s*", text) if x.strip()]
    if shown:
        # "Nothing matched every filter, so I dropped: ..." reports a relaxation: honest above its cards.
        out += [f"denies results above {len(shown)} cards: {x!r}" for x in sentences if _DENIES.search(x) and not _REPORTS_DROP.search(x)]
    if len(shown) > 1:
        out += [f"calls one of {len(shown)} cards the only match: {x!r}" for x in sentences if _SOLE.search(x)]
    dropped = [
        v
        for e in events
        if e.type == "data-products"
        for cond in e.data.get("filters_relaxed", [])
        if " is " in cond and " is not " not in cond
        for v in cond.split(" is ", 1)[1].split(" or ")
    ]
    for v in dropped:
        out += [f"claims the dropped filter {v!r}: {x!r}" for x in sentences if _words(v) in _words(x) and not _HONEST_DROP.search(x)]
    cited = " ".join(json.dumps(e.output, ensure_ascii=False) for e in events if e.type == "tool-output-available" and "found" in e.output)
    if any(e.type == "tool-input-available" and e.tool_name == "answer_policy_question" for e in events):
        said = set(re.findall(r"\d+", cited))
        out += [f"policy number {n} not in the cited passage" for n in re.findall(r"\d+", text) if n not in said]
    return out


def check_turn(turn: dict, events: list, known: dict[str, str], shown_before: list[dict], vocabulary: Vocabulary, tool_io: str) -> list[str]:
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
    if "each_of" in want and products:
        # Several searches in one turn: each product fits one of the asked specs, each spec is met.
        def fits(p: dict, spec: dict) -> bool:  # a spec without a colour takes any
            colour_ok = "colour" not in spec or p.get("colour") == spec["colour"]
            return p.get("category") == spec["category"] and colour_ok and p.get("gender") in spec["gender"]

        for p in products:
            if not any(fits(p, spec) for spec in want["each_of"]):
                problems.append(f"product {p['id']} ({p.get('category')}, {p.get('colour')}, {p.get('gender')}) fits no asked spec")
        for spec in want["each_of"]:
            if not any(fits(p, spec) for p in products):
                problems.append(f"nothing shown for {spec.get('colour', 'any')} {spec['category']}")
        if want.get("matching"):  # "a belt and a wallet that match": the groups share a colour
            groups = [{p.get("colour") for p in products if fits(p, spec)} for spec in want["each_of"]]
            if not set.intersection(*groups):
                problems.append(f"the items do not match: colours {[sorted(c for c in g if c) for g in groups]}")
    if "details_of" in turn:
        asked = [e.input.get("product_id") for e in events if e.type == "tool-input-available" and e.tool_name == "get_product"]
        target = products[turn["details_of"]]["id"] if len(products) > turn["details_of"] else None
        if target is None or asked != [target]:
            problems.append(f"details asked for {asked}, not the shown product #{turn['details_of'] + 1} ({target})")
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
        for e in events:  # each search's own list (a turn may hold two)
            if e.type == "data-products" and e.data["products"]:
                listing = "; ".join(f"{n}. {p['name']}" for n, p in enumerate(e.data["products"], 1))
                if listing not in text:
                    problems.append("the answer's product list differs from the products shown")
    elif re.search(r": 1\. ", text) and "compare_products" not in tools:
        # A question across the shown lists what a compare returned; names are checked below.
        problems.append("the answer lists products although none were shown")
    # A position the shopper named ("第十个", "#12") may be said back ("没有第 10 件"): theirs, not a product fact.
    said = " ".join(re.findall(r"\d+", turn["user"]) + [str(chinese_number(m)) for m in re.findall(r"[一二三四五六七八九十百]+", turn["user"])])
    problems += ungrounded(text, f"{tool_io} {said}", vocabulary)
    problems += [f"contradiction: {c}" for c in contradictions(text, events)]
    return problems


def run_mode(mode: str, s: Settings, retriever, policies: PolicyIndex, convs: list[dict], policy: str = "planner") -> dict:
    s = s.model_copy(deep=True)
    s.llm.backend = mode  # type: ignore[assignment]
    s.llm.policy = policy  # type: ignore[assignment]
    writer = load_lead_writer(s) if policy == "planner" else None  # a tool-calling model writes its own opening
    tool_model, policy = load_tool_model(s)
    leads: list[Lead] = []
    if writer is not None:  # record what the model proposed, to report how often the guard refused it
        write = writer.write
        writer.write = lambda *a: leads.append(write(*a)) or leads[-1]  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as d:
        agent = Agent(retriever, SqliteSessionStore(Path(d) / "s.db"), policies, writer=writer, tool_model=tool_model, policy=policy)
        list(agent.turn("warmup", "black shoes"))
        leads.clear()
        results, first_card, first_text, notices = [], [], [], 0
        reviews: Counter[str] = Counter()  # the model's proposed calls: kept, repaired, refused
        model_turns = fallback_turns = 0
        turn_seconds: list[float] = []
        turn_tokens: list[int] = []
        for conv in convs:
            known: dict[str, str] = {}
            shown: list[dict] = []
            tool_io = ""  # every tool input and output of the conversation so far, as JSON
            for n, turn in enumerate(conv["turns"]):
                image = load_image(Path(turn["photo"])) if turn.get("photo") else None
                t0 = time.perf_counter()
                events, t_card, t_text = [], None, None
                with get_usage_metadata_callback() as usage:  # the tool-calling model's tokens this turn
                    for e in agent.turn(conv["id"], turn["user"], image):
                        if e.type == "data-products" and t_card is None:
                            t_card = time.perf_counter() - t0
                        if e.type == "text-delta" and t_text is None:
                            t_text = time.perf_counter() - t0
                        events.append(e)
                turn_tokens.append(sum(int(u.get("total_tokens") or 0) for u in usage.usage_metadata.values()))
                if t_card is not None:
                    first_card.append(t_card * 1e3)
                if t_text is not None:
                    first_text.append(t_text * 1e3)
                notices += sum(e.type == "data-notice" for e in events)
                turn_seconds.append(time.perf_counter() - t0)
                reviews.update(e.data["action"] for e in events if e.type == "data-tool-review")
                failed = any(e.type == "data-notice" and e.data.get("code") in ("model_step_failed", "llm_unavailable") for e in events)
                fallback_turns += failed
                model_turns += (not failed) and any(e.type == "data-tool-review" for e in events)
                tool_io += json.dumps([e.input if e.type == "tool-input-available" else e.output for e in events if e.type.startswith("tool-")])
                problems = check_turn(turn, events, known, shown, retriever.vocabulary, tool_io)
                new_shown = [p for e in events if e.type == "data-products" for p in e.data["products"]]
                shown = new_shown or shown
                text = "".join(e.delta for e in events if e.type == "text-delta")
                results.append(
                    {"conversation": conv["id"], "turn": n, "user": turn["user"], "answer": text, "passed": not problems, "problems": problems}
                )
    refused = [ld for ld in leads if ld.refused]
    return {
        "mode": mode if policy == "planner" else f"{mode}/{policy}",
        "policy": policy,
        "model_turns": model_turns,  # turns the model's own calls answered
        "fallback_turns": fallback_turns,  # turns the planner answered after the model failed
        "calls_kept": reviews["kept"],
        "calls_repaired": reviews["repaired"],
        "calls_refused": reviews["refused"],
        "turn_seconds_p50": float(np.percentile(turn_seconds, 50)) if turn_seconds else None,
        "turn_seconds_p95": float(np.percentile(turn_seconds, 95)) if turn_seconds else None,
        "model_tokens_per_turn": float(np.mean(turn_tokens)) if turn_tokens and any(turn_tokens) else None,
        "turns": len(results),
        "passed": sum(r["passed"] for r in results),
        "contradictions": sum(p.startswith("contradiction:") for r in results for p in r["problems"]),
        "first_card_ms_p50": float(np.percentile(first_card, 50)),
        "first_card_ms_p95": float(np.percentile(first_card, 95)),
        "first_text_ms_p50": float(np.percentile(first_text, 50)),
        "first_text_ms_p95": float(np.percentile(first_text, 95)),
        "model_sentences": len(leads),
        "model_sentences_refused": len(refused),
        "model_seconds_p50": float(np.percentile([ld.seconds for ld in leads], 50)) if leads else None,
        "refusals": [{"sentence": ld.sentence, "why": ld.refused} for ld in refused],
        "llm_unavailable_notices": notices,
        "results": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="none,embedded", help="comma-separated: none, embedded, openai")
    ap.add_argument("--llm-url", help="openai mode: the endpoint's base URL")
    ap.add_argument("--llm-model", default="default")
    ap.add_argument("--policies", default="planner", help="openai mode: comma-separated planner, model, guarded")
    ap.add_argument("--limit", type=int, help="only the first N conversations (after --skip)")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N conversations (a long run in parts)")
    ap.add_argument("--llm-timeout", type=float, default=120.0, help="openai mode: seconds per model request (a CPU server is slow)")
    add_index_options(ap)
    ap.add_argument("--conversations", type=Path, default=Path(__file__).parent / "conversations" / "kagl.jsonl")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "conversations.json")
    a = ap.parse_args()
    s = settings_from(a)
    s.llm.url, s.llm.model, s.llm.timeout_s = a.llm_url, a.llm_model, a.llm_timeout
    enc = load_encoders(s)
    retriever = build_retriever(s, encoders=enc)
    policies = PolicyIndex(load_passages(EXAMPLE_POLICIES), enc.text)
    convs = [json.loads(line) for line in a.conversations.read_text().splitlines() if line.strip()]
    convs = convs[a.skip :]
    convs = convs[: a.limit] if a.limit else convs
    runs = [
        run_mode(m.strip(), s, retriever, policies, convs, p.strip())
        for m in a.modes.split(",")
        for p in (a.policies.split(",") if m.strip() == "openai" else ["planner"])
    ]
    print(f"{len(convs)} conversations, {runs[0]['turns']} turns")
    print(
        f"{'mode':<10}{'passed':>14}{'card p50':>10}{'card p95':>10}{'text p50':>10}{'text p95':>10}{'model said':>12}{'refused':>9}"
        f"{'contradict':>11}"
    )
    for r in runs:
        print(
            f"{r['mode']:<10}{r['passed']:>6}/{r['turns']} {r['passed'] / r['turns']:>5.1%}"
            f"{r['first_card_ms_p50']:>8.0f}ms{r['first_card_ms_p95']:>8.0f}ms{r['first_text_ms_p50']:>8.0f}ms{r['first_text_ms_p95']:>8.0f}ms"
            f"{r['model_sentences'] - r['model_sentences_refused']:>12}{r['model_sentences_refused']:>9}{r['contradictions']:>11}"
        )
    for r in runs:
        if r["policy"] != "planner":
            print(
                f"  {r['mode']}: model's calls answered {r['model_turns']} turns, planner after a failure {r['fallback_turns']}; "
                f"calls kept {r['calls_kept']}, repaired {r['calls_repaired']}, refused {r['calls_refused']}; "
                f"turn p50 {r['turn_seconds_p50']:.1f} s, p95 {r['turn_seconds_p95']:.1f} s; "
                f"model tokens a turn {r['model_tokens_per_turn'] or 0:.0f}"
            )
    for r in runs:
        for res in r["results"]:
            if not res["passed"]:
                print(f"  FAIL [{r['mode']}] {res['conversation']} turn {res['turn']} {res['user']!r}: {'; '.join(res['problems'])}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, {"conversations": len(convs), "runs": runs})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
