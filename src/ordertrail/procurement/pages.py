"""The supplier's page: ``GET /supplier/po?t=TOKEN`` and its three forms.

Self-contained HTML (inline CSS, no script, no external asset), in the supplier's language
(``?lang=`` if given, else the supplier's locale; refusals follow Accept-Language). Forms
post ``application/x-www-form-urlencoded`` with the token in a hidden field; a success
answers 303 back to the page (reloading never posts twice). A tampered link gets 403, an
expired one 410: a refusal page, nothing changed, the attempt logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ordertrail.api.deps import AppState, committer, get_state
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import OrdertrailError
from ordertrail.i18n import Msg, normalize_lang, render
from ordertrail.models.procurement import Supplier
from ordertrail.procurement import read, supplier
from ordertrail.procurement.links import LinkExpired
from ordertrail.procurement.schemas import OPEN_STATUSES
from ordertrail.procurement.service import day_text, due_of

router = APIRouter(tags=["supplier"])
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
DONE = {
    "confirmed": "Thank you: the delivery date is confirmed.",
    "date": "Thank you: the new date was sent to the buyer.",
    "tracking": "Thank you: the parcel is now tracked.",
}
STATUS = {"draft": "Waiting for your confirmation", "sent": "Waiting for your confirmation",
          "confirmed": "Confirmed", "partially_received": "Partly received", "received": "Received",
          "cancelled": "Cancelled"}


@lru_cache
def _env() -> Environment:
    return Environment(loader=PackageLoader("ordertrail.procurement", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True,
                       lstrip_blocks=True)


def _tr(lang: str) -> Callable[[str], str]:
    return lambda text: render(Msg(text), lang)


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _refusal(exc: OrdertrailError, lang: str) -> HTMLResponse:
    title = (Msg("This link has expired") if isinstance(exc, LinkExpired)
             else Msg("This link is not valid") if exc.status == 403
             else Msg("This purchase order cannot be shown"))
    page = _env().get_template("supplier_po.html").render(
        _=_tr(lang), lang=lang, po=None, refusal=exc.detail(lang),
        refusal_title=render(title, lang))
    return _html(page, exc.status)


def _page(session: Session, state: AppState, access: supplier.Access, lang_param: str | None,
          *, done: str | None = None, error: str | None = None, token: str) -> str:
    ctx = Ctx(session, SYSTEM_ACTOR, state.clock, state.settings)
    po, who, _as = supplier.load(ctx, access)
    lang = _lang_of(lang_param, who)
    tz = ZoneInfo(state.settings.timezone)
    view = read.supplier_view(session, po, access.expires_at)
    current = due_of(po)
    tr = _tr(lang)
    return _env().get_template("supplier_po.html").render(
        _=tr, lang=lang, po=view, token=token, supplier_name=who.name,
        status_text=tr(STATUS.get(po.status, po.status)),
        expected=day_text(po.expected_at, state.settings) if po.expected_at else None,
        confirmed=day_text(po.confirmed_at, state.settings) if po.confirmed_at else None,
        current=day_text(current, state.settings) if current else None,
        open=po.status in {s.value for s in OPEN_STATUSES},
        today=state.clock.now().astimezone(tz).date().isoformat(),
        expires=day_text(access.expires_at, state.settings),
        done=tr(DONE[done]) if done in DONE else None, error=error, qty=_qty, refusal=None)


def _lang_of(param: str | None, who: Supplier) -> str:
    if param:
        return normalize_lang(param)
    return who.locale if who.locale in ("zh-CN", "en") else "zh-CN"


@router.get("/supplier/po", response_class=HTMLResponse, include_in_schema=True)
async def supplier_page(request: Request, t: str = Query("", max_length=512),
                        lang: str | None = Query(None, max_length=16),
                        ok: str | None = Query(None, max_length=16),
                        state: AppState = Depends(get_state)) -> Response:
    """The purchase order as the supplier sees it, with forms to confirm or change the date
    and to give the parcel's tracking number (no account: the link is the credential)."""
    asked = normalize_lang(request.headers.get("accept-language"))
    client = _client(request)

    def run() -> str:
        with state.factory() as session:
            access = supplier.check(session, state.settings, t, state.clock.now(), client)
            return _page(session, state, access, lang, done=ok, token=t)

    try:
        return _html(await run_in_threadpool(run))
    except OrdertrailError as exc:
        return _refusal(exc, asked)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def _post(request: Request, state: AppState, done: str,
                change: Callable[[Ctx, supplier.Access, dict[str, str]], Any]) -> Response:
    form = await _form(request)
    token = form.get("t", "")
    asked = normalize_lang(request.headers.get("accept-language"))
    client = _client(request)
    lang_param = request.query_params.get("lang")

    def verify() -> supplier.Access:
        with state.factory() as session:
            return supplier.check(session, state.settings, token, state.clock.now(), client)

    try:
        access = await run_in_threadpool(verify)
    except OrdertrailError as exc:
        return _refusal(exc, asked)

    def job(session: Session) -> None:
        change(Ctx(session, SYSTEM_ACTOR, state.clock, state.settings), access, form)

    try:
        await committer(state).run(job)
    except OrdertrailError as exc:
        failure = exc

        def again() -> str:
            with state.factory() as session:
                ctx = Ctx(session, SYSTEM_ACTOR, state.clock, state.settings)
                lang = _lang_of(lang_param, supplier.load(ctx, access)[1])
                return _page(session, state, access, lang_param,
                             error=failure.detail(lang), token=token)

        try:
            return _html(await run_in_threadpool(again), failure.status)
        except OrdertrailError as exc2:   # the purchase order itself is gone
            return _refusal(exc2, asked)
    query = {"t": token, "ok": done, **({"lang": lang_param} if lang_param else {})}
    return RedirectResponse(f"../po?{urlencode(query)}", status_code=303, headers=HEADERS)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        from ordertrail.errors import Invalid

        raise Invalid(Msg("{value} is not a date (use YYYY-MM-DD).", {"value": value}),
                      code="bad_date") from None


@router.post("/supplier/po/confirm", response_class=HTMLResponse)
async def supplier_confirm(request: Request, state: AppState = Depends(get_state)) -> Response:
    """Form: confirm the delivery date (fields ``t``, ``note``)."""
    return await _post(request, state, "confirmed", lambda ctx, access, form: supplier.confirm(
        ctx, access, form.get("note") or None))


@router.post("/supplier/po/date", response_class=HTMLResponse)
async def supplier_date(request: Request, state: AppState = Depends(get_state)) -> Response:
    """Form: propose another delivery date (fields ``t``, ``date`` YYYY-MM-DD, ``note``)."""
    return await _post(request, state, "date", lambda ctx, access, form: supplier.propose(
        ctx, access, _date(form.get("date")), (form.get("note") or "").strip()[:2000] or None))


@router.post("/supplier/po/tracking", response_class=HTMLResponse)
async def supplier_tracking(request: Request, state: AppState = Depends(get_state)) -> Response:
    """Form: the inbound parcel (fields ``t``, ``carrier``, ``tracking_number``)."""
    def change(ctx: Ctx, access: supplier.Access, form: dict[str, str]) -> Any:
        number = (form.get("tracking_number") or "").strip()
        if not 4 <= len(number) <= 64:
            from ordertrail.errors import Invalid

            raise Invalid(Msg("Give the tracking number (4 to 64 characters)."),
                          code="bad_tracking_number")
        return supplier.tracking(ctx, access, (form.get("carrier") or "").strip().lower()
                                 or None, number)

    return await _post(request, state, "tracking", change)
