"""Test databases: built by running the migrations, on SQLite or PostgreSQL.

``ORDERTRAIL_TEST_DB=postgres`` runs the suite on PostgreSQL at
``ORDERTRAIL_TEST_POSTGRES_URL``, in a fresh schema that is dropped afterwards. If PostgreSQL
is asked for and unreachable, the run stops with an error: it never passes silently.
Each test runs in a transaction that is rolled back; tests that need real commits (several
connections at once) use ``committing`` and are cleaned up after.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ordertrail import migrate
from ordertrail.api.deps import AppState
from ordertrail.app import create_app
from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.flow import service as flows
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Base

BACKEND = os.environ.get("ORDERTRAIL_TEST_DB", "sqlite")
T = TypeVar("T")
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in Shanghai


def pytest_report_header(config: pytest.Config) -> str:
    if BACKEND == "postgres":
        return f"ordertrail test database: PostgreSQL ({_pg_url()})"
    return "ordertrail test database: SQLite (set ORDERTRAIL_TEST_DB=postgres for PostgreSQL)"


def _pg_url() -> str:
    url = os.environ.get("ORDERTRAIL_TEST_POSTGRES_URL")
    if not url:
        pytest.exit("ORDERTRAIL_TEST_DB=postgres needs ORDERTRAIL_TEST_POSTGRES_URL", returncode=1)
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db"), prefix="ot_test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    with write_session(make_sessionmaker(eng)) as session:
        flows.ensure_builtin_flows(session, FrozenClock(START))
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions joined to one outer transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    yield sessionmaker(bind=conn, expire_on_commit=False, autoflush=False,
                       join_transaction_mode="create_savepoint")
    outer.rollback()
    conn.close()
    flows.clear_cache()


@pytest.fixture
def db(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "flow_versions":
                conn.execute(table.delete())
        conn.execute(text("DELETE FROM flow_versions WHERE version > 1 OR flow_id NOT IN "
                          "('retail', 'make_to_order', 'b2b_credit')"))


@pytest.fixture
def committing(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Real transactions on separate connections; every row is removed afterwards."""
    _wipe(engine)
    yield make_sessionmaker(engine)
    _wipe(engine)
    flows.clear_cache()


@dataclass
class People:
    """Users with one role each, and their API keys; ``headers('alice')`` for HTTP calls."""

    keys: dict[str, str]
    roles: dict[str, list[str]]

    def headers(self, name: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}", **extra}


PEOPLE = {
    "alice": ["sales"],
    "sam": ["service"],
    "fiona": ["finance"],
    "frank": ["finance"],
    "grace": ["manager"],
    "wang": ["warehouse"],
    "pete": ["production"],
    "vera": ["viewer"],
    "root": ["admin"],
}


def make_people(factory: sessionmaker[Session], clock: FrozenClock) -> People:
    keys = {}
    with write_session(factory) as session:
        for name, roles in PEOPLE.items():
            user = auth.create_user(session, name, roles, clock)
            keys[name] = auth.create_api_key(session, user, clock)[1]
    return People(keys=keys, roles=PEOPLE)


@pytest.fixture
def people(factory: sessionmaker[Session], clock: FrozenClock) -> People:
    return make_people(factory, clock)


def ctx_for(session: Session, name: str, clock: FrozenClock, settings: Settings,
            source: str = "api") -> Ctx:
    """A service context acting as the named user."""
    return Ctx(session=session, actor=auth.actor_of(auth.get_user(session, name), source),
               clock=clock, settings=settings)


@pytest.fixture
def client(factory: sessionmaker[Session], engine: Engine, clock: FrozenClock,
           settings: Settings) -> Iterator[TestClient]:
    """The HTTP API over the rolled-back test transaction."""
    app = create_app(settings, state=AppState(engine=engine, factory=factory, clock=clock,
                                              settings=settings))
    with TestClient(app) as c:
        yield c


def order_body(flow: str = "make_to_order", **overrides: object) -> dict[str, object]:
    """A valid order creation body."""
    body: dict[str, object] = {
        "flow": flow,
        "customer": {"name": "张伟", "phone": "13800138000", "email": "zhang.wei@example.cn",
                     "country": "CN", "province": "广东", "city": "深圳"},
        "lines": [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 2, "unit_price": "99.50"}],
        "promised_at": "2026-12-01T10:00:00+08:00",
    }
    body.update(overrides)
    return body


# Real commits, threads, and databases for subprocesses (API, CLI and end-to-end tests) ----


@pytest.fixture
def live_app(committing: sessionmaker[Session], engine: Engine, clock: FrozenClock,
             settings: Settings) -> FastAPI:
    """The app over real transactions: every request has its own database connection."""
    return create_app(settings, state=AppState(engine=engine, factory=committing, clock=clock,
                                               settings=settings))


@pytest.fixture
def live_people(committing: sessionmaker[Session], clock: FrozenClock) -> People:
    """The PEOPLE users and keys, committed (for ``live_app``)."""
    return make_people(committing, clock)


def run_together(count: int, fn: Callable[[int], T]) -> list[T]:
    """Call ``fn(0) … fn(count - 1)`` in threads released at the same moment by a barrier."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results


@contextmanager
def fresh_database(directory: Path, prefix: str = "ot_proc") -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``directory``, or a PostgreSQL
    schema (dropped afterwards) when the suite runs on PostgreSQL. An unreachable PostgreSQL
    stops the run with an error."""
    if BACKEND != "postgres":
        yield f"sqlite:///{directory / 'ordertrail.db'}"
        return
    url = _pg_url()
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001 - report any connection failure loudly
        pytest.exit(f"PostgreSQL is unreachable at {url}: {exc}", returncode=1)
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def seeded_database(directory: Path, users: dict[str, list[str]],
                    seed: Callable[[Session, FrozenClock, Settings], T],
                    ) -> Iterator[tuple[str, T]]:
    """A fresh, migrated database with the built-in flows, these users and whatever ``seed``
    writes (at ``START``); yields its URL and what ``seed`` returned. For tests of commands
    that open the database themselves."""
    with fresh_database(directory) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        clock = FrozenClock(START)
        with write_session(make_sessionmaker(engine)) as session:
            flows.ensure_builtin_flows(session, clock)
            for name, roles in users.items():
                auth.create_user(session, name, roles, clock)
            value = seed(session, clock, Settings(database_url=url))
        engine.dispose()
        flows.clear_cache()
        yield url, value


def row_counts(session: Session) -> dict[str, int]:
    """How many orders, timeline rows, outbox events and idempotency records exist."""
    from sqlalchemy import func, select

    from ordertrail.models import IdempotencyRecord, Order, OutboxEvent, TimelineEntry

    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Order, TimelineEntry, OutboxEvent, IdempotencyRecord)}
