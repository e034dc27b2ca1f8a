"""The ``kuaidi100`` provider plugin (快递100 订阅推送 + 实时查询)."""

from __future__ import annotations

import json
from typing import ClassVar
from zoneinfo import ZoneInfo

import httpx

from ordertrail.carrier.base import (
    Ack,
    Credentials,
    InboundRequest,
    Provider,
    ProviderClient,
    TrackingUpdate,
)
from ordertrail.carrier.kuaidi100 import parse
from ordertrail.carrier.kuaidi100.client import Kuaidi100Client


class Kuaidi100(Provider):
    """Kuaidi100 pushes (form POST signed with our salt) and polls (query.do)."""

    slug: ClassVar[str] = "kuaidi100"
    name: ClassVar[str] = "Kuaidi100"
    name_zh: ClassVar[str] = "快递100"
    credential_names: ClassVar[tuple[str, ...]] = ("key", "customer", "salt")
    timezone: ClassVar[str] = "Asia/Shanghai"
    batch_size: ClassVar[int] = 1            # both endpoints take one number per request
    requests_per_second: ClassVar[float] = 1.0
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = True

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless ``sign`` is MD5(param + our salt), upper-case."""
        parse.verify_push(request.body, creds.get("salt"))

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The one update a verified push carries."""
        return [parse.parse_push_body(request.body, ZoneInfo(self.timezone))]

    def ack(self, accepted: bool, message: str = "") -> Ack:
        """Kuaidi100's documented answer; a refusal (result false, 500) makes it retry."""
        if accepted:
            body = {"result": True, "returnCode": "200", "message": "成功"}
            return Ack(200, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        body = {"result": False, "returnCode": "500", "message": message or "失败"}
        return Ack(500, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def client(self, creds: Credentials, http: httpx.Client) -> ProviderClient | None:
        """A subscribe/query client, or None while no key is configured."""
        if not creds.get("key"):
            return None
        return Kuaidi100Client(http, key=creds.get("key"), customer=creds.get("customer"),
                               salt=creds.get("salt"))
