"""The dialogue agent: one shopper turn → a stream of typed events.

    message (+ photo) → plan (deterministic planner) → tool calls (tools/registry)
      → session update → answer: [model's opening sentence, guarded] + templated facts
      → events: start, tool-input/output, data-products, data-facets, data-notice, text-*,
        error, finish

Correctness never depends on a model: the planner decides what to do, the tools return the
facts, and every product named in an answer comes from a tool result. A configured language
model (`assistant.llm`) only adds an opening sentence, released after the grounding guard
has checked it against the turn's facts; product cards are sent before it is asked. Product text is
data: it is shown, never followed. A refused input or a failed step is an `error` event,
and the session stays exactly as it was before the turn.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, Iterator
from typing import Any

from PIL import Image
from pydantic import BaseModel

from assistant.errors import AssistantError, LLMBusy, LLMUnavailable
from assistant.events import (
    DataFacets,
    DataNotice,
    DataProducts,
    ErrorEvent,
    Finish,
    Start,
    TextDelta,
    TextEnd,
    TextStart,
    ToolInputAvailable,
    ToolOutputAvailable,
)
from assistant.llm.guard import Guard
from assistant.llm.wording import LeadWriter
from assistant.planner import Plan, ShownProduct, plan_turn
from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.retrieval.understanding import parse_query
from assistant.sessions import PendingAction, SessionState, SessionStore, ShownCard, open_session
from tools.context import ToolContext
from tools.registry import ToolError, call_tool
from tools.types import SearchResult

BROAD_RESULT = 40  # more matches than this: ask a clarifying question from the brand facets
PAGE = 5  # products shown per answer
SEEN_LIMIT = 200  # products remembered for in-session personalisation
FILTER_FIELDS = ("colour", "gender", "category", "brand", "exclude_brand")
# Fixed answer openings the agent recognises when it describes a turn to the model.
NOTHING_FOUND = "I found no products for that."
OUT_OF_SCOPE = "I could not find anything like that in this store's catalogue"
NO_POLICY = "I don't have a store policy that answers that"
# Generic openings of search answers that the model's own sentence replaces.
GENERIC_LEADS = ("Here is what I found: ", "Here are more: ", "Here is what looks like your photo: ")

# The in-process model words answers only when turns come one at a time: a turn that started
# while another ran, within this window, means shoppers at once, whose cards matter more.
BUSY_WINDOW_S = 2.0

Steps = Generator[BaseModel, None, str]  # yields events, returns the answer text


class Agent:
    """Runs turns for many sessions over one retriever, session store and policy set."""

    def __init__(
        self,
        retriever: Retriever,
        store: SessionStore,
        policies: PolicyIndex | None = None,
        page: int = PAGE,
        writer: LeadWriter | None = None,
    ) -> None:
        self.retriever = retriever
        self.store = store
        self.policies = policies
        self.page = page
        self.writer = writer  # None: templated answers only
        self._active = 0  # turns running now, in any thread
        self._overlapped_at = -BUSY_WINDOW_S  # when a turn last started while another ran (monotonic s)
        self._active_lock = threading.Lock()

    def turn(self, session_id: str | None, message: str, image: Image.Image | None = None) -> Iterator[BaseModel]:
        """Run one turn, yielding events; the session is saved only when the turn succeeds.
        The session is held from load to save (run the whole turn in one thread and close it)."""
        with self._active_lock:
            self._active += 1
            if self._active > 1:
                self._overlapped_at = time.monotonic()
        try:
            if session_id is None:
                yield from self._turn(None, message, image)
                return
            with self.store.held(session_id):
                yield from self._turn(session_id, message, image)
        finally:
            with self._active_lock:
                self._active -= 1

    def _turn(self, session_id: str | None, message: str, image: Image.Image | None) -> Iterator[BaseModel]:
        state = open_session(self.store, session_id)
        work = state.model_copy(deep=True)  # the turn edits a copy: a failure leaves `state` as it was
        yield Start(message_id=uuid.uuid4().hex, session_id=work.session_id)
        try:
            shown = [ShownProduct(c.id, c.name, c.category, c.colour) for c in work.shown]
            plan = plan_turn(message, shown, work.focus, work.last_query is not None, work.pending is not None, image is not None)
            text = yield from self._act(plan, ToolContext(self.retriever, work, self.policies), work, image)
        except AssistantError as e:
            shown_text = e.message if e.user_visible else "Something went wrong on our side; please try again."
            yield ErrorEvent(error_text=shown_text, code=_code(e), retryable=e.retryable)
            yield Finish()
            return
        lead = ""
        if self.writer is not None:
            try:
                lead = self._lead(message, plan, work, text, photo=image is not None)
            except LLMUnavailable as e:
                yield DataNotice(data={"code": e.code, "text": f"{e.message}; answering without it."})
        if lead:
            body = next((text[len(g) :] for g in GENERIC_LEADS if text.startswith(g)), text)
            text = f"{lead} {body}"
        work.add_turn("user", message or "[photo]")
        work.add_turn("assistant", text)
        self.store.save(work)
        yield from _text_events(text)
        yield Finish()

    def _lead(self, message: str, plan: Plan, s: SessionState, text: str, photo: bool) -> str:
        """The model's opening sentence if the guard lets it through, else ""."""
        assert self.writer is not None
        note = _note(plan, s, text, photo)
        if note is None:
            return ""
        if self.writer.in_process and self._busy():
            # A model on this machine's CPU would slow every other turn's cards to word this one;
            # with other turns running or arriving, the templated answer stands (the notice says so).
            raise LLMBusy(f"the {self.writer.name} model is left out while other answers are being made")
        lead = self.writer.write(message or "(a photo)", note, Guard(f"{note} {text}", self.retriever.vocabulary))
        return "" if lead.refused else lead.sentence

    def _busy(self) -> bool:
        """Other turns running now, or turns overlapping within the last BUSY_WINDOW_S: shoppers
        are arriving faster than one at a time (turns one after another never count)."""
        with self._active_lock:
            return self._active > 1 or time.monotonic() - self._overlapped_at < BUSY_WINDOW_S

    def _call(self, ctx: ToolContext, name: str, args: dict[str, Any]) -> Generator[BaseModel, None, Any]:
        call_id = uuid.uuid4().hex[:12]
        yield ToolInputAvailable(tool_call_id=call_id, tool_name=name, input=args)
        result = call_tool(ctx, name, args)
        yield ToolOutputAvailable(tool_call_id=call_id, output=result.model_dump(mode="json"))
        return result

    # -- one plan → tool calls and the answer text -----------------------------------------

    def _act(self, plan: Plan, ctx: ToolContext, s: SessionState, image: Image.Image | None) -> Steps:
        if plan.problem:
            return plan.problem
        i = plan.intent
        if i == "greeting":
            return "Hello! Tell me what you are looking for, or send a photo of something you like."
        if i in ("search", "refine", "more"):
            return (yield from self._search(plan, ctx, s, image))
        if i == "details":
            return (yield from self._details(ctx, s, plan.product_ids[0]))
        if i == "compare":
            cmp = yield from self._call(ctx, "compare_products", {"product_ids": plan.product_ids or [c.id for c in s.shown[:2]]})
            if isinstance(cmp, ToolError):
                return f"I could not compare those: {cmp.error}."
            diff = "; ".join(f"{k}: {' vs '.join(str(v) for v in vals)}" for k, vals in cmp.different.items())
            same = ", ".join(f"{k} {v}" for k, v in cmp.same.items())
            return (
                f"Comparing {' and '.join(p.name for p in cmp.products)}. "
                + (f"They differ in {diff}." if diff else "The catalogue lists no differences.")
                + (f" They share {same}." if same else "")
            )
        if i == "similar":
            res = yield from self._call(ctx, "similar_products", {"product_id": plan.product_ids[0], "k": self.page})
            return (yield from self._show(res, s, f"Similar to {self._name(s, plan.product_ids[0])}"))
        if i == "why":
            card = next((c for c in s.shown if c.id == plan.product_ids[0]), None)
            if card is None or not card.why:
                return "I have no ranking reasons for that product: it did not come from a search."
            filters = f" Filters applied: {'; '.join(s.filters_applied)}." if s.filters_applied else ""
            return f"I picked {card.name} because it was {card.why}.{filters}"
        if i == "add_to_cart":
            if not plan.product_ids:
                return 'Which product should I add? Say for example "the first one".'
            name = self._name(s, plan.product_ids[0])
            s.pending = PendingAction(tool="add_to_cart", arguments={"product_id": plan.product_ids[0]}, prompt=f"Add {name}?")
            s.focus = plan.product_ids[0]
            return f"Shall I add {name} to your cart? (yes / no)"
        if i == "confirm" and s.pending is not None:
            action, s.pending = s.pending, None
            cart = yield from self._call(ctx, action.tool, action.arguments)
            if isinstance(cart, ToolError):
                return f"I could not do that: {cart.error}."
            return f"Added. Your cart has {cart.items} item{'s' if cart.items != 1 else ''}."
        if i == "deny":
            s.pending = None
            return "OK, I left your cart as it was."
        if i == "view_cart":
            cart = yield from self._call(ctx, "view_cart", {})
            if not cart.lines:
                return "Your cart is empty."
            return "In your cart: " + "; ".join(f"{ln.quantity} x {ln.name} (id {ln.product_id})" for ln in cart.lines) + "."
        if i == "remove_from_cart":
            in_cart = {ln.product_id for ln in s.cart}
            ids = [p for p in plan.product_ids if p in in_cart] or [ln.product_id for ln in s.cart[-1:]]
            if not ids:
                return "Your cart is empty."
            cart = yield from self._call(ctx, "remove_from_cart", {"product_id": ids[0]})
            if isinstance(cart, ToolError):
                return f"I could not remove it: {cart.error}."
            return f"Removed. Your cart has {cart.items} item{'s' if cart.items != 1 else ''}."
        if i == "policy":
            ans = yield from self._call(ctx, "answer_policy_question", {"question": plan.text or ""})
            if isinstance(ans, ToolError) or not ans.found:
                return f"{NO_POLICY}, so I won't guess. Customer service can help."
            return f"{ans.text} (Source: {ans.source}.)"
        if i in ("like", "dislike"):
            target = s.likes if i == "like" else s.dislikes
            target.extend(p for p in plan.product_ids if p not in target)
            return "Noted: I'll show you more like it." if i == "like" else "Noted: I'll show you less like it."
        return "I can find products by words or photo, compare them, manage your cart and answer store policy questions."

    def _details(self, ctx: ToolContext, s: SessionState, product_id: str) -> Steps:
        card = yield from self._call(ctx, "get_product", {"product_id": product_id})
        if isinstance(card, ToolError):
            return f"I could not find that product: {card.error}."
        s.focus = card.id
        pairs = [("brand", card.brand), ("category", card.category), ("colour", card.colour), ("for", card.gender), ("price", card.price)]
        facts = [f"{k}: {v}" for k, v in pairs if v is not None] + [f"{k}: {v}" for k, v in card.attributes.items()]
        return f"{card.name} (id {card.id}) — " + "; ".join(facts) + "."

    def _search(self, plan: Plan, ctx: ToolContext, s: SessionState, image: Image.Image | None) -> Steps:
        if image is not None:
            ctx.attachments["photo"] = image
            res = yield from self._call(ctx, "search_by_photo", {"image": "attachment:photo", "text": plan.text, "k": self.page})
            return (yield from self._show(res, s, "Here is what looks like your photo"))
        if plan.intent == "more" and s.last_query is not None:
            exclude = [c.id for c in s.seen]
            args = {"query": s.last_query, "filters": {**s.active_filters, "exclude_product_ids": exclude}, "k": self.page, "understand": False}
            res = yield from self._call(ctx, "search_products", args)
            return (yield from self._show(res, s, "Here are more"))
        vocab = self.retriever.vocabulary
        parsed = parse_query(plan.text or "", vocab)
        found: dict[str, Any] = {k: getattr(parsed.filters, k) for k in FILTER_FIELDS if getattr(parsed.filters, k)}
        found.update({k: v for k in ("price_min", "price_max") if (v := getattr(parsed.filters, k)) is not None})
        changes: list[str] = []
        if plan.intent == "refine" and s.last_query is not None:
            # The new words change only the fields they name; the rest of the search stays.
            merged = dict(s.active_filters)
            for k, v in found.items():
                if merged.get(k) != v:
                    changes.append(f"{k.replace('_', ' ')} {', '.join(v) if isinstance(v, list) else v}")
                merged[k] = v
            query = s.last_query
        else:
            merged, query = found, parsed.text
        res = yield from self._call(ctx, "search_products", {"query": query, "filters": merged, "k": self.page, "understand": False})
        if isinstance(res, ToolError):
            return f"The search failed: {res.error}."
        if plan.intent == "search" and not merged and res.weak_match:
            # Nothing in the catalogue resembles the words: say so rather than show noise.
            return f"{OUT_OF_SCOPE} for “{query}”. I can help with products in the catalogue, your cart and store policies."
        s.last_query, s.active_filters = query, merged
        note = ""
        if parsed.sort is not None:  # "cheaper", "cheapest", "most expensive"
            if any(p.price is not None for p in res.products):
                res.products.sort(key=lambda p: (p.price is None, p.price or 0.0), reverse=parsed.sort == "price_desc")
                changes.append("ordered by price")
            else:
                note = " This catalogue lists no prices, so I cannot order by price."
        lead = ("Updated the search" + (f" ({'; '.join(changes)})" if changes else "")) if plan.intent == "refine" else "Here is what I found"
        answer = (yield from self._show(res, s, lead)) + note
        if res.products and (res.total_matching or 0) > BROAD_RESULT and not merged.get("brand"):
            facets = yield from self._call(ctx, "get_facets", {"field": "brand", "filters": merged, "limit": 5})
            if not isinstance(facets, ToolError) and len(facets.values) > 1:
                yield DataFacets(data=facets.model_dump(mode="json"))
                options = ", ".join(f"{v.value.title()} ({v.count})" for v in facets.values)
                answer += f" {res.total_matching} products match. Which brand? {options}..."
        return answer

    def _show(self, res: SearchResult | ToolError, s: SessionState, lead: str) -> Steps:
        if isinstance(res, ToolError):
            return f"I could not search: {res.error}."
        products = _personalise(list(res.products), s) if (s.likes or s.dislikes) else list(res.products)
        if not products:
            return f"{NOTHING_FOUND} Try other words or fewer constraints."
        yield DataProducts(data={**res.model_dump(mode="json"), "products": [p.model_dump(mode="json") for p in products]})
        s.shown = [ShownCard(id=p.id, name=p.name, category=p.category, colour=p.colour, why=p.why) for p in products]
        s.seen = (s.seen + [c for c in s.shown if c.id not in {x.id for x in s.seen}])[-SEEN_LIMIT:]
        s.filters_applied = list(res.filters_applied)
        s.focus = None
        names = "; ".join(f"{n}. {p.name}" for n, p in enumerate(products, 1))
        relaxed = f" Nothing matched every filter, so I dropped: {'; '.join(res.filters_relaxed)}." if res.filters_relaxed else ""
        return f"{lead}: {names}.{relaxed}"

    @staticmethod
    def _name(s: SessionState, product_id: str) -> str:
        return next((c.name for c in s.seen if c.id == product_id), f"product {product_id}")


