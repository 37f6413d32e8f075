"""Sessions survive a restart, resume by id, and keep history within its budget."""

from concurrent.futures import ThreadPoolExecutor

from assistant.sessions import CartLine, PendingAction, SessionState, ShownCard, SqliteSessionStore


def test_state_survives_a_restart(tmp_path):
    store = SqliteSessionStore(tmp_path / "sessions.db")
    s = SessionState()
    s.add_turn("user", "black sandals for men")
    s.shown = [ShownCard(id="101", name="Sandal", category="Sandals", why="found by text #1 (0.5)")]
    s.cart.append(CartLine(product_id="101", name="Sandal"))
    s.active_filters = {"colour": ["black"]}
    s.pending = PendingAction(tool="add_to_cart", arguments={"product_id": "102"}, prompt="Add it?")
    store.save(s)
    store.close()
    again = SqliteSessionStore(tmp_path / "sessions.db").load(s.session_id)
    assert again is not None
    assert again.model_dump(exclude={"updated_at"}) == s.model_dump(exclude={"updated_at"})


def test_unknown_session_is_none_and_delete_removes(tmp_path):
    store = SqliteSessionStore(tmp_path / "s.db")
    assert store.load("nope") is None
    s = SessionState()
    store.save(s)
    store.delete(s.session_id)
    assert store.load(s.session_id) is None


def test_history_keeps_to_its_budget_newest_first():
    s = SessionState()
    for i in range(50):
        s.add_turn("user", f"message {i} " + "x" * 90, budget_chars=1000)
    assert sum(len(t.content) for t in s.history) <= 1000
    assert s.history[-1].content.startswith("message 49")
    s.add_turn("user", "y" * 5000, budget_chars=1000)
    assert len(s.history) == 1, "the newest turn stays even when it alone is over budget"


def test_concurrent_saves_from_threads(tmp_path):
    store = SqliteSessionStore(tmp_path / "s.db")
    states = [SessionState() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.save, states))
    assert all(store.load(s.session_id) is not None for s in states)
