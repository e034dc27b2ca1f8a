"""Request dependencies: app state, sessions, the caller, and the one-commit writer."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool

from ordertrail.api.commits import GroupCommitter
from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid, Unauthorized
from ordertrail.flow.planner import Actor
from ordertrail.i18n import normalize_lang
from ordertrail.kit.clock import Clock
from ordertrail.models import IdempotencyRecord

AUTH_TTL_SECONDS = 10.0
PG_WRITERS = 4  # writer threads (and connections) of the group commit on PostgreSQL
STOCK_LINGER = 0.002  # seconds the stock writer waits for more reservations to join a group


@dataclass
class AppState:
    engine: Engine
    factory: sessionmaker[Session]
    clock: Clock
    settings: Settings
    committer: GroupCommitter | None = field(default=None, repr=False)
    stock_committer: GroupCommitter | None = field(default=None, repr=False)


async def get_state(request: Request) -> AppState:
    return request.app.state.ot  # type: ignore[no-any-return]


class _AuthCache:
    """Recently verified keys, so that each request does not re-read its key row.

    A revoked key or a changed role takes effect within AUTH_TTL_SECONDS.
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Actor]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Actor | None:
        hit = self._items.get(hashlib.sha256(token.encode()).hexdigest())
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token: str, actor: Actor) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[hashlib.sha256(token.encode()).hexdigest()] = (
                time.monotonic() + AUTH_TTL_SECONDS, actor)


def _authenticate(state: AppState, token: str) -> Actor:
    with state.factory() as session:
        return auth.actor_of(auth.authenticate(session, token))


# Declares the scheme in OpenAPI (the Authorize button of /docs); errors stay ours.
bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key from `ordertrail apikey create --user NAME`.")


async def current_actor(request: Request, state: AppState = Depends(get_state),
                        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                        ) -> Actor:
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'",
                           code="missing_api_key")
    cache: _AuthCache = request.app.state.auth_cache
    actor = cache.get(token)
    if actor is None:
        actor = await run_in_threadpool(_authenticate, state, token)
        cache.put(token, actor)
    return actor


async def lang(request: Request) -> str:
    return normalize_lang(request.headers.get("accept-language"))


def _json(model: BaseModel, status_code: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), status_code=status_code,
                    media_type="application/json", headers=headers)


class Reader:
    """Runs a read in one worker-thread hop with its own session; returns ready JSON."""

    def __init__(self, state: AppState, actor: Actor) -> None:
        self.state, self.actor = state, actor

    def run_sync(self, fn: Callable[[Ctx], BaseModel]) -> bytes:
        with self.state.factory() as session:
            ctx = Ctx(session=session, actor=self.actor, clock=self.state.clock,
                      settings=self.state.settings)
            return fn(ctx).model_dump_json().encode()

    async def run(self, fn: Callable[[Ctx], BaseModel]) -> Response:
        body = await run_in_threadpool(self.run_sync, fn)
        return Response(body, media_type="application/json")


async def reader(state: AppState = Depends(get_state),
                 actor: Actor = Depends(current_actor)) -> Reader:
    return Reader(state, actor)