# What each intent did, for the model's opening sentence. Intents absent here get no model
# sentence: their templated answers (why, cart changes, a reference that cannot be resolved)
# are explanations in which a small model's extra words were measured to add errors.
NOTES = {
    "details": "describing one product",
    "compare": "comparing products",
    "similar": "showing similar products",
    "add_to_cart": "asking the shopper to confirm before changing the cart",
    "policy": "answering from the store policy documents",
    "like": "noted a like; later results will show more like it",
    "dislike": "noted a dislike; later results will show less like it",
}


def _note(plan: Plan, s: SessionState, text: str, photo: bool) -> str | None:
    """What the turn did, in a few words, for the model's opening sentence (None: no sentence)."""
    if plan.problem:
        return None
    if text.startswith(OUT_OF_SCOPE):
        return "out of scope: nothing like that in the catalogue"
    if text.startswith(NOTHING_FOUND):
        return "no products found"
    if text.startswith(NO_POLICY):
        return "no store policy answers this; do not guess"
    if photo:
        return "showing products that look like the shopper's photo" + (f", {plan.text}" if plan.text else "")
    if plan.intent in ("search", "refine", "more"):
        # The query's words only on a new search: after a refinement they may contradict the
        # filters ("shirts for women", then "for men").
        words = [s.last_query or "products"] if plan.intent == "search" else []
        words += [f"{k.replace('_', ' ')}: {', '.join(v) if isinstance(v, list) else v}" for k, v in s.active_filters.items() if v]
        lead = {"search": "showing products: ", "refine": "showing the updated search: ", "more": "showing more of the same search: "}
        return lead[plan.intent] + "; ".join(words)
    return NOTES.get(plan.intent)


def _personalise(products: list[Any], s: SessionState) -> list[Any]:
    """In-session re-ranking (the founding design's personalised recommendation): products
    sharing category or colour with liked ones move up, with disliked ones down."""
    seen = {c.id: c for c in s.seen}
    liked = [seen[i] for i in s.likes if i in seen]
    disliked = [seen[i] for i in s.dislikes if i in seen]

    def score(p: Any) -> float:
        bonus = sum(0.5 * (p.category == c.category) + 0.3 * (p.colour == c.colour) for c in liked)
        bonus -= sum(0.5 * (p.category == c.category) + 0.3 * (p.colour == c.colour) for c in disliked)
        return bonus - 0.01 * p.rank

    return sorted(products, key=score, reverse=True)


def _text_events(text: str) -> Iterator[BaseModel]:
    tid = uuid.uuid4().hex[:8]
    yield TextStart(id=tid)
    for n, word in enumerate(text.split(" ")):
        yield TextDelta(id=tid, delta=word if n == 0 else " " + word)
    yield TextEnd(id=tid)


def _code(e: AssistantError) -> str:
    """`QueryError` → "query_error": the error class as a machine-readable code."""
    name = type(e).__name__.rstrip("_")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
