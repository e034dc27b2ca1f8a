"""Engines and sessions. SQLite: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE for writes."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE = {"ordertrail_write": True}
COPY_MIN_ROWS = 20  # from this many rows, PostgreSQL gets them with COPY


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and select psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with the per-database settings ordertrail relies on."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping (a round trip per checkout); recycle connections instead.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, echo=echo, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY when another writer committed in between.
        if conn.get_execution_options().get("ordertrail_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    """Serialise this process's writers on SQLite (one writer at a time anyway).

    Without it, concurrent writers back off inside SQLite's busy handler, sleeping up to
    tens of milliseconds; queued on a lock they are woken as soon as the writer commits.
    PostgreSQL needs no lock: rows are locked by the statements themselves.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _WRITE_LOCKS[engine] = threading.RLock()
    return lock


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write (BEGIN IMMEDIATE on SQLite)."""
    session.connection(execution_options=WRITE)


@contextmanager
def write_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on any error."""
    bind = factory.kw.get("bind")
    lock = write_lock(bind) if isinstance(bind, Engine) else nullcontext()
    with lock, factory() as session:
        begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_INSERTS: dict[Table, Any] = {}  # built once per table


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (all with the same keys) in the connection's transaction.

    On PostgreSQL, batches go in with ``COPY … FROM STDIN``: psycopg otherwise sends an
    executemany as one statement per row, and SQLAlchemy's multi-row VALUES form makes psycopg
    re-parse a very long statement for every batch. Values pass through the columns' own
    bind processing (exact decimals, UTC times, JSON), as an INSERT would.
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        stmt = _INSERTS.get(table)
        if stmt is None:
            stmt = _INSERTS[table] = insert(table)
        conn.execute(stmt, rows)
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    procs = [col.type.dialect_impl(dialect).bind_processor(dialect) for col in columns]
    quote = dialect.identifier_preparer.quote
    sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
           f"({', '.join(quote(name) for name in names)}) FROM STDIN")
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    with dbapi.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[name] if proc is None else proc(row[name])
                            for name, proc in zip(names, procs, strict=True)])
