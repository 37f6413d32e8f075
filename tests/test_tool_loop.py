"""The review of a tool-calling model's proposed calls (the `guarded` policy's table), and
the policy choice. Fast: no model, no index; the vocabulary is the understanding tests'."""

import pytest

from assistant.planner import ShownProduct, plan_turn
from assistant.sessions import CartLine, SessionState, ShownCard
from assistant.tool_loop import TurnContext, resolve_policy, review_call
from tests.test_understanding import VOCAB

SHOWN = [ShownCard(id="11", name="Titan Men Black Watch", category="Watches", colour="Black"), ShownCard(id="22", name="Puma Men Red Shoes")]


def context(message, cart=(), last_query=None, filters=None):
    state = SessionState(
        shown=SHOWN, seen=SHOWN, cart=[CartLine(product_id=i, name=i) for i in cart], last_query=last_query, active_filters=filters or {}
    )
    shown = [ShownProduct(c.id, c.name, c.category, c.colour) for c in SHOWN]
    plan = plan_turn(message, shown, None, last_query is not None, False, False, VOCAB)
    return TurnContext(message, plan, state, VOCAB, page=5)


def search(colour=(), gender=(), category=(), brand=(), k=10):
    filters = {"colour": list(colour), "gender": list(gender), "category": list(category), "brand": list(brand), "exclude_brand": [],
               "price_min": None, "price_max": None, "exclude_product_ids": []}  # fmt: skip
    return {"query": "q", "filters": filters, "fusion": "hybrid", "k": k, "understand": True}


def test_a_search_whose_filters_follow_the_words_is_kept():
    v = review_call(
        "search_products", search(colour=["black"], gender=["men", "unisex"], category=["watches"], k=5), context("black watches for men")
    )
    assert v.action == "kept"


def test_a_colour_the_shopper_did_not_say_is_repaired_to_their_words():
    v = review_call("search_products", search(colour=["red"], category=["watches"]), context("black watches"))
    assert v.action == "repaired" and v.arguments["filters"]["colour"] == ["black"] and "colour" in (v.reason or "")
    assert v.arguments["k"] == 5 and v.arguments["understand"] is False


def test_a_filter_the_shopper_never_asked_for_is_dropped():
    v = review_call("search_products", search(brand=["nike"], category=["watches"]), context("watches"))
    assert v.action == "repaired" and v.arguments["filters"]["brand"] == []


def test_a_refinement_keeps_the_session_filters_it_does_not_change():
    t = context("in blue", last_query="watches for men", filters={"category": ["watches"], "gender": ["men", "unisex"]})
    v = review_call("search_products", search(colour=["blue"], category=["watches"], gender=["men", "unisex"], k=5), t)
    assert v.action == "kept", v.reason


@pytest.mark.parametrize(
    ("tool", "arguments", "message", "cart", "why"),
    [
        ("get_product", {"product_id": "999"}, "tell me about the first one", (), "not shown"),
        ("compare_products", {"product_ids": ["11", "999"]}, "compare the first two", (), "not shown"),
        ("remove_from_cart", {"product_id": "11"}, "remove it from my cart", (), "not in the cart"),
        ("add_to_cart", {"product_id": "11"}, "what is your return policy?", (), "did not ask"),
        ("add_to_cart", {"product_id": "11"}, "I need black watches and red shoes for men", (), "did not ask"),
        ("search_products", search(category=["watches"]), "what is your return policy?", (), "not a product search"),
        ("remove_from_cart", {"product_id": "11"}, "black belts for men", ("11",), "did not ask to remove"),
        ("remove_from_cart", {"product_id": "11"}, "compare the first two", ("11",), "did not ask to remove"),
        ("view_cart", {}, "black belts for men", (), "did not ask about the cart"),
        ("view_cart", {}, "compare the first two", (), "did not ask about the cart"),
        ("search_by_photo", {"image": "x"}, "black watches", (), "unknown tool"),
        ("delete_everything", {}, "black watches", (), "unknown tool"),
    ],
)
def test_calls_the_shopper_did_not_ask_for_are_refused(tool, arguments, message, cart, why):
    v = review_call(tool, arguments, context(message, cart=cart))
    assert v.action == "refused" and why in (v.reason or "")


@pytest.mark.parametrize("message", ["what's in my cart?", "show me my basket", "find black belts and show me my cart"])
def test_a_cart_view_the_shopper_asked_for_is_kept(message):
    assert review_call("view_cart", {}, context(message)).action == "kept"