class Writer:
    """Runs one change in its own savepoint of a group-committed transaction (see
    api/commits.py); replays Idempotency-Key retries. The answer is sent after the commit."""

    def __init__(self, state: AppState, actor: Actor, key: str | None, method: str, path: str,
                 fingerprint: str) -> None:
        self.state, self.actor, self.key = state, actor, key
        self.method, self.path, self.fingerprint = method, path, fingerprint

    def _replay(self, session: Session | None = None) -> tuple[str, int, bool] | None:
        if not self.key or self.actor.user_id is None:
            return None
        stmt = select(IdempotencyRecord).where(IdempotencyRecord.user_id == self.actor.user_id,
                                               IdempotencyRecord.key == self.key)
        if session is None:
            with self.state.factory() as own:
                rec = own.scalars(stmt).first()
        else:
            rec = session.scalars(stmt).first()
        if rec is None:
            return None
        if rec.fingerprint != self.fingerprint:
            raise Invalid("this Idempotency-Key was already used for a different request; "
                          "use a new key for a new request", code="idempotency_key_reused")
        return rec.body, rec.status_code, True

    def _job(self, fn: Callable[[Ctx], BaseModel], status_code: int,
             ) -> Callable[[Session], tuple[str, int, bool]]:
        def job(session: Session) -> tuple[str, int, bool]:
            # Read in the group's transaction: a retry that lands in the same group as the
            # first request sees its record.
            replay = self._replay(session)
            if replay is not None:
                return replay
            ctx = Ctx(session=session, actor=self.actor, clock=self.state.clock,
                      settings=self.state.settings)
            body = fn(ctx).model_dump_json()
            if self.key and self.actor.user_id is not None:
                session.add(IdempotencyRecord(
                    user_id=self.actor.user_id, key=self.key, method=self.method,
                    path=self.path, fingerprint=self.fingerprint, status_code=status_code,
                    body=body, created_at=self.state.clock.now()))
            return body, status_code, False

        return job

    def _response(self, result: tuple[str, int, bool],
                  headers: dict[str, str] | None) -> Response:
        body, status_code, replayed = result
        if replayed:
            headers = {"Idempotent-Replayed": "true"}
        return Response(body, status_code=status_code, media_type="application/json",
                        headers=headers)

    def _failed(self, exc: BaseException) -> Response:
        """The answer to a change that failed in the database, or re-raise."""
        if isinstance(exc, StaleDataError):
            raise Conflict("the order was changed by another request at the same moment; "
                           "reload it and try again", code="concurrent_change") from None
        if isinstance(exc, IntegrityError):
            replay = self._replay()
            if replay is not None:
                return self._response(replay, None)
            raise Conflict("the change conflicts with one made at the same moment; reload "
                           "and try again", code="concurrent_change") from None
        raise exc

    def run(self, fn: Callable[[Ctx], BaseModel], status_code: int = 200,
            headers: dict[str, str] | None = None) -> Response:
        """Run the change and wait for its commit (from a worker thread, never the loop)."""
        future = committer(self.state).submit(self._job(fn, status_code))
        try:
            result = future.result()
        except (StaleDataError, IntegrityError) as exc:
            return self._failed(exc)
        return self._response(result, headers)

    async def arun(self, fn: Callable[[Ctx], BaseModel], status_code: int = 200,
                   headers: dict[str, str] | None = None) -> Response:
        """``run`` without a worker thread: the loop waits for the writer thread's answer."""
        future = committer(self.state).submit(self._job(fn, status_code))
        try:
            result = await asyncio.wrap_future(future)
        except (StaleDataError, IntegrityError) as exc:
            return await run_in_threadpool(self._failed, exc)
        return self._response(result, headers)


_COMMITTERS_GUARD = threading.Lock()


def committer(state: AppState) -> GroupCommitter:
    """The app's writer (one per AppState, made on first use)."""
    if state.committer is None:
        with _COMMITTERS_GUARD:
            if state.committer is None:
                sqlite = state.engine.dialect.name == "sqlite"
                state.committer = GroupCommitter(state.factory,
                                                 writers=1 if sqlite else PG_WRITERS)
    return state.committer


def stock_committer(state: AppState) -> GroupCommitter:
    """The writer of stock reservations: one thread that lets a group gather for
    ``STOCK_LINGER``, so that concurrent reservations merge into large groups. They contend
    for the same stock rows, which on PostgreSQL several writers would only take turns
    locking (`ordertrail bench --figure inventory`: 4 writers about 700/s, 1 writer about
    900/s, with the linger about 1,100/s). SQLite has one writer anyway: the app's."""
    if state.engine.dialect.name == "sqlite":
        return committer(state)
    if state.stock_committer is None:
        with _COMMITTERS_GUARD:
            if state.stock_committer is None:
                state.stock_committer = GroupCommitter(state.factory, writers=1,
                                                       linger=STOCK_LINGER)
    return state.stock_committer


async def writer(request: Request, state: AppState = Depends(get_state),
                 actor: Actor = Depends(current_actor)) -> Writer:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Invalid("Idempotency-Key must be 1 to 255 characters", code="bad_idempotency_key")
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(),
                 request.url.query.encode(), body):
        digest.update(part)
        digest.update(b"\0")
    return Writer(state, actor, key, request.method, request.url.path, digest.hexdigest())
