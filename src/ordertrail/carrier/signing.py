"""The signature-check steps every push provider takes, whatever its scheme.

No secret configured refuses everything; a header is found whatever the case of its name;
a signature is compared in constant time. What is signed and how, and the reasons given,
stay with each provider (``<provider>/parse.py``, ``generic/signing.py``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ordertrail.carrier.base import BadSignature


def require_secret(secret: str | None, reason: str) -> str:
    """The configured secret; BadSignature(``reason``) when there is none, so nothing passes."""
    if not secret:
        raise BadSignature(reason)
    return secret


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lower-case), or None.

    Headers arrive lower-cased (the InboundRequest contract); callers that forget are
    tolerated.
    """
    if (value := headers.get(name)) is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def signed_header(headers: Mapping[str, str], name: str, shown: str | None = None) -> str:
    """The signature header ``name``; BadSignature ``missing <shown> header`` when empty."""
    value = header(headers, name)
    if not value:
        raise BadSignature(f"missing {shown or name} header")
    return value


def matches(offered: str, expected: str) -> bool:
    """Whether ``offered`` is ``expected``, compared in constant time (as UTF-8)."""
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


def check(offered: str, expected: str, reason: str) -> None:
    """BadSignature(``reason``) unless ``offered`` is ``expected`` (constant time)."""
    if not matches(offered, expected):
        raise BadSignature(reason)
