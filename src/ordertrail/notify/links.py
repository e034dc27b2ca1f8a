"""Signed customer tracking links: ``/track?o=ORDER&e=EXPIRY&s=SIGNATURE``.

The signature is HMAC-SHA256 over ``"<order_no>.<expiry unix seconds>"`` with
``settings.secret_key``; when that is unset, a random per-install key is generated on first
use and kept in the ``install_secrets`` table (so links stay valid across restarts and across
processes sharing the database). Rotating the key invalidates every link issued before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.models.notify import InstallSecret

KEY_NAME = "tracking_link_key"


def signing_key(session: Session, settings: Settings, now: datetime) -> bytes:
    """The link key: the setting, else the stored per-install key (created once)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    row = session.get(InstallSecret, KEY_NAME)
    if row is None:
        try:
            with session.begin_nested():
                session.add(InstallSecret(name=KEY_NAME, value=secrets.token_urlsafe(48),
                                          created_at=now))
        except IntegrityError:
            pass  # another process made it first; use theirs
        row = session.scalars(select(InstallSecret).where(InstallSecret.name == KEY_NAME)).one()
    return row.value.encode()


def signature(key: bytes, order_no: str, expires: int) -> str:
    mac = hmac.new(key, f"{order_no}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def tracking_query(session: Session, settings: Settings, order_no: str, now: datetime,
                   ttl: timedelta | None = None) -> dict[str, str]:
    """The query parameters of a signed link to ``order_no``."""
    ttl = ttl or timedelta(days=settings.tracking_link_days)
    expires = int((now + ttl).timestamp())
    return {"o": order_no, "e": str(expires),
            "s": signature(signing_key(session, settings, now), order_no, expires)}


def tracking_url(session: Session, settings: Settings, order_no: str, now: datetime,
                 ttl: timedelta | None = None) -> str:
    """A signed link to the customer tracking page of an order."""
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return f"{base}/track?{urlencode(tracking_query(session, settings, order_no, now, ttl))}"


def verify(session: Session, settings: Settings, order_no: str, expires: str | int,
           sig: str, now: datetime) -> bool:
    """True if the link is genuine and not expired (for the /track page)."""
    try:
        exp = int(expires)
    except (TypeError, ValueError):
        return False
    if exp < now.timestamp():
        return False
    expected = signature(signing_key(session, settings, now), order_no, exp)
    return hmac.compare_digest(expected, sig or "")