@pytest.mark.parametrize("message", ["remove it from my cart", "take that out of my basket", "把它从购物车删了"])
def test_a_removal_the_shopper_asked_for_is_kept(message):
    assert review_call("remove_from_cart", {"product_id": "11"}, context(message, cart=("11",))).action == "kept"


def test_the_model_policy_checks_only_ids_and_tools():
    t = context("black watches")
    assert review_call("search_products", search(colour=["red"]), t, "model").action == "kept"
    assert review_call("get_product", {"product_id": "999"}, t, "model").action == "refused"


@pytest.mark.parametrize(
    ("requested", "backend", "tools", "policy"),
    [("auto", "openai", True, "model"), ("auto", "embedded", False, "planner"), ("auto", "none", False, "planner"),
     ("guarded", "openai", True, "guarded"), ("guarded", "openai", False, "planner"), ("planner", "openai", True, "planner")],
)  # fmt: skip
def test_policy_choice(requested, backend, tools, policy):
    assert resolve_policy(requested, backend, tools) == policy


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('<tool_call>\n{"name": "view_cart", "arguments": {}}\n</tool_call>', ["view_cart"]),
        ('{"name": "get_product", "arguments": {"product_id": "11"}}', ["get_product"]),
        ("Here are some watches.", []),
        ('{"name": "get_product", "arguments": "not an object"}', []),
        ("<tool_call>{broken</tool_call>", []),
        # the tag form Qwen2.5-Coder-1.5B writes, one tag per call
        (
            '<tools>\n  <function name="search_products" arguments=\'{"query": "black sandals"}\'/>\n'
            '  <function name="similar_products" arguments=\'{"product_id": "11", "k": 2}\'/>\n</tools>',
            ["search_products", "similar_products"],
        ),
        ('<function name="get_product" arguments="{\\"product_id\\": \\"11\\"}"/>', ["get_product"]),
        ("<function name=\"get_product\" arguments='{not json'/>", []),
    ],
)
def test_calls_a_server_leaves_in_the_text_are_read_as_calls(content, names):
    from assistant.tool_loop import calls_in_content

    assert [c["name"] for c in calls_in_content(content)] == names


def test_a_request_for_two_things_may_be_split_over_two_searches():
    t = context("black watches and red shoes for men")
    first = search(colour=["black"], gender=["men"], category=["watches"], k=5)
    assert review_call("search_products", first, t).action == "kept", "a part of the shopper's words"
    # A call that leaves the colour out takes the one its own query names, not both.
    second = {**search(gender=["men"], category=["shoes"], k=5), "query": "red shoes"}
    v = review_call("search_products", second, t)
    assert v.action == "repaired" and v.arguments["filters"]["colour"] == ["red"], v.reason
    # A value the shopper never said is repaired to what they said of that kind.
    wrong = search(colour=["blue"], gender=["men"], category=["watches"], k=5)
    assert review_call("search_products", wrong, t).arguments["filters"]["colour"] == ["black"]


def test_a_search_clause_beside_a_reference_may_be_searched():
    t = context("find black watches for men, then compare the first two")
    assert t.plan.intent == "compare", "the planner reads the whole as one step"
    v = review_call("search_products", search(colour=["black"], gender=["men", "unisex"], category=["watches"], k=5), t)
    assert v.action == "kept", v.reason
    assert review_call("search_products", search(category=["watches"]), context("compare the first two")).action == "refused"


