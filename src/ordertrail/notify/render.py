"""Message templates: Jinja2 in a sandbox, files per kind and locale, overridable in the DB.

A template is one file ``templates/<locale>/<kind>.j2`` with two blocks, ``subject`` (one
line) and ``body``. Rendering uses ``StrictUndefined``: a misspelt variable is an error, and
an override is only accepted after it renders against a sample context of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.errors import Invalid, NotFound
from ordertrail.models.notify import NotificationTemplate

LOCALES = ("zh-CN", "en")
ALERT_KINDS = ("stage_at_risk", "stage_overdue", "order_late_risk", "approval_waiting",
               "shipment_no_update", "shipment_exception", "delivery_failed", "payment_overdue",
               "work_order_late")
CUSTOMER_KINDS = ("shipped", "out_for_delivery", "delivered", "delayed")
# generic alert (kinds without a file), digest, the notice of a disabled webhook endpoint
OTHER_KINDS = ("alert", "digest", "webhook_disabled")
KINDS = ALERT_KINDS + CUSTOMER_KINDS + OTHER_KINDS

# Variables each group of templates receives (documented in docs/notifications.md).
ALERT_SAMPLE: dict[str, Any] = {
    "order_no": "SO20261121-00042", "stage": "订单审核", "kind": "stage_overdue",
    "severity": "严重", "level": 1, "escalated": False, "title": "订单审核超时",
    "detail": "已超出 2 个工作小时", "due_at": "2026-11-21 11:00", "promised_at": "",
    "carrier": "sf", "tracking_number": "SF1234567890", "alert_id": 1,
    "recipient": "张三",
}
CUSTOMER_SAMPLE: dict[str, Any] = {
    "order_no": "SO20261121-00042", "customer_name": "张伟", "carrier": "sf",
    "tracking_number": "SF1234567890", "tracking_url": "https://example.cn/track?o=x",
    "expected_at": "2026-11-25 18:00", "promised_at": "2026-11-24 18:00",
    "reason": "在运输途中出现异常", "status": "exception",
}
DIGEST_SAMPLE: dict[str, Any] = {
    "count": 2, "period": "2026-11-21 10:00", "items": [
        {"subject": "【预警】订单 SO20261121-00042 在「订单审核」已超时", "body": "…",
         "order_no": "SO20261121-00042"},
        {"subject": "【预警】订单 SO20261121-00043 在「订单审核」即将超时", "body": "…",
         "order_no": "SO20261121-00043"}]}


NOTICE_SAMPLE: dict[str, Any] = {
    "endpoint_id": 3, "url": "https://erp.example.cn/hooks", "failure_streak": 10,
    "reason": "10 failed deliveries in a row since 2026-11-21 09:00 UTC; last: 503",
    "first_failure_at": "2026-11-21 17:00", "recipient": "admin"}


def sample_for(kind: str) -> dict[str, Any]:
    if kind == "webhook_disabled":
        return dict(NOTICE_SAMPLE)
    if kind in CUSTOMER_KINDS:
        return dict(CUSTOMER_SAMPLE)
    if kind == "digest":
        return dict(DIGEST_SAMPLE)
    return dict(ALERT_SAMPLE, kind=kind)


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=False,
                            keep_trailing_newline=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def file_source(kind: str, locale: str) -> str | None:
    """The built-in template text, or None when there is no file for it."""
    return _file_source(kind, locale)


@lru_cache(maxsize=128)
def _file_source(kind: str, locale: str) -> str | None:
    path = resources.files("ordertrail.notify").joinpath("templates", locale, f"{kind}.j2")
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


@lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    return _env.from_string(source)


def render_source(source: str, context: dict[str, Any]) -> Rendered:
    """Render a template text (raises jinja2 errors)."""
    template = _compile(source)
    missing = {"subject", "body"} - set(template.blocks)
    if missing:
        raise TemplateSyntaxError(
            f"the template must define the blocks subject and body (missing: "
            f"{', '.join(sorted(missing))})", 1)
    ctx = template.new_context(dict(context))
    subject = "".join(template.blocks["subject"](ctx)).strip()
    body = "".join(template.blocks["body"](ctx)).strip()
    return Rendered(" ".join(subject.split()), body)


def source_for(session: Session, kind: str, locale: str) -> str:
    """The template text in use: the override if any, else the file (generic for unknown
    alert kinds, English if the locale has none)."""
    row = session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.kind == kind, NotificationTemplate.locale == locale)).first()
    if row is not None:
        return row.source
    for k, loc in ((kind, locale), (kind, "en"), ("alert", locale), ("alert", "en")):
        text = file_source(k, loc)
        if text is not None:
            return text
    raise NotFound(f"no template for {kind} in {locale}")


def render(session: Session, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
    """Render the message of ``kind`` in ``locale``; a broken override falls back to the
    built-in file, so a bad edit never silences an alert."""
    locale = locale if locale in LOCALES else "en"
    source = source_for(session, kind, locale)
    try:
        return render_source(source, context)
    except TemplateError:
        fallback = file_source(kind, locale) or file_source("alert", locale)
        if fallback is None or fallback == source:
            raise
        return render_source(fallback, context)


def validate(kind: str, locale: str, source: str) -> Rendered:
    """Refuse a template that does not compile or render against its kind's sample."""
    check_kind(kind, locale)
    try:
        return render_source(source, sample_for(kind))
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        raise Invalid(f"template syntax error{where}: {exc.message}",
                      code="invalid_template") from None
    except TemplateError as exc:
        raise Invalid(f"template error: {exc.message or exc}; variables available for "
                      f"{kind}: {', '.join(sorted(sample_for(kind)))}",
                      code="invalid_template") from None
    except Exception as exc:  # noqa: BLE001 - any failure in a user template is a refusal
        raise Invalid(f"template error: {type(exc).__name__}: {exc}",
                      code="invalid_template") from None


def check_kind(kind: str, locale: str) -> None:
    if kind not in KINDS:
        raise Invalid(f"unknown template kind {kind!r}; known: {', '.join(KINDS)}",
                      code="unknown_template_kind")
    if locale not in LOCALES:
        raise Invalid(f"unknown locale {locale!r}; use zh-CN or en", code="unknown_locale")
