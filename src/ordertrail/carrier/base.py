"""What every tracking provider plugin is: pure parsing and mapping plus one small client.

A *courier* is who carries the parcel (``sf``, ``yto``, ``ups``…); a *provider* is where
ordertrail learns about it (``kuaidi100``, ``track17``, ``aftership``, ``easypost``,
``generic``, ``sim``). A shipment has both. Providers are plugins registered in
``carrier.registry``; each subclasses :class:`Provider`.

Contract, in the order the hook endpoint uses it:
1. ``verify(request, creds)`` checks the signature on the raw bytes *before anything is
   parsed*; it raises :class:`BadSignature` (→ 401, nothing stored).
2. ``parse_push(request)`` turns the body into :class:`TrackingUpdate` values or raises
   :class:`MalformedPayload` (→ 400, raw body kept in the dead-letter table).
3. ``ack(...)`` is the response body the provider documents as "received".
Polling goes through ``client(creds, http)``, which returns a :class:`ProviderClient` (or None
when the provider cannot be polled, or is not configured).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

import httpx


class CarrierError(Exception):
    """Base of everything a provider raises; ``reason`` is shown to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadSignature(CarrierError):
    """The request is not signed by the provider (missing, wrong, or no secret configured)."""


class MalformedPayload(CarrierError):
    """The body is signed but cannot be understood; the reason names what is wrong."""


class NotConfigured(CarrierError):
    """A credential the operation needs is not set."""


class ProviderUnavailable(CarrierError):
    """The provider's API failed (network, 5xx, timeout); try again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RateLimited(ProviderUnavailable):
    """The provider said 429 / "too many requests"."""


@dataclass(frozen=True, slots=True)
class CarrierEvent:
    """One checkpoint, already mapped into the unified language.

    ``occurred_at`` is aware and in UTC (the adapter resolves the carrier's local time).
    ``code`` and ``description`` are the carrier's own, kept verbatim.
    """

    occurred_at: datetime
    status: str
    substatus: str
    description: str
    code: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    """What a push or a poll says about one tracking number."""

    tracking_number: str
    events: tuple[CarrierEvent, ...] = ()
    courier: str | None = None             # our courier slug, when the payload names it
    estimated_delivery: datetime | None = None
    stopped: bool = False                  # the provider will send no more (stop rules)
    stop_reason: str | None = None
    unmapped: tuple[str, ...] = ()         # raw codes that fell back to ``*.unknown``
    # The provider dropped the number but asks for it to be subscribed again after this
    # wait (Kuaidi100's "3天查询无记录"); takes precedence over ``stopped``.
    resubscribe_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A webhook as received: header names lower-case, the raw body untouched."""

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    """The response the provider expects when a push was accepted (or refused)."""

    status_code: int = 200
    body: bytes = b'{"ok":true}'
    media_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Registration:
    """A tracking number to subscribe or poll."""

    tracking_number: str
    courier: str | None = None
    phone: str | None = None        # some couriers (SF) want the last 4 digits of a phone
    origin_country: str | None = None
    destination_country: str | None = None
    destination_city: str | None = None
    scenario: str | None = None     # only the simulated carrier reads this


@dataclass(frozen=True, slots=True)
class RegisterResult:
    accepted: tuple[str, ...] = ()
    rejected: Mapping[str, str] = field(default_factory=dict)  # number -> reason


Credentials = Mapping[str, str | None]


class ProviderClient(Protocol):
    """The only I/O a provider does. Raises ProviderUnavailable / RateLimited on failure."""

    def register(self, items: Sequence[Registration], callback_url: str) -> RegisterResult: ...

    def fetch(self, items: Sequence[Registration]) -> list[TrackingUpdate]: ...


class Provider(ABC):
    """A tracking source plugin. Subclasses set the class attributes and the three methods."""

    slug: ClassVar[str]
    name: ClassVar[str]
    name_zh: ClassVar[str]
    credential_names: ClassVar[tuple[str, ...]] = ()  # read from settings as <slug>_<name>
    timezone: ClassVar[str] = "UTC"       # for timestamps the provider sends without offset
    batch_size: ClassVar[int] = 40        # numbers per register/fetch call
    requests_per_second: ClassVar[float] = 3.0
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = False

    @abstractmethod
    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the request is signed with the configured secret."""

    @abstractmethod
    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The updates a verified push carries; MalformedPayload when it cannot be read."""

    def ack(self, accepted: bool, message: str = "") -> Ack:
        """The body to answer a push with."""
        if accepted:
            return Ack()
        return Ack(400, b'{"ok":false}')

    def client(self, creds: Credentials, http: httpx.Client) -> ProviderClient | None:
        """A polling/subscription client, or None when this provider cannot poll."""
        return None
