"""What a model remembers: recent turns within the token budget, older ones folded into a
summary built from the turns' own tool calls."""

from assistant.history import estimate_tokens, history_tokens, note_calls, remember, summary_view
from assistant.sessions import CallNote, SessionState, ShownCard
from assistant.tool_loop import start_exchange
from tools.registry import ToolError


def _conversation(budget: int) -> SessionState:
    s = SessionState(seen=[ShownCard(id="w1", name="Fossil Brown Wallet"), ShownCard(id="w2", name="Puma Black Wallet")])
    remember(s, "user", "brown wallets for men", budget_tokens=budget)
    remember(s, "assistant", "Here are brown wallets for men. " * 5, [CallNote(tool="search_products", query="wallets (colour: brown)")], budget)
    remember(s, "user", "compare the first two", budget_tokens=budget)
    remember(
        s, "assistant", "Comparing Fossil Brown Wallet and Puma Black Wallet.", [CallNote(tool="compare_products", product_ids=["w1", "w2"])], budget
    )
    remember(s, "user", "yes add it", budget_tokens=budget)
    remember(s, "assistant", "Added: your cart has 1 item.", [CallNote(tool="add_to_cart", product_ids=["w1"])], budget)
    for i in range(12):
        remember(s, "user", f"tell me about number {i} " + "please " * 10, budget_tokens=budget)
        remember(s, "assistant", "It is a wallet. " * 8, budget_tokens=budget)
    return s


def test_older_turns_are_summarised_not_lost():
    s = _conversation(budget=300)
    assert history_tokens(s) <= 300, "recent turns and summary together keep to the budget"
    assert s.history[-1].content.startswith("It is a wallet"), "the newest turns stay"
    view = summary_view(s.summary)
    assert view["earlier_turns"] == s.summary.turns > 0
    assert "wallets (colour: brown)" in view["searches"]
    assert view["asked"][0] == "brown wallets for men"
    assert [p["name"] for p in view["products"]] == ["Puma Black Wallet", "Fossil Brown Wallet"], "names from what was shown, the last touched newest"
    assert view["cart"] == ["added Fossil Brown Wallet"]


def test_a_roomy_budget_folds_nothing_and_a_huge_turn_still_stays():
    s = _conversation(budget=100_000)
    assert s.summary.turns == 0 and summary_view(s.summary) == {"earlier_turns": 0}
    remember(s, "user", "字" * 5_000, budget_tokens=300)
    assert len(s.history) == 1 and s.history[0].content == "字" * 5_000, "the newest turn stays even alone over budget"


def test_chinese_counts_a_token_a_character():
    assert estimate_tokens("黑色手表") == 4
    assert estimate_tokens("black watches") == 4
    assert estimate_tokens("黑色 watch") == 2 + 2


def test_a_failed_cart_call_is_not_remembered_as_a_change():
    notes = note_calls([
        ("remove_from_cart", {"product_id": "w1"}, ToolError(tool="remove_from_cart", error="not in the cart")),
        ("search_products", {"query": "belts", "filters": {"colour": ["black"], "brand": []}}, None),
    ])  # fmt: skip
    assert notes[0].changed is False and notes[1].query == "belts (colour: black)"
    s = SessionState()
    remember(s, "assistant", "x" * 4000, notes, budget_tokens=100)
    remember(s, "user", "ok", budget_tokens=100)
    assert s.summary.cart == [] and s.summary.searches == ["belts (colour: black)"]


def test_the_model_reads_the_summary_as_data():
    s = _conversation(budget=300)
    ex = start_exchange("which wallet did I add?", s)
    context = ex.messages[1].content
    assert '"earlier"' in context and "added Fossil Brown Wallet" in context
    assert context.index('"earlier"') < context.index('"recent_turns"')
