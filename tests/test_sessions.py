"""Sessions survive a restart and resume by id."""

from concurrent.futures import ThreadPoolExecutor

from assistant.history import remember
from assistant.sessions import CartLine, PendingAction, SessionState, ShownCard, SqliteSessionStore


def test_state_survives_a_restart(tmp_path):
    store = SqliteSessionStore(tmp_path / "sessions.db")
    s = SessionState()
    remember(s, "user", "black sandals for men")
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


def test_concurrent_saves_from_threads(tmp_path):
    store = SqliteSessionStore(tmp_path / "s.db")
    states = [SessionState() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.save, states))
    assert all(store.load(s.session_id) is not None for s in states)