@pytest.mark.parametrize(
    "reply",
    [
        {"content": '<function name="get_product" arguments=\'{"product_id": "11"}\'/>'},
        {"content": "", "tool_calls": [{"name": "get_product", "args": {"product_id": "11"}, "id": "c1"}]},
    ],
)
def test_a_call_goes_back_to_the_server_with_text_content(reply):
    """llama.cpp's server answers 500 to an assistant message whose content is null, which is how
    an empty content with calls goes out; the next round of the turn must still be accepted."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai.chat_models.base import _convert_message_to_dict

    from assistant.tool_loop import Exchange, ask_model

    ex = Exchange([HumanMessage("tell me about the first one")])
    ai = ask_model(GenericFakeChatModel(messages=iter([AIMessage(**reply)])), ex)
    assert [c["name"] for c in ai.tool_calls] == ["get_product"]
    sent = _convert_message_to_dict(ex.messages[-1])
    assert isinstance(sent["content"], str) and sent["content"], sent


def test_an_add_asked_in_one_clause_of_a_search_may_run():
    t = context("find black watches for men and add the first one to my cart")
    assert review_call("add_to_cart", {"product_id": "11"}, t).action == "kept"


@pytest.mark.parametrize(
    ("reply", "is_call"),
    [
        ('{{"name": "answer_policy_question", "arguments": {"question": "shipping?"}}}', True),
        ("<tool_call>{'name': 'view_cart', 'arguments': {}</tool_call>", True),
        ("<function name=search_products arguments={broken}>", True),
        ("Hello! How can I help you today?", False),
        ('The "Name" brand watches are here, with arguments for each.', False),
    ],
)
def test_a_reply_that_is_an_unreadable_call_is_told_apart_from_words(reply, is_call):
    from assistant.tool_loop import looks_like_a_call

    assert looks_like_a_call(reply) is is_call


@pytest.mark.parametrize(
    ("categories", "action"),
    [(["watches", "shoes"], "refused"), (["watches"], "kept"), (["shoes"], "kept")],
)
def test_a_search_mixing_two_steps_kinds_is_refused_before_its_cards_are_shown(categories, action):
    colour = {"watches": ["black"], "shoes": ["red"]}
    proposed = search(category=categories, colour=[c for k in categories for c in colour[k]], gender=["men", "unisex"])
    v = review_call("search_products", proposed, context("black watches and red shoes for men"))
    assert (v.action == "refused") == (action == "refused"), v
    if action == "refused":
        assert "each kind on its own" in (v.reason or "")


def test_a_search_the_review_would_widen_to_both_kinds_is_refused_too():
    # no kind proposed: the review would fill in the message's two kinds, a mixed search
    v = review_call("search_products", search(), context("black watches and red shoes for men"))
    assert v.action == "refused"


@pytest.mark.parametrize(
    ("categories", "query", "colour"),
    [(["shoes"], "shoes", ["red"]), (["watches"], "watches", ["black"]), ([], "red shoes", ["red"])],
)
def test_a_search_for_one_step_of_several_takes_that_steps_words(categories, query, colour):
    # "black watches and red shoes for men": a search of the shoes alone is for red ones (not
    # black or red), and for men, the gender said once for both
    proposed = search(category=categories, gender=["men", "unisex"]) | {"query": query}
    v = review_call("search_products", proposed, context("black watches and red shoes for men"))
    assert v.action == "repaired", v
    assert v.arguments["filters"]["colour"] == colour
    assert set(v.arguments["filters"]["category"]) == {query.split()[-1]}
    assert "men" in v.arguments["filters"]["gender"]


@pytest.mark.parametrize(("field", "other"), [("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")])
def test_the_token_limit_goes_out_in_the_field_the_endpoint_reads(field, other):
    # A server that ignores the field it is sent generates without a limit (llama-cpp-python's
    # reads only max_tokens); OpenAI's newer models take only max_completion_tokens.
    from assistant.config import Settings
    from assistant.llm.backends import load_tool_model
    from tests.scripted_endpoint import ScriptedEndpoint, completion

    with ScriptedEndpoint(lambda body, n: completion("Hello!")) as ep:
        s = Settings.from_env({"SHOP_ASSISTANT_LLM_TOKEN_FIELD": field})
        s.llm.backend, s.llm.url, s.llm.policy, s.llm.timeout_s = "openai", ep.url, "guarded", 3
        model, _ = load_tool_model(s)
        model.invoke("hi")
    assert ep.requests[0][field] == s.llm.tool_max_tokens and other not in ep.requests[0]


def test_an_unknown_token_field_is_a_clear_config_error():
    from assistant.config import Settings
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="max_completion_tokens"):
        Settings.from_env({"SHOP_ASSISTANT_LLM_TOKEN_FIELD": "tokens"})


def test_unisex_alone_is_no_part_of_a_gender_the_shopper_said():
    # "for men" reads as men and unisex; a search of unisex products only is not what was asked
    v = review_call("search_products", search(colour=["black"], gender=["unisex"], category=["watches"], k=5), context("black watches for men"))
    assert v.action == "repaired" and sorted(v.arguments["filters"]["gender"]) == ["men", "unisex"]
