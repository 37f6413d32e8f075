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

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from PIL import Image
from pydantic import BaseModel, ValidationError

from assistant import stages
from assistant.compound import split_steps, undone
from assistant.errors import AssistantError, LLMBusy, LLMUnavailable, NoProductInVideo, SessionStoreUnavailable, VideoError, VideoTooLong
from assistant.events import (
    DataFacets,
    DataNotice,
    DataProducts,
    DataToolReview,
    ErrorEvent,
    Finish,
    Start,
    TextDelta,
    TextEnd,
    TextStart,
    ToolInputAvailable,
    ToolOutputAvailable,
)
from assistant.history import HISTORY_TOKENS, note_calls, remember
from assistant.intents import ExemplarIntents, IntentsByLanguage, chinese_intents
from assistant.language.text import Language, answer_language
from assistant.language.zh import chinese_bridge
from assistant.llm.guard import Guard
from assistant.llm.wording import LeadWriter
from assistant.messages import SEPARATOR, field_name, join_names, say
from assistant.planner import Plan, ShownProduct, plan_turn, which_question
from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.retrieval.understanding import GENDER_EXPANSION, parse_query, singular
from assistant.sessions import EarlierSearch, PendingAction, SessionState, SessionStore, ShownCard, open_session
from assistant.tool_loop import Policy, ToolLoopFailed, TurnContext, ask_model, review_call, start_exchange, tell_model
from assistant.video.decode import DecodedClip
from assistant.voice.hearing import Doubt, spoken_search
from tools.context import ToolContext
from tools.registry import ToolError, call_tool, get_tool
from tools.types import ProductCard, SearchResult

BROAD_RESULT = 40  # more matches than this: ask a clarifying question from the brand facets
PAGE = 5  # products shown per answer
SEEN_LIMIT = 200  # products remembered for in-session personalisation
EARLIER_LIMIT = 10  # earlier searches remembered for "go back"
PERSONAL_POOL = 4  # with likes or dislikes, searches fetch 4 pages and show the best one for the shopper
VIDEO_CARDS = 3  # cards per product a clip shows: a clip of four products is twelve cards
VIDEO_ERRORS: dict[str, type[VideoError]] = {e.code: e for e in (VideoError, VideoTooLong, NoProductInVideo)}
MAX_DETAILS = 3  # products described in one answer ("tell me about the 2nd and 4th")
FILTER_FIELDS = ("colour", "gender", "category", "brand", "exclude_brand")

# The in-process model words answers only when turns come one at a time: a turn that started
# while another ran, within this window, means shoppers at once, whose cards matter more.
BUSY_WINDOW_S = 2.0

Outcome = Literal["nothing_found", "out_of_scope", "no_policy"]


@dataclass
class Answer:
    """What a turn's step says, and what it came to: the model's note and the agent read
    these fields, never the text."""

    text: str
    outcome: Outcome | None = None  # a turn that found nothing to show, and why
    generic_lead: str | None = None  # the text's opening that the model's own sentence replaces
    by_model: bool = False  # a tool-calling model chose the steps and wrote the opening
    steps: int = 1  # steps of a message that asked for several ("... then compare the first two"); no model opening then


Steps = Generator[BaseModel, None, Answer]  # yields events, returns the answer


