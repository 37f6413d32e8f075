"""Shared fixtures: the real KAGL catalogue beside the checkout, and temporary indexes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAGL = (ROOT.parent / "shared" / "data" / "kagl").resolve()
KAGL_CSV = KAGL / "products.csv"


@pytest.fixture(scope="session")
def kagl_csv() -> Path:
    if not KAGL_CSV.is_file():
        pytest.fail(f"the shared KAGL catalogue is missing at {KAGL_CSV}")
    return KAGL_CSV


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search path is a fresh schema of this test's own, dropped after.
    `make test` (and so CI) starts Debian's PostgreSQL and names its test database in
    SHOP_ASSISTANT_TEST_POSTGRES; a plain `pytest` without one skips these tests, CI never."""
    base = os.environ.get("SHOP_ASSISTANT_TEST_POSTGRES")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI runs the PostgreSQL tests: `make test` starts the server and sets SHOP_ASSISTANT_TEST_POSTGRES")
        pytest.skip("no PostgreSQL: `make test` starts one, or set SHOP_ASSISTANT_TEST_POSTGRES")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path) -> Iterator[Callable[[], Any]]:
    """Opens a session store, the same data each time it is called (a restart, or a second
    replica beside the first): SQLite in a file, or PostgreSQL. Tests taking it run on both,
    the congruence tests of the two implementations."""
    from assistant.sessions import SqliteSessionStore

    opened: list[Any] = []
    if request.param == "sqlite":
        path = tmp_path / "sessions.db"

        def new() -> Any:
            opened.append(SqliteSessionStore(path))
            return opened[-1]
    else:
        from assistant.sessions_pg import PostgresSessionStore

        url = request.getfixturevalue("pg_url")

        def new() -> Any:
            opened.append(PostgresSessionStore(url, pool_max=8))
            return opened[-1]

    yield new
    for store in opened:
        store.close()
