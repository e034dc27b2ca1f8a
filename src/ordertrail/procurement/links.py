"""Signed supplier links: ``/supplier/po?t=<po id>.<expiry>.<signature>``.

The signature is HMAC-SHA256, keyed with the install key of the customer tracking links
(``ordertrail.notify.links.signing_key``: ``settings.secret_key`` or the per-install key),
over ``"supplier-po:<po id>.<expiry unix seconds>"``. The ``supplier-po:`` prefix separates
these signatures from tracking-link signatures made with the same key, so one can never
stand for the other. The token names the purchase order and nothing else; it is checked
(signature first, in constant time, then expiry) before anything is read or changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.errors import Forbidden, OrdertrailError
from ordertrail.i18n import Msg
from ordertrail.notify.links import signing_key

log = logging.getLogger("ordertrail.procurement")
DOMAIN = b"supplier-po:"
MAX_DAYS = 365
PAGE_PATH = "/supplier/po"


class LinkTampered(Forbidden):
    """The token is malformed or its signature does not match."""

    code, title = "supplier_link_invalid", "Invalid supplier link"


class LinkExpired(OrdertrailError):
    """A genuine token past its expiry."""

    status, code, title = 410, "supplier_link_expired", "Supplier link expired"


def link_days(settings: Settings) -> int:
    """Default validity (``ORDERTRAIL_SUPPLIER_LINK_DAYS``, 30 by default)."""
    return settings.supplier_link_days


def _sign(key: bytes, po_id: int, expires: int) -> str:
    mac = hmac.new(key, DOMAIN + f"{po_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue(session: Session, settings: Settings, po_id: int, now: datetime,
          ttl: timedelta | None = None) -> tuple[str, datetime]:
    """A token for the purchase order and the moment it stops working."""
    expires = int((now + (ttl or timedelta(days=link_days(settings)))).timestamp())
    token = f"{po_id}.{expires}.{_sign(signing_key(session, settings, now), po_id, expires)}"
    return token, datetime.fromtimestamp(expires, UTC)


def url(settings: Settings, token: str) -> str:
    """The page address for a token, on ``settings.public_url``."""
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return f"{base}{PAGE_PATH}?{urlencode({'t': token})}"


def readable_id(token: str) -> int | None:
    """The purchase order id a token claims (unverified; for logs only)."""
    head = (token or "").split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) < 19 else None


def verify(session: Session, settings: Settings, token: str, now: datetime,
           client: str | None = None) -> tuple[int, datetime]:
    """The purchase order id and expiry of a genuine, unexpired token; else raise
    ``LinkTampered`` (403) or ``LinkExpired`` (410), after logging the attempt."""
    parts = (token or "").strip().split(".")
    po_id = readable_id(token)
    if (len(parts) != 3 or po_id is None or not parts[1].isdigit() or len(parts[1]) > 12
            or not parts[2]):
        _refused("malformed", po_id, client)
        raise LinkTampered(Msg("This supplier link is not valid. Ask your buyer for a new "
                               "one."))
    expires = int(parts[1])
    expected = _sign(signing_key(session, settings, now), po_id, expires)
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        _refused("tampered", po_id, client)
        raise LinkTampered(Msg("This supplier link is not valid. Ask your buyer for a new "
                               "one."))
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= now:
        _refused("expired", po_id, client)
        raise LinkExpired(Msg("This supplier link expired on {date}. Ask your buyer for a "
                              "new one.", {"date": expires_at.date().isoformat()}))
    return po_id, expires_at


def _refused(why: str, po_id: int | None, client: str | None) -> None:
    log.warning("supplier link refused (%s): purchase order id %s, client %s", why,
                po_id if po_id is not None else "unreadable", client or "unknown")