class Agent:
    """Runs turns for many sessions over one retriever, session store and policy set."""

    def __init__(
        self,
        retriever: Retriever,
        store: SessionStore,
        policies: PolicyIndex | None = None,
        page: int = PAGE,
        writer: LeadWriter | None = None,
        exemplar_intents: bool = True,
        tool_model: BaseChatModel | None = None,
        policy: Policy = "planner",
        history_tokens: int = HISTORY_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retriever = retriever
        self.store = store
        self.policies = policies
        self.page = page
        self.broad_result = BROAD_RESULT  # more matches than this: a clarifying question
        self.writer = writer  # None: templated answers only
        self.exemplar_intents = exemplar_intents  # the planner's fallback for phrasings its rules lack
        # A model with the tools bound (`llm.backends.load_tool_model`); with policy "model" or
        # "guarded" it chooses a turn's steps, and the planner answers whenever it fails.
        self.tool_model = tool_model if policy != "planner" else None
        self.policy: Policy = policy if tool_model is not None else "planner"
        self.history_tokens = history_tokens  # recent turns and their summary, for a model to read
        self._intents: IntentsByLanguage | None = None
        self._active = 0  # turns running now, in any thread
        self._overlapped_at = -BUSY_WINDOW_S  # when a turn last started while another ran (monotonic s)
        self._active_lock = threading.Lock()
        self._clock = clock  # for the busy window (a test moves it instead of sleeping)

    def turn(
        self,
        session_id: str | None,
        message: str,
        image: Image.Image | None = None,
        doubt: Doubt | None = None,
        video: bytes | DecodedClip | None = None,
    ) -> Iterator[BaseModel]:
        """Run one turn, yielding events; the session is saved only when the turn succeeds.
        The session is held from load to save (run the whole turn in one thread and close it).
        `doubt`: a spoken message's unsure word (`assistant.voice.hearing`); a search that names
        no kind of product then asks back ("did you mean sarees?") instead of searching.
        `video`: a clip's file (`assistant.video`): one card group per product it shows."""
        with self._active_lock:
            self._active += 1
            if self._active > 1:
                self._overlapped_at = self._clock()
        try:
            if session_id is None:
                yield from self._turn(None, message, image, doubt, video)
                return
            with self.store.held(session_id):
                yield from self._turn(session_id, message, image, doubt, video)
        except SessionStoreUnavailable as e:
            # The sessions database went away (or restarts) before the turn saved: nothing of
            # it was kept, so the shopper may simply send it again.
            yield ErrorEvent(error_text=e.text(answer_language(message)), code=e.code, retryable=True)
            yield Finish()
        finally:
            with self._active_lock:
                self._active -= 1

    def _turn(
        self, session_id: str | None, message: str, image: Image.Image | None, doubt: Doubt | None = None, video: bytes | DecodedClip | None = None
    ) -> Iterator[BaseModel]:
        state = open_session(self.store, session_id)
        work = state.model_copy(deep=True)  # the turn edits a copy: a failure leaves `state` as it was
        yield Start(message_id=uuid.uuid4().hex, session_id=work.session_id)
        language: Language | None = None  # the plan's; an input refused before planning is told by its script
        try:
            plan = self._plan(message, work, pending=work.pending is not None, photo=image is not None or video is not None)
            language = plan.language
            ctx = ToolContext(self.retriever, work, self.policies)
            answer: Answer | None = None
            if doubt is not None and plan.intent == "search" and not plan.problem:
                # A spoken search (never "add it to my cart"): run as heard, on the reading heard
                # again, or asked about; `spoken_search` is the one rule, the voice benchmarks' too.
                run_on = spoken_search(doubt, plan.text or "", self.retriever.vocabulary)
                if run_on is None:
                    answer = self._ask_back(plan, work, doubt)
                elif run_on != (plan.text or ""):
                    # Heard again, and Whisper's own score supports the reading that names a kind of
                    # product: it is searched, and the shopper told what was heard.
                    yield DataNotice(data={"code": "heard_again", "text": say(plan.language, "heard_again", heard=message.strip(), query=run_on)})
                    message = run_on
                    plan = self._plan(message, work, pending=work.pending is not None, photo=image is not None or video is not None)
            if video is not None:
                answer = yield from self._video(plan, ctx, work, video)
            if answer is None and self.tool_model is not None and _model_may_choose(plan, image):
                attempt = work.model_copy(deep=True)  # a failed attempt leaves no trace in the session
                ctx = ToolContext(self.retriever, attempt, self.policies)
                try:
                    answer = yield from self._model_turn(message, plan, ctx, attempt)
                    work = attempt
                except (ToolLoopFailed, LLMUnavailable) as e:
                    yield DataNotice(data={"code": e.code, "text": say(plan.language, "model_left_out", error=e.message)})
            if answer is None:
                ctx = ToolContext(self.retriever, work, self.policies)
                steps = split_steps(message, self.retriever.vocabulary) if _may_split(plan, image) else None
                answer = yield from (self._steps(steps, ctx, work) if steps else self._act(plan, ctx, work, image))
        except AssistantError as e:
            language = language or answer_language(message)
            shown_text = say(language, "refused", error=e.text(language)) if e.user_visible else say(language, "internal_error")
            yield ErrorEvent(error_text=shown_text, code=_code(e), retryable=e.retryable)
            yield Finish()
            return
        text = answer.text
        lead = ""
        if self.writer is not None and plan.language in self.writer.languages and not answer.by_model and answer.steps == 1 and video is None:
            try:
                lead = self._lead(message, plan, work, answer, ctx, photo=image is not None)
            except LLMUnavailable as e:
                yield DataNotice(data={"code": e.code, "text": say(plan.language, "model_left_out", error=e.message)})
        if lead:
            body = text[len(answer.generic_lead) :] if answer.generic_lead and text.startswith(answer.generic_lead) else text
            text = f"{lead} {body}"
        remember(work, "user", message or ("[video]" if video is not None else "[photo]"), budget_tokens=self.history_tokens)
        remember(work, "assistant", text, note_calls(ctx.calls), budget_tokens=self.history_tokens)
        self.store.save(work)
        yield from _text_events(text)
        yield Finish()

    @property
    def intents(self) -> IntentsByLanguage | None:
        """The exemplar classifiers: English with the retriever's sentence encoder, Chinese with
        the multilingual one; each language's is encoded the first time it is needed."""
        if self.exemplar_intents and self._intents is None:
            self._intents = IntentsByLanguage({"en": lambda: ExemplarIntents(self.retriever.text), "zh": chinese_intents})
        return self._intents

    def _lead(self, message: str, plan: Plan, s: SessionState, answer: Answer, ctx: ToolContext, photo: bool) -> str:
        """The model's opening sentence if the guard lets it through, else ""."""
        assert self.writer is not None
        text = answer.text
        note = _note(plan, s, answer, photo)
        if note is None:
            return ""
        if self.writer.in_process and self._busy():
            # A model on this machine's CPU would slow every other turn's cards to word this one;
            # with other turns running or arriving, the templated answer stands (the notice says so).
            raise LLMBusy(f"the {self.writer.name} model is left out while other answers are being made")
        # The guard's facts are what the tools did, without the shopper's own words: "say they
        # cost $1" puts "$1" in the query, never in the facts.
        facts = f"{_note(plan, s, answer, photo, with_query=False)} {text}"
        lead = self.writer.write(message or "(a photo)", note, self._guard(facts, ctx), plan.language)
        return "" if lead.refused else lead.sentence

    def _guard(self, facts: str, ctx: ToolContext) -> Guard:
        """The grounding guard of this turn: its facts, and what its tool calls showed and dropped."""
        shown = sum(len(products) for _, _, r in ctx.calls if isinstance(products := getattr(r, "products", None), list))
        relaxed = [c for _, _, r in ctx.calls if isinstance(r, SearchResult) for c in r.filters_relaxed]
        return Guard(facts, self.retriever.vocabulary, shown=shown, relaxed=relaxed)

    def _ask_back(self, plan: Plan, s: SessionState, doubt: Doubt) -> Answer:
        """A spoken search whose words name no kind of product and hold a word the recogniser
        was unsure of: asked about, not searched ("Looting for men" would show noise). With a
        close catalogue term the question offers it, and a yes searches for it."""
        lang = plan.language
        if doubt.term is None or doubt.query is None:
            return Answer(say(lang, "didnt_catch", heard=doubt.heard))
        question = say(lang, "did_you_mean", heard=doubt.heard, term=doubt.term)
        s.pending = PendingAction(tool="search", arguments={"query": doubt.query}, prompt=question)
        return Answer(question)

    def _busy(self) -> bool:
        """Other turns running now, or turns overlapping within the last BUSY_WINDOW_S: shoppers
        are arriving faster than one at a time (turns one after another never count)."""
        with self._active_lock:
            return self._active > 1 or self._clock() - self._overlapped_at < BUSY_WINDOW_S

    def _call(self, ctx: ToolContext, name: str, args: dict[str, Any]) -> Generator[BaseModel, None, Any]:
        call_id = uuid.uuid4().hex[:12]
        yield ToolInputAvailable(tool_call_id=call_id, tool_name=name, input=args)
        result = call_tool(ctx, name, args)
        ctx.calls.append((name, args, result))
        yield ToolOutputAvailable(tool_call_id=call_id, output=result.model_dump(mode="json"))
        return result

    def _steps(self, steps: list[str], ctx: ToolContext, s: SessionState) -> Steps:
        """Several steps of one message, in order, each planned on what the one before showed."""
        answers = []
        for text in steps:
            answers.append((yield from self._act(self._plan(text, s), ctx, s, None)))
        outcome = next((a.outcome for a in answers if a.outcome), None)
        return Answer(" ".join(a.text for a in answers), outcome=outcome, steps=len(answers))

    def _plan(self, text: str, s: SessionState, pending: bool = False, photo: bool = False) -> Plan:
        """A message, or one step of it, planned on what the session shows now."""
        shown = [ShownProduct(c.id, c.name, c.category, c.colour) for c in s.shown]
        cart = [ShownProduct(ln.product_id, ln.name) for ln in s.cart]
        started = time.perf_counter()
        plan = plan_turn(text, shown, s.focus, s.last_query is not None, pending, photo, self.retriever.vocabulary, self.intents, cart)
        stages.record("plan", time.perf_counter() - started)
        return plan

    # -- one plan → tool calls and the answer ---------------------------------------------

    def _act(self, plan: Plan, ctx: ToolContext, s: SessionState, image: Image.Image | None) -> Steps:
        lang = plan.language
        if plan.problem:
            return Answer(plan.problem)
        i = plan.intent
        if i == "unsupported_language":
            return Answer(say("en", "unsupported_language"))
        if i == "greeting":
            return Answer(say(lang, "greeting"))
        if i in ("search", "refine", "more"):
            return (yield from self._search(plan, ctx, s, image))
        if i == "back":
            return (yield from self._back(ctx, s, lang))
        if i == "which":
            return (yield from self._which(plan, ctx, s))
        if i == "details":
            parts = []
            for product_id in plan.product_ids[:MAX_DETAILS]:  # "show me the 2nd and 4th"
                part = yield from self._details(ctx, s, product_id, lang)
                parts.append(part.text)
            return Answer(" ".join(parts))
        if i == "compare":
            return (yield from self._compare(ctx, plan.product_ids or [c.id for c in s.shown[:2]], lang))
        if i == "similar":
            return (yield from self._similar(ctx, s, plan.product_ids[0], lang))
        if i == "why":
            card = next((c for c in s.shown if c.id == plan.product_ids[0]), None)
            if card is None or not card.why:
                return Answer(say(lang, "no_reasons"))
            filters = say(lang, "why_filters", filters="; ".join(s.filters_applied)) if s.filters_applied else ""
            return Answer(say(lang, "why", name=card.name, why=card.why, filters=filters))
        if i == "add_to_cart":
            if not plan.product_ids:
                return Answer(say(lang, "which_to_add"))
            return self._ask_to_add(s, plan.product_ids, lang)
        if i == "confirm" and s.pending is not None and s.pending.tool == "search":
            # A yes to "did you mean sarees?": the search, as if the shopper had said it so.
            action, s.pending = s.pending, None
            return (yield from self._search(self._plan(str(action.arguments["query"]), s), ctx, s, None))
        if i == "confirm" and s.pending is not None:
            action, s.pending = s.pending, None
            cart, failed = None, []
            for arguments in action.calls():  # "add both": every product the shopper said yes to
                result = yield from self._call(ctx, action.tool, arguments)
                if isinstance(result, ToolError):
                    failed.append(result.error)
                else:
                    cart = result
            if cart is None:
                return Answer(say(lang, "cart_failed", error=failed[0]))
            done = say(lang, "removed" if action.tool == "remove_from_cart" else "added", count=cart.items)
            return Answer(f"{done} {say(lang, 'cart_failed', error='; '.join(failed))}" if failed else done)
        if i == "deny":
            searching = s.pending is not None and s.pending.tool == "search"
            s.pending = None
            return Answer(say(lang, "say_again" if searching else "cart_unchanged"))
        if i == "view_cart":
            return (yield from self._view_cart(ctx, lang))
        if i == "remove_from_cart":
            in_cart = {ln.product_id for ln in s.cart}
            ids = [p for p in plan.product_ids if p in in_cart] or [ln.product_id for ln in s.cart[-1:]]
            if not ids:
                return Answer(say(lang, "cart_empty"))
            return self._ask_to_remove(s, ids, lang)
        if i == "policy":
            question = plan.text or ""
            if lang == "zh":  # the policy documents are English: ask in the words they use
                question = chinese_bridge().to_english(question).text or question
            return (yield from self._policy(ctx, question, lang))
        if i in ("like", "dislike"):
            target = s.likes if i == "like" else s.dislikes
            target.extend(p for p in plan.product_ids if p not in target)
            noted = say(lang, "liked" if i == "like" else "disliked")
            if plan.show_others and s.last_query is not None:
                # "these are too flashy, something more subtle": noted, and others shown at once.
                others = yield from self._search(Plan("more", language=lang), ctx, s, None)
                return Answer(f"{noted} {others.text}", outcome=others.outcome)
            return Answer(noted)
        return Answer(say(lang, "capabilities"))

    # -- a turn whose steps a tool-calling model chooses ---------------------------------

    def _model_turn(self, message: str, plan: Plan, ctx: ToolContext, s: SessionState) -> Steps:
        """The model proposes calls, each is reviewed (`tool_loop.review_call`) and run as one
        of the agent's own steps, until it replies; its reply opens the answer if the guard
        finds it grounded in the turn's tool results, and the steps' templated facts follow.
        Raises `ToolLoopFailed` or `LLMUnavailable`; the caller then answers with the planner."""
        assert self.tool_model is not None
        review = TurnContext(message, plan, s, self.retriever.vocabulary, self.page)
        ex = start_exchange(message, s)
        answers: list[Answer] = []
        while True:
            try:
                ai = ask_model(self.tool_model, ex)
            except ToolLoopFailed as e:
                if not answers:
                    raise
                # Steps already ran (a model that asks again for what it was just given): their
                # answers stand, without the model's words.
                yield DataNotice(data={"code": e.code, "text": say(plan.language, "model_left_out", error=e.message)})
                reply = ""
                break
            if not ai.tool_calls:
                reply = str(ai.content or "").strip()
                break
            for call in ai.tool_calls:
                verdict = review_call(call["name"], call["args"], review, self.policy)
                yield DataToolReview(data={"tool": call["name"], "proposed": call["args"], "action": verdict.action, "reason": verdict.reason})
                if verdict.action == "refused":
                    tell_model(ex, call["id"], ToolError(tool=call["name"], error=verdict.reason or "refused").model_dump())
                    continue
                problem = _schema_problem(call["name"], verdict.arguments)
                if problem is not None:
                    tell_model(ex, call["id"], ToolError(tool=call["name"], error=problem).model_dump())
                    continue
                before = len(ctx.calls)
                answer = yield from self._model_step(call["name"], verdict.arguments, ctx, s, plan.language)
                answers.append(answer)
                results = [r.model_dump(mode="json") for _, _, r in ctx.calls[before:]]
                tell_model(ex, call["id"], results[-1] if results else {"status": answer.text})
                if s.pending is not None:  # a cart change waits for the shopper's yes: the turn ends here
                    return Answer(answer.text, by_model=True)
        if self.policy == "guarded" and answers and s.pending is None:
            # The guard holds the model to the whole request: steps of the message it left
            # undone ("... and a brown wallet") run as the planner's, in order.
            for step in undone(review.steps, [(n, a) for n, a, _ in ctx.calls]):
                yield DataToolReview(
                    data={"tool": step.tool or step.intent, "proposed": {}, "action": "repaired", "reason": f"left undone: {step.text!r}"}
                )
                answers.append((yield from self._act(self._plan(step.text, s), ctx, s, None)))
        templated = " ".join(a.text for a in answers)
        if not answers and (not reply or plan.intent not in NO_TOOL_INTENTS):
            # A request the tools answer, answered from the model's own knowledge (or not at all).
            raise ToolLoopFailed("the model answered without calling a tool")
        facts = json.dumps([r.model_dump(mode="json") for _, _, r in ctx.calls], ensure_ascii=False) + " " + templated
        opening = _first_sentences(reply)
        if opening and self._guard(facts, ctx).violation(opening) is not None:
            if not answers:
                raise ToolLoopFailed("the model's reply stated what no tool returned")
            opening = ""  # the templated facts stand alone
        outcome = next((a.outcome for a in answers if a.outcome), None)
        return Answer(f"{opening} {templated}".strip(), outcome=outcome, by_model=True)

    def _model_step(self, name: str, args: dict[str, Any], ctx: ToolContext, s: SessionState, lang: Language) -> Steps:
        """One reviewed call, run as the planner's step of the same tool would run it."""
        if name == "search_products":
            args = {**args, "k": min(int(args.get("k") or self.page), self.page)}
            res = yield from self._call(ctx, name, args)
            if isinstance(res, ToolError):
                return Answer(say(lang, "search_failed", error=res.error))
            filters = {k: v for k, v in (args.get("filters") or {}).items() if v not in (None, [], "")}
            query = str(args.get("query") or "")
            if s.last_query is not None and (s.last_query, s.active_filters) != (query, filters):
                s.earlier = [*s.earlier, EarlierSearch(query=s.last_query, filters=s.active_filters)][-EARLIER_LIMIT:]
            s.last_query, s.active_filters = query, filters
            return (yield from self._show(res, s, say(lang, "found"), lang))
        if name == "get_product":
            return (yield from self._details(ctx, s, str(args["product_id"]), lang))
        if name == "compare_products":
            return (yield from self._compare(ctx, [str(i) for i in args["product_ids"]], lang))
        if name == "similar_products":
            return (yield from self._similar(ctx, s, str(args["product_id"]), lang))
        if name == "view_cart":
            return (yield from self._view_cart(ctx, lang))
        if name == "add_to_cart":
            return self._ask_to_add(s, [str(args["product_id"])], lang)
        if name == "remove_from_cart":
            return self._ask_to_remove(s, [str(args["product_id"])], lang)
        question = str(args.get("question") or "")
        if lang == "zh":
            question = chinese_bridge().to_english(question).text or question
        return (yield from self._policy(ctx, question, lang))

    # -- steps, each a typed answer and the events of its tool calls ---------------------

    def _compare(self, ctx: ToolContext, ids: list[str], lang: Language) -> Steps:
        cmp = yield from self._call(ctx, "compare_products", {"product_ids": ids})
        if isinstance(cmp, ToolError):
            return Answer(say(lang, "compare_failed", error=cmp.error))
        sep = SEPARATOR[lang]
        diff = sep.join(f"{field_name(lang, k)}: {' vs '.join(str(v) for v in vals)}" for k, vals in cmp.different.items())
        same = ", ".join(f"{field_name(lang, k)} {v}" for k, v in cmp.same.items())
        names = (" and " if lang == "en" else " 和 ").join(p.name for p in cmp.products)
        return Answer(
            say(lang, "comparing", names=names)
            + (say(lang, "differ", diff=diff) if diff else say(lang, "no_difference"))
            + (say(lang, "share", same=same) if same else "")
        )

    def _similar(self, ctx: ToolContext, s: SessionState, product_id: str, lang: Language) -> Steps:
        res = yield from self._call(ctx, "similar_products", {"product_id": product_id, "k": self.page})
        return (yield from self._show(res, s, say(lang, "similar", name=self._name(s, product_id)), lang))

    def _ask_to_add(self, s: SessionState, product_ids: list[str], lang: Language) -> Answer:
        """No cart change yet: the shopper is asked, and the next turn's yes makes it (for every
        product named: "add both" asks about both)."""
        name = join_names(lang, [self._name(s, p) for p in product_ids])
        calls = [{"product_id": p} for p in product_ids]
        s.pending = PendingAction(tool="add_to_cart", arguments=calls[0], more=calls[1:], prompt=say(lang, "pending_add", name=name))
        s.focus = product_ids[-1]
        return Answer(say(lang, "confirm_add", name=name))

    def _ask_to_remove(self, s: SessionState, product_ids: list[str], lang: Language) -> Answer:
        """No cart change yet, as for an add: "remove it" names the line to go, the next turn's
        yes removes it (a misheard "remove" over the phone must not empty a cart)."""
        names = {ln.product_id: ln.name for ln in s.cart}
        name = join_names(lang, [names.get(p) or self._name(s, p) for p in product_ids])
        calls = [{"product_id": p} for p in product_ids]
        s.pending = PendingAction(tool="remove_from_cart", arguments=calls[0], more=calls[1:], prompt=say(lang, "pending_remove", name=name))
        return Answer(say(lang, "confirm_remove", name=name))

    def _view_cart(self, ctx: ToolContext, lang: Language) -> Steps:
        cart = yield from self._call(ctx, "view_cart", {})
        if isinstance(cart, ToolError):
            return Answer(say(lang, "cart_failed", error=cart.error))
        if not cart.lines:
            return Answer(say(lang, "cart_empty"))
        lines = SEPARATOR[lang].join(say(lang, "cart_line", quantity=ln.quantity, name=ln.name, id=ln.product_id) for ln in cart.lines)
        return Answer(say(lang, "cart", lines=lines))

    def _policy(self, ctx: ToolContext, question: str, lang: Language) -> Steps:
        ans = yield from self._call(ctx, "answer_policy_question", {"question": question})
        if isinstance(ans, ToolError) or not ans.found:
            return Answer(say(lang, "no_policy"), outcome="no_policy")
        return Answer(say(lang, "policy", text=ans.text, source=ans.source))

    def _back(self, ctx: ToolContext, s: SessionState, lang: Language) -> Steps:
        """The search before the current one, run again (its results, not a new page)."""
        if not s.earlier:
            return Answer(say(lang, "no_back"))
        earlier = s.earlier.pop()
        res = yield from self._call(ctx, "search_products", {"query": earlier.query, "filters": earlier.filters, "k": self.page, "understand": False})
        if isinstance(res, ToolError):
            s.earlier.append(earlier)
            return Answer(say(lang, "search_failed", error=res.error))
        s.last_query, s.active_filters = earlier.query, earlier.filters
        return (yield from self._show(res, s, say(lang, "back"), lang))

    def _which(self, plan: Plan, ctx: ToolContext, s: SessionState) -> Steps:
        """A question across the shown products: by price or year when it asks for an order,
        else which of them the catalogue's words say it of; never a guess."""
        lang = plan.language
        ids = plan.product_ids[:5]
        if len(ids) == 1:
            one = yield from self._call(ctx, "get_product", {"product_id": ids[0]})
            cards = [] if isinstance(one, ToolError) else [one]
        else:
            cmp = yield from self._call(ctx, "compare_products", {"product_ids": ids})
            cards = [] if isinstance(cmp, ToolError) else list(cmp.products)
        if not cards:
            return Answer(say(lang, "nothing_shown"))
        question = which_question(plan.text or "", lang)
        if question.order in ("price_asc", "price_desc"):
            priced = [c for c in cards if c.price is not None]
            if not priced:
                return Answer(say(lang, "which_no_prices"))
            best = (min if question.order == "price_asc" else max)(priced, key=lambda c: c.price or 0.0)
            s.focus = best.id
            return Answer(say(lang, "which_price", name=best.name, order=say(lang, question.order), price=f"{best.price:g}"))
        if question.order in ("year_desc", "year_asc"):
            dated = [c for c in cards if isinstance(c.attributes.get("year"), int | float)]
            if dated:
                best = (max if question.order == "year_desc" else min)(dated, key=lambda c: float(c.attributes["year"]))
                s.focus = best.id
                return Answer(say(lang, "which_year", name=best.name, order=say(lang, question.order), year=best.attributes["year"]))
        facts = SEPARATOR[lang].join(f"{n}. {_card_facts(c, lang)}" for n, c in enumerate(cards, 1))
        if not question.words:
            return Answer(say(lang, "which_ask", facts=facts))
        hits = [c for c in cards if all(w in _card_words(c) for w in question.words)]
        shown_words = " ".join(question.shown_words)
        if hits:
            s.focus = hits[0].id
            return Answer(say(lang, "which_mention", names=", ".join(c.name for c in hits), words=shown_words))
        return Answer(say(lang, "which_unknown", words=shown_words, facts=facts))

    def _details(self, ctx: ToolContext, s: SessionState, product_id: str, lang: Language) -> Steps:
        card = yield from self._call(ctx, "get_product", {"product_id": product_id})
        if isinstance(card, ToolError):
            return Answer(say(lang, "no_product", error=card.error))
        s.focus = card.id
        pairs = [("brand", card.brand), ("category", card.category), ("colour", card.colour), ("for", card.gender), ("price", card.price)]
        facts = [f"{field_name(lang, k)}: {v}" for k, v in pairs if v is not None] + [
            f"{field_name(lang, k)}: {v}" for k, v in card.attributes.items()
        ]
        return Answer(say(lang, "details", name=card.name, id=card.id, facts=SEPARATOR[lang].join(facts)))

    def _search(self, plan: Plan, ctx: ToolContext, s: SessionState, image: Image.Image | None) -> Steps:
        lang = plan.language
        if image is not None:
            ctx.attachments["photo"] = image
            text = plan.text
            if text and lang == "zh":  # the catalogue CLIP reads English: the photo's words, bridged
                text = chinese_bridge().to_english(text).text or None
            res = yield from self._call(ctx, "search_by_photo", {"image": "attachment:photo", "text": text, "k": self._pool(s)})
            return (yield from self._show(res, s, say(lang, "photo"), lang, generic=True))
        if plan.intent == "more" and s.last_query is not None:
            exclude = [c.id for c in s.seen]
            filters = {**s.active_filters, "exclude_product_ids": exclude}
            args = {"query": s.last_query, "filters": filters, "k": self._pool(s), "understand": False}
            res = yield from self._call(ctx, "search_products", args)
            return (yield from self._show(res, s, say(lang, "more"), lang, generic=True))
        vocab = self.retriever.vocabulary
        parsed = parse_query(plan.text or "", vocab)
        found: dict[str, Any] = {k: getattr(parsed.filters, k) for k in FILTER_FIELDS if getattr(parsed.filters, k)}
        found.update({k: v for k in ("price_min", "price_max") if (v := getattr(parsed.filters, k)) is not None})
        if plan.goes_with and "gender" not in found:
            # "shirts to go with it": for whom the product they go with is made.
            partner = self.retriever.products([plan.goes_with]).get(plan.goes_with)
            gender = (partner.gender or "").lower() if partner is not None else ""
            if gender in vocab.gender:
                found["gender"] = GENDER_EXPANSION.get(gender, [gender])
        changes: list[str] = []
        if plan.intent == "refine" and s.last_query is not None:
            # The new words change only the fields they name; the rest of the search stays,
            # its words for a changed field replaced ("black watches" → "blue watches").
            merged = dict(s.active_filters)
            query = s.last_query
            for k, v in found.items():
                if merged.get(k) != v:
                    changes.append(f"{field_name(lang, k)} {', '.join(v) if isinstance(v, list) else v}")
                    query = _swap_words(query, merged.get(k), v)
                merged[k] = v
        else:
            merged, query = found, parsed.text
        if plan.intent == "search" and parsed.language == "zh" and not parsed.matches and parsed.unknown and not parsed.sort:
            # No Chinese word of the message names anything the catalogue has: the English
            # catalogue's vectors cannot read the rest, so say so instead of showing noise.
            return Answer(say(lang, "out_of_scope", query=plan.text or ""), outcome="out_of_scope")
        if plan.intent == "refine" and not changes and parsed.sort is not None and not vocab.priced and s.last_query is not None:
            # "cheaper" on a catalogue without prices: nothing can change, so nothing is re-run.
            return Answer(say(lang, "no_prices_refine"))
        unchanged = plan.intent == "refine" and not changes and parsed.sort is None and s.last_query is not None
        # A refinement that changes nothing ("something else", "hmm, other ones?") asks for
        # other products of the same search, not the same ones again.
        call_filters = {**merged, "exclude_product_ids": [c.id for c in s.seen]} if unchanged else merged
        args = {"query": query, "filters": call_filters, "k": self._pool(s), "understand": False}
        res = yield from self._call(ctx, "search_products", args)
        if isinstance(res, ToolError):
            return Answer(say(lang, "search_failed", error=res.error))
        if plan.intent == "search" and not merged and res.weak_match:
            # Nothing in the catalogue resembles the words: say so rather than show noise.
            return Answer(say(lang, "out_of_scope", query=plan.text if lang == "zh" else query), outcome="out_of_scope")
        if s.last_query is not None and (s.last_query, s.active_filters) != (query, merged):
            s.earlier = [*s.earlier, EarlierSearch(query=s.last_query, filters=s.active_filters)][-EARLIER_LIMIT:]
        s.last_query, s.active_filters = query, merged
        note = ""
        if parsed.sort is not None:  # "cheaper", "cheapest", "most expensive"
            if any(p.price is not None for p in res.products):
                res.products.sort(key=lambda p: (p.price is None, p.price or 0.0), reverse=parsed.sort == "price_desc")
                changes.append(say(lang, "ordered_by_price"))
            else:
                note = say(lang, "no_prices")
        if unchanged:
            lead = say(lang, "others")
        elif plan.intent == "refine":
            lead = say(lang, "updated_with", changes=SEPARATOR[lang].join(changes)) if changes else say(lang, "updated")
        else:
            lead = say(lang, "found")
        answer = yield from self._show(res, s, lead, lang, generic=plan.intent != "refine")
        answer.text += note
        # Too many matches: ask which brand, or, with the brand chosen, which colour.
        ask = next((f for f in ("brand", "colour") if not merged.get(f)), None)
        if res.products and (res.total_matching or 0) > self.broad_result and ask is not None:
            facets = yield from self._call(ctx, "get_facets", {"field": ask, "filters": merged, "limit": 5})
            if not isinstance(facets, ToolError) and len(facets.values) > 1:
                yield DataFacets(data=facets.model_dump(mode="json"))
                options = ", ".join(f"{v.value.title()} ({v.count})" for v in facets.values)
                answer.text += say(lang, f"which_{ask}", total=res.total_matching, options=options)
        return answer

    def _show(self, res: SearchResult | ToolError, s: SessionState, lead: str, lang: Language, generic: bool = False) -> Steps:
        if isinstance(res, ToolError):
            return Answer(say(lang, "could_not_search", error=res.error))
        products, personal = list(res.products)[: self.page], ""
        if s.likes or s.dislikes:
            # The search fetched a larger pool (`_pool`): re-ranked by what the shopper liked and
            # disliked, the disliked ones left out, then a page of it shown.
            ranked = [p for p in _personalise(list(res.products), s) if p.id not in s.dislikes][: self.page]
            if [p.id for p in ranked] != [p.id for p in products]:
                personal = say(lang, "personalised")
            products = ranked
        if not products:
            return Answer(say(lang, "nothing_found"), outcome="nothing_found")
        yield DataProducts(data={**res.model_dump(mode="json"), "products": [p.model_dump(mode="json") for p in products]})
        _record_shown(s, [ShownCard(id=p.id, name=p.name, category=p.category, colour=p.colour, why=p.why) for p in products], res.filters_applied)
        names = "; ".join(f"{n}. {p.name}" for n, p in enumerate(products, 1))
        relaxed = say(lang, "relaxed", relaxed="; ".join(res.filters_relaxed)) if res.filters_relaxed else ""
        text = say(lang, "listing", lead=lead, names=names) + relaxed + personal
        # A generic lead ("Here is what I found: ") is what a model's own opening replaces.
        opening = say(lang, "listing", lead=lead, names="")[: -len("。" if lang == "zh" else ".")]
        return Answer(text, generic_lead=opening if generic else None)

    def _video(self, plan: Plan, ctx: ToolContext, s: SessionState, clip: bytes | DecodedClip) -> Steps:
        """A clip: one card group per product it shows, numbered on from group to group, so
        that "the fourth one" afterwards means the fourth card on screen."""
        lang = plan.language
        ctx.videos["clip"] = clip
        text = plan.text or None
        if text and lang == "zh":  # the catalogue CLIP reads English: the clip's words, bridged
            text = chinese_bridge().to_english(text).text or None
        res = yield from self._call(ctx, "search_by_video", {"video": "attachment:clip", "text": text, "k": VIDEO_CARDS})
        if isinstance(res, ToolError):
            if res.code in VIDEO_ERRORS:  # the clip itself is the problem: the turn ends with its typed error
                raise VIDEO_ERRORS[res.code](res.error)
            return Answer(say(lang, "could_not_search", error=res.error))
        shown: list[ShownCard] = []
        parts = []
        for g in res.groups:
            seen = SEPARATOR[lang].join(f"{span.start_s:.0f}-{span.end_s:.0f} s" for span in g.seen)
            group = {"item": g.item, "seen": [span.model_dump() for span in g.seen], "frame_s": g.frame_s}
            yield DataProducts(data={**g.model_dump(mode="json", exclude={"item", "seen", "frame_s"}), "group": group})
            names = "; ".join(f"{len(shown) + n}. {p.name}" for n, p in enumerate(g.products, 1))
            shown += [ShownCard(id=p.id, name=p.name, category=p.category, colour=p.colour, why=p.why) for p in g.products]
            parts.append(say(lang, "video_item", item=g.item, seen=seen, names=names))
        _record_shown(s, shown, res.groups[0].filters_applied if res.groups else [])
        return Answer(say(lang, "video", n=len(res.groups), seconds=f"{res.seconds:.0f}") + " " + " ".join(parts))

    def _pool(self, s: SessionState) -> int:
        """How many products a search fetches: a page, or with likes or dislikes in the session
        a pool that many times larger, for `_show` to re-rank."""
        return self.page * PERSONAL_POOL if (s.likes or s.dislikes) else self.page

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


OUTCOME_NOTES: dict[Outcome, str] = {
    "out_of_scope": "out of scope: nothing like that in the catalogue",
    "nothing_found": "no products found",
    "no_policy": "no store policy answers this; do not guess",
}


def _note(plan: Plan, s: SessionState, answer: Answer, photo: bool, with_query: bool = True) -> str | None:
    """What the turn did, in a few words, for the model's opening sentence (None: no sentence);
    without the shopper's query words when `with_query` is off (the guard's facts)."""
    if plan.problem or plan.intent == "unsupported_language":
        return None
    if answer.outcome is not None:
        return OUTCOME_NOTES[answer.outcome]
    if photo:
        return "showing products that look like the shopper's photo" + (f", {plan.text}" if plan.text and with_query else "")
    if plan.intent in ("search", "refine", "more"):
        # The query's words only on a new search: after a refinement they may contradict the
        # filters ("shirts for women", then "for men").
        words = [s.last_query or "products"] if plan.intent == "search" and with_query else []
        words += [f"{k.replace('_', ' ')}: {', '.join(v) if isinstance(v, list) else v}" for k, v in s.active_filters.items() if v]
        lead = {"search": "showing products: ", "refine": "showing the updated search: ", "more": "showing more of the same search: "}
        return lead[plan.intent] + "; ".join(words)
    return NOTES.get(plan.intent)


SPLITTABLE = frozenset({"search", "refine", "details", "compare", "similar", "why", "add_to_cart"})


def _may_split(plan: Plan, image: Image.Image | None) -> bool:
    """Whether the planner may read a message as several steps: not with a photo (its words
    describe the photo), and not a yes or no, a cart or store question. A problem of the whole
    ("nothing is shown to compare") may be what the split resolves: its search shows them."""
    return image is None and plan.intent in SPLITTABLE


def _model_may_choose(plan: Plan, image: Image.Image | None) -> bool:
    """Turns a model may plan: not a yes or no to a pending cart change (confirmation is the
    planner's), not a photo (its attachment is the planner's), not a refused language."""
    return image is None and plan.intent not in ("confirm", "deny", "unsupported_language") and plan.problem is None


def _schema_problem(name: str, args: dict[str, Any]) -> str | None:
    """Why the arguments do not fit the tool's schema, or None: a ToolError for the model."""
    try:
        get_tool(name).args.model_validate(args)
    except ValidationError as e:
        return "invalid arguments: " + "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors())
    return None


MAX_OPENING_CHARS = 240
# Intents a model may answer without a tool call: only a greeting. "Why" needs the ranking
# reasons and a like or dislike the session's update, which the planner's steps make.
NO_TOOL_INTENTS = frozenset({"greeting"})


def _first_sentences(reply: str, n: int = 2) -> str:
    """At most `n` sentences of the model's reply, as the answer's opening."""
    parts = re.split(r"(?<=[.!?。！？])\s*", reply.strip())
    return " ".join(p for p in parts[:n] if p)[:MAX_OPENING_CHARS].strip()


def _swap_words(query: str, old: Any, new: Any) -> str:
    """The query with the words of a field's old values replaced by the first new one, so the
    semantic text agrees with the filters ("black watches" → "blue watches"); unchanged when
    the old values' words are not in it."""
    olds = {singular(str(v).lower()) for v in (old if isinstance(old, list) else [old] if old else [])}
    news = [str(v).lower() for v in (new if isinstance(new, list) else [new] if new else [])]
    words = query.split()
    kept = [w for w in words if singular(w.lower().strip(",.!?").removesuffix("'s")) not in olds]
    if len(kept) == len(words):
        return query
    return " ".join(news[:1] + kept) or query


def _card_words(card: ProductCard) -> str:
    """Everything the catalogue says of a product, as one lower-case text to look words up in."""
    values = [card.name, card.brand, card.category, card.colour, card.gender, *card.category_path, *map(str, card.attributes.values())]
    return " " + " ".join(singular(w) for w in re.findall(r"[a-z0-9]+", " ".join(v for v in values if v).lower())) + " "


def _card_facts(card: ProductCard, lang: Language) -> str:
    pairs = [("colour", card.colour), ("for", card.gender), ("price", card.price)] + sorted(card.attributes.items())
    facts = ", ".join(f"{field_name(lang, k)} {v}" for k, v in pairs if v is not None)
    return f"{card.name} ({facts})" if facts else card.name


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


def _record_shown(s: SessionState, cards: list[ShownCard], filters_applied: list[str]) -> None:
    """The cards now on screen: what "the second one" means, remembered as seen, their filters."""
    s.shown = cards
    s.seen = (s.seen + [c for c in cards if c.id not in {x.id for x in s.seen}])[-SEEN_LIMIT:]
    s.filters_applied = list(filters_applied)
    s.focus = None


def _code(e: AssistantError) -> str:
    """The error's own code where it has one ("bad_video"), else its class as one: `QueryError`
    → "query_error"."""
    if code := getattr(e, "code", None):
        return str(code)
    name = type(e).__name__.rstrip("_")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
