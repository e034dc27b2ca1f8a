"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signed content is ``f"{id}.{timestamp}.{body}"`` and the signature header holds one or
more space-separated ``v1,<base64 HMAC-SHA256>`` values (several while a secret is rotated).
A secret written ``whsec_<base64>`` is the base64-decoded key; any other secret is used as
its UTF-8 bytes. A timestamp more than five minutes away from this machine's clock is refused,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from ordertrail.carrier.base import BadSignature
from ordertrail.carrier.signing import matches, require_secret

TOLERANCE_SECONDS = 5 * 60
PREFIX = "whsec_"
VERSION = "v1"


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for; ValueError when a ``whsec_`` secret is not base64."""
    if secret.startswith(PREFIX):
        try:
            key = base64.b64decode(secret[len(PREFIX):], validate=True)
        except binascii.Error:
            raise ValueError("the part after whsec_ is not valid base64") from None
        if not key:
            raise ValueError("the part after whsec_ is empty")
        return key
    if not secret:
        raise ValueError("the secret is empty")
    return secret.encode("utf-8")


def signature(body: bytes, key: bytes, msg_id: str, timestamp: int) -> str:
    """The ``v1,<base64>`` signature of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """The three headers a sender attaches to ``body``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature(body, secret_key(secret), msg_id, int(timestamp)),
    }


def verify(headers: Mapping[str, str], body: bytes, secret: str | None,
           now: float | None = None) -> None:
    """Raise BadSignature unless ``body`` carries a fresh, valid signature made with ``secret``."""
    secret = require_secret(secret, "no webhook secret is configured for this provider")
    try:
        key = secret_key(secret)
    except ValueError as exc:
        raise BadSignature(f"the configured webhook secret is unusable: {exc}") from None
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get("webhook-id", "").strip()
    stamp = lower.get("webhook-timestamp", "").strip()
    offered = lower.get("webhook-signature", "").strip()
    missing = [name for name, value in (("webhook-id", msg_id), ("webhook-timestamp", stamp),
                                        ("webhook-signature", offered)) if not value]
    if missing:
        raise BadSignature(f"missing header {', '.join(missing)}")
    if not stamp.isascii() or not stamp.isdigit():
        raise BadSignature("webhook-timestamp is not a whole number of unix seconds")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if timestamp < current - TOLERANCE_SECONDS:
        raise BadSignature("webhook-timestamp is more than 5 minutes old")
    if timestamp > current + TOLERANCE_SECONDS:
        raise BadSignature("webhook-timestamp is more than 5 minutes in the future")
    expected = signature(body, key, msg_id, timestamp)
    for candidate in offered.split():
        if matches(candidate, expected):
            return
    raise BadSignature("no webhook-signature matches the body")
