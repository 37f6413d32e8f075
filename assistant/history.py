"""What a model remembers of a conversation: the recent turns within a token budget, and the
turns before them folded into a summary that is data in the session.

A turn that no longer fits the budget is not simply dropped: what the shopper asked, the
searches that ran, the products looked at and the cart changes go into `HistorySummary`,
built from the turns' own tool calls (`CallNote`), so a model reading it months of turns
later still knows "they compared two brown wallets and added one". No model writes the
summary: a small model's paraphrase could remember a product or a price that never was, and
the model would then read its own invention back as a fact.

Does not own what a model is shown beside the history (`assistant.tool_loop`) nor the
session's storage (`assistant.sessions`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from assistant.language.text import HAN_RUN
from assistant.sessions import CallNote, HistorySummary, Mention, SessionState, Turn

HISTORY_TOKENS = 1_000  # the default budget: recent turns and the summary together
ASKED_LIMIT = 8  # shopper messages the summary keeps: the first one and the newest
ASKED_CHARS = 80  # each, shortened to this
SEARCH_LIMIT = 6
PRODUCT_LIMIT = 10
CART_LIMIT = 8
CART_TOOLS = {"add_to_cart": "added", "remove_from_cart": "removed"}


def estimate_tokens(text: str) -> int:
    """Tokens `text` costs a Qwen-style tokenizer, estimated without loading one: about one
    token a Chinese character and one per four other characters."""
    han = sum(len(run) for run in HAN_RUN.findall(text))
    return han + math.ceil((len(text) - han) / 4)


def summary_tokens(summary: HistorySummary) -> int:
    return estimate_tokens(json.dumps(summary_view(summary), ensure_ascii=False)) if summary.turns else 0


def remember(
    state: SessionState,
    role: Literal["user", "assistant"],
    content: str,
    calls: list[CallNote] | None = None,
    budget_tokens: int = HISTORY_TOKENS,
) -> None:
    """Append a turn, then fold the oldest turns into the summary until the recent turns and
    the summary fit `budget_tokens` (the newest turn always stays, even alone over budget)."""
    state.history.append(Turn(role=role, content=content, calls=calls or []))
    while len(state.history) > 1 and history_tokens(state) > budget_tokens:
        fold(state.summary, state.history.pop(0), {c.id: c.name for c in state.seen})


def history_tokens(state: SessionState) -> int:
    return summary_tokens(state.summary) + sum(estimate_tokens(t.content) for t in state.history)


def fold(summary: HistorySummary, turn: Turn, names: dict[str, str]) -> None:
    """One turn into the summary; every list keeps its newest entries within its limit."""
    summary.turns += 1
    if turn.role == "user":
        text = " ".join(turn.content.split())
        asked = [*summary.asked, text if len(text) <= ASKED_CHARS else text[: ASKED_CHARS - 1] + "…"]
        # The conversation's first request (what the shopper came for) stays, then the newest.
        summary.asked = asked if len(asked) <= ASKED_LIMIT else [asked[0], *asked[-(ASKED_LIMIT - 1) :]]
        return
    for call in turn.calls:
        if call.query and call.tool == "search_products":
            summary.searches = [*[q for q in summary.searches if q != call.query], call.query][-SEARCH_LIMIT:]
        for pid in call.product_ids:
            mention = Mention(id=pid, name=names.get(pid, pid))
            summary.products = [*[m for m in summary.products if m.id != pid], mention][-PRODUCT_LIMIT:]
            if call.tool in CART_TOOLS and call.changed:
                summary.cart = [*summary.cart, f"{CART_TOOLS[call.tool]} {mention.name}"][-CART_LIMIT:]


def summary_view(summary: HistorySummary) -> dict[str, Any]:
    """The summary as the model reads it (and `chat --debug` prints it): empty parts left out."""
    view: dict[str, Any] = {"earlier_turns": summary.turns}
    for key in ("asked", "searches", "cart"):
        if values := getattr(summary, key):
            view[key] = values
    if summary.products:
        view["products"] = [{"id": m.id, "name": m.name} for m in summary.products]
    return view


def note_calls(calls: list[tuple[str, dict[str, Any], Any]]) -> list[CallNote]:
    """A turn's tool calls (`ToolContext.calls`: name, arguments, result) as the history keeps them."""
    from tools.registry import ToolError

    notes = []
    for name, args, result in calls:
        ids = [args["product_id"]] if isinstance(args.get("product_id"), str) else [str(i) for i in args.get("product_ids") or []]
        query = None
        if name == "search_products":
            filters = {k: v for k, v in (args.get("filters") or {}).items() if v not in (None, [], "")}
            words = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(filters.items()))
            query = f"{args.get('query') or ''} ({words})".strip() if words else str(args.get("query") or "")
        notes.append(CallNote(tool=name, product_ids=ids, query=query or None, changed=not isinstance(result, ToolError)))
    return notes
