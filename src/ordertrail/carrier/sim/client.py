"""The I/O of the sim provider: register and poll over the simulator's HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ordertrail.carrier.base import (
    CarrierError,
    NotConfigured,
    ProviderUnavailable,
    RateLimited,
    RegisterResult,
    Registration,
    TrackingUpdate,
)
from ordertrail.carrier.generic import parse
from ordertrail.carrier.http import retry_after


class SimClient:
    """Talks to ``ordertrail carriers simulate``; implements base.ProviderClient."""

    def __init__(self, base_url: str | None, secret: str | None, http: httpx.Client) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.secret = secret
        self.http = http

    def register(self, items: Sequence[Registration], callback_url: str) -> RegisterResult:
        """Subscribe numbers; the simulator pushes their events to ``callback_url``."""
        body = {"callback_url": callback_url, "items": [
            {"tracking_number": r.tracking_number, "courier": r.courier,
             "scenario": r.scenario, "destination_city": r.destination_city}
            for r in items]}
        data = self._post("/v1/register", body).json()
        try:
            return RegisterResult(accepted=tuple(data["accepted"]),
                                  rejected=dict(data["rejected"]))
        except (KeyError, TypeError) as exc:
            raise ProviderUnavailable(f"sim: unexpected register answer ({exc})") from None

    def fetch(self, items: Sequence[Registration]) -> list[TrackingUpdate]:
        """The events so far of each number the simulator knows (unknown ones are absent)."""
        response = self._post("/v1/track", {"numbers": [r.tracking_number for r in items]})
        return parse.parse_body(response.content)

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        if not self.base_url:
            raise NotConfigured("sim: the simulator URL is not set (ORDERTRAIL_SIM_URL)")
        if not self.secret:
            raise NotConfigured("sim: the secret is not set (ORDERTRAIL_SIM_WEBHOOK_SECRET)")
        try:
            response = self.http.post(f"{self.base_url}{path}", json=body,
                                      headers={"Authorization": f"Bearer {self.secret}"})
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"sim: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"sim: cannot connect ({type(exc).__name__}: {exc})") \
                from None
        wait = retry_after(response.headers.get("retry-after"))
        if response.status_code == 429:
            raise RateLimited("sim: too many requests (429)", retry_after=wait)
        if response.status_code >= 500:
            raise ProviderUnavailable(f"sim: HTTP {response.status_code}", retry_after=wait)
        if response.status_code in (401, 403):
            raise NotConfigured("sim: the simulator refused the secret; check "
                                "ORDERTRAIL_SIM_WEBHOOK_SECRET")
        if not response.is_success:
            raise CarrierError(f"sim: HTTP {response.status_code}: {response.text[:200]}")
        return response
