"""The FastAPI application: routers, problem+json errors, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from sqlalchemy import text

from ordertrail import __version__, metrics
from ordertrail.api import problems
from ordertrail.api.deps import AppState, _AuthCache, current_actor, get_state
from ordertrail.api.limits import BodyLimit
from ordertrail.api.timing import ServerTiming
from ordertrail.billing.endpoints import router as billing_router
from ordertrail.calendar.endpoints import router as calendar_router
from ordertrail.carrier.endpoints import router as carrier_router
from ordertrail.config import Settings, get_settings
from ordertrail.db import make_engine, make_sessionmaker
from ordertrail.flow.endpoints import router as flow_router
from ordertrail.flow.planner import Actor
from ordertrail.inventory.endpoints import router as inventory_router
from ordertrail.jobs.endpoints import router as jobs_router
from ordertrail.kit.clock import Clock, SystemClock
from ordertrail.notify.endpoints import router as notify_router
from ordertrail.order.endpoints import router as order_router
from ordertrail.procurement.endpoints import router as procurement_router
from ordertrail.production.endpoints import router as production_router
from ordertrail.shipment.endpoints import router as shipment_router
from ordertrail.shipment.hooks import router as hooks_router
from ordertrail.sla.endpoints import router as sla_router
from ordertrail.webhooks.endpoints import router as webhooks_router

DESCRIPTION = """
ordertrail follows every order from creation to cash as one timeline.

Authenticate with `Authorization: Bearer <api key>` (create one with
`ordertrail apikey create --user NAME`). Errors are `application/problem+json` (RFC 9457).
Send `Idempotency-Key: <unique value>` with any POST to make retries safe.
"""


class Me(BaseModel):
    name: str
    roles: list[str]


def _background(state: AppState) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from ordertrail.jobs.worker import Worker
        from ordertrail.shipment.poller import Poller

        # Made first: a consumer module that fails to import stops the start-up here.
        worker = (Worker(state.factory, state.clock, state.settings)
                  if state.settings.embedded_worker else None)
        poller = Poller(state.factory, state.clock, state.settings)
        poller.start()
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            poller.stop()

    return lifespan


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               state: AppState | None = None, background: bool = False) -> FastAPI:
    """Build the app; pass ``state`` to share an engine (tests), else one is made.

    ``background`` runs the in-process jobs (the shipment poller, and the job worker when
    ``settings.embedded_worker``) while the app is up; ``serve`` and ``demo`` turn it on.
    """
    settings = settings or get_settings()
    if state is None:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        state = AppState(engine=engine, factory=make_sessionmaker(engine),
                         clock=clock or SystemClock(), settings=settings)
    # Swagger UI assets ship inside the fastapi-offline wheel: /docs works on closed intranets.
    app = FastAPIOffline(title="ordertrail", version=__version__, description=DESCRIPTION,
                         openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                         lifespan=_background(state) if background else None)
    app.state.ot = state
    app.state.auth_cache = _AuthCache()
    problems.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(ServerTiming)
    app.include_router(order_router)
    app.include_router(flow_router)
    app.include_router(carrier_router)
    app.include_router(shipment_router)
    app.include_router(hooks_router)
    for router in (jobs_router, calendar_router, sla_router, notify_router, webhooks_router,
                   inventory_router, production_router, procurement_router, billing_router):
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(st: AppState = Depends(get_state)) -> dict[str, str]:
        """Readiness: the database answers."""
        with st.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": st.engine.dialect.name}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus counters (webhooks by outcome, events stored, polls, unmapped codes)."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/api/v1/me", tags=["auth"], response_model=Me)
    async def me(actor: Actor = Depends(current_actor)) -> Me:
        """Who the API key belongs to, and their roles."""
        return Me(name=actor.name, roles=sorted(actor.roles))

    return app
