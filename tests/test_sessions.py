"""Sessions survive a restart, resume by id, and are used by one turn at a time: the same
tests on the embedded SQLite store and on PostgreSQL (the store replicas share); then what
only PostgreSQL does (two replicas, migrations, a database that drops its connections)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.errors import ConfigError, SessionStoreUnavailable
from assistant.history import remember
from assistant.sessions import CartLine, PendingAction, SessionState, ShownCard, open_store


def _rich_state() -> SessionState:
    s = SessionState()
    remember(s, "user", "black sandals for men")
    s.shown = [ShownCard(id="101", name="Sandal", category="Sandals", why="found by text #1 (0.5)")]
    s.cart.append(CartLine(product_id="101", name="Sandal"))
    s.active_filters = {"colour": ["black"]}
    s.pending = PendingAction(tool="add_to_cart", arguments={"product_id": "102"}, prompt="Add it?")
    return s


def test_state_survives_a_restart(open_store):
    store = open_store()
    s = _rich_state()
    store.save(s)
    store.close()
    again = open_store().load(s.session_id)
    assert again is not None
    assert again.model_dump(exclude={"updated_at"}) == s.model_dump(exclude={"updated_at"})


def test_unknown_session_is_none_and_delete_removes(open_store):
    store = open_store()
    assert store.load("nope") is None
    s = SessionState()
    store.save(s)
    store.delete(s.session_id)
    assert store.load(s.session_id) is None


def test_concurrent_saves_from_threads(open_store):
    store = open_store()
    states = [SessionState() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.save, states))
    assert all(store.load(s.session_id) is not None for s in states)


def test_purge_removes_only_idle_sessions(open_store):
    store = open_store()
    old, new = SessionState(), SessionState()
    store.save(old)
    cut = time.time()
    time.sleep(0.01)
    store.save(new)
    assert store.purge_idle(cut) == 1
    assert store.load(old.session_id) is None and store.load(new.session_id) is not None


def _add_lines(stores, session_id: str, per_store: int) -> None:
    """Each worker: hold the session, load it, add one cart line, save: a read-modify-write
    that loses lines unless `held` keeps every other worker out meanwhile."""

    def add(store, n: int) -> None:
        with store.held(session_id):
            s = store.load(session_id) or SessionState(session_id=session_id)
            time.sleep(0.002)  # widen the window a lost update needs
            s.cart.append(CartLine(product_id=f"p{n}", name=f"product {n}"))
            store.save(s)

    jobs = [(store, i * per_store + j) for i, store in enumerate(stores) for j in range(per_store)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: add(*job), jobs))


def test_held_sessions_lose_no_update(open_store):
    store = open_store()
    sid = SessionState().session_id
    _add_lines([store], sid, per_store=40)
    saved = store.load(sid)
    assert saved is not None and sorted(ln.product_id for ln in saved.cart) == sorted(f"p{n}" for n in range(40))


def test_open_store_reads_the_url(tmp_path):
    assert open_store(None, tmp_path).load("x") is None
    assert (tmp_path / "sessions.db").exists(), "no URL: SQLite in the data folder"
    open_store(f"sqlite:///{tmp_path / 'other.db'}", tmp_path).save(SessionState())
    assert (tmp_path / "other.db").exists()
    with pytest.raises(ConfigError, match="postgresql://"):
        open_store("redis://localhost/0", tmp_path)


# -- PostgreSQL only -------------------------------------------------------------------


def test_two_replicas_hold_one_session_in_turn(pg_url):
    from assistant.sessions_pg import PostgresSessionStore

    a, b = PostgresSessionStore(pg_url, pool_max=8), PostgresSessionStore(pg_url, pool_max=8)
    try:
        sid = SessionState().session_id
        _add_lines([a, b], sid, per_store=20)
        saved = b.load(sid)
        assert saved is not None and len(saved.cart) == 40, "no cart line lost between the replicas"
        assert sorted(ln.product_id for ln in saved.cart) == sorted(f"p{n}" for n in range(40))
    finally:
        a.close()
        b.close()


def test_a_replica_waits_while_another_holds_the_session(pg_url):
    from assistant.sessions_pg import PostgresSessionStore

    a, b = PostgresSessionStore(pg_url), PostgresSessionStore(pg_url)
    sid = SessionState().session_id
    waited: list[float] = []

    def other_replica() -> None:
        start = time.monotonic()
        with b.held(sid):
            waited.append(time.monotonic() - start)

    try:
        with a.held(sid):
            t = threading.Thread(target=other_replica)
            t.start()
            time.sleep(0.3)  # replica B asks for the session while A holds it
            assert not waited, "replica B got in while A held the session"
        t.join(10)
        assert waited and waited[0] >= 0.25
    finally:
        a.close()
        b.close()


def test_migrations_apply_once_and_a_newer_schema_is_refused(pg_url):
    import psycopg

    from assistant.sessions_pg import MIGRATIONS, PostgresSessionStore

    first = PostgresSessionStore(pg_url)
    second = PostgresSessionStore(pg_url)  # a second replica starting: nothing applied twice
    assert first.schema_version() == second.schema_version() == len(MIGRATIONS)
    first.close()
    second.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(ConfigError, match="newer than this release"):
        PostgresSessionStore(pg_url)


def test_an_unreachable_database_is_a_typed_error():
    from assistant.sessions_pg import PostgresSessionStore

    with pytest.raises(SessionStoreUnavailable, match="cannot be reached") as e:
        PostgresSessionStore("postgresql://nobody:secret@127.0.0.1:9/none")
    assert "secret" not in e.value.message, "the password is not repeated"


def _drop_connections(pg_url: str) -> int:
    """Every other connection of this test's role ended by the server, as a restart does."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() "
            "AND datname = current_database() AND application_name = ''"
        ).fetchone()
    return int(row[0]) if row else 0


def test_connections_dropped_between_turns_reconnect(pg_url):
    from assistant.sessions_pg import PostgresSessionStore

    store = PostgresSessionStore(pg_url)
    try:
        s = _rich_state()
        store.save(s)
        assert _drop_connections(pg_url) >= 1
        again = store.load(s.session_id)  # the pool tests the dead connection and opens another
        assert again is not None and [ln.product_id for ln in again.cart] == ["101"]
    finally:
        store.close()


def test_a_connection_dropped_mid_turn_fails_it_typed_and_keeps_the_session(pg_url):
    from assistant.sessions_pg import PostgresSessionStore

    store = PostgresSessionStore(pg_url)
    try:
        s = _rich_state()
        store.save(s)
        with pytest.raises(SessionStoreUnavailable) as e, store.held(s.session_id):
            work = store.load(s.session_id)
            assert work is not None
            work.cart.append(CartLine(product_id="999", name="Half-made change"))
            _drop_connections(pg_url)
            store.save(work)
        assert e.value.retryable
        with store.held(s.session_id):  # the lock went with the dead connection: the next turn gets in
            kept = store.load(s.session_id)
        assert kept is not None and [ln.product_id for ln in kept.cart] == ["101"], "the session is as last saved"
    finally:
        store.close()
