"""The one HTTP client of Kuaidi100: subscribe (``/poll``) and real-time query (``/poll/query.do``).

Both endpoints take one number per request, as a form POST with a JSON ``param``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ordertrail.carrier.base import (
    NotConfigured,
    ProviderUnavailable,
    RegisterResult,
    Registration,
    TrackingUpdate,
)
from ordertrail.carrier.http import post_json
from ordertrail.carrier.kuaidi100 import codes, parse

log = logging.getLogger(__name__)

BASE_URL = "https://poll.kuaidi100.com"
POLL_PATH = "/poll"
QUERY_PATH = "/poll/query.do"
TIMEOUT = 15.0


class Kuaidi100Client:
    """Subscribes numbers for pushes and queries them in real time."""

    def __init__(self, http: httpx.Client, *, key: str | None, customer: str | None = None,
                 salt: str | None = None, base_url: str = BASE_URL) -> None:
        self._http = http
        self._key = key
        self._customer = customer
        self._salt = salt
        self._base = base_url.rstrip("/")

    def _post(self, path: str, form: Mapping[str, str]) -> Any:
        # Kuaidi100 reports a refused key in the answer's returnCode; a 401 is just a failure.
        return post_json(self._http, f"{self._base}{path}", "kuaidi100", timeout=TIMEOUT,
                         data=dict(form))

    def register(self, items: Sequence[Registration], callback_url: str) -> RegisterResult:
        """Subscribe each number; pushes go to ``callback_url`` signed with our salt."""
        if not self._key:
            raise NotConfigured("kuaidi100 key is not set (ORDERTRAIL_KUAIDI100_KEY)")
        if not self._salt:
            raise NotConfigured("kuaidi100 salt is not set (ORDERTRAIL_KUAIDI100_SALT); "
                                "unsigned pushes would be refused")
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        for item in items:
            company = codes.COMPANY.get(item.courier) if item.courier else None
            phone = parse.phone_tail(item.phone)
            if company in codes.PHONE_REQUIRED and phone is None:
                rejected[item.tracking_number] = ("kuaidi100 tracks SF numbers only with the "
                                                  "last 4 digits of a phone number")
                continue
            param = parse.subscribe_param(
                company=company, number=item.tracking_number, key=self._key,
                callback_url=callback_url, salt=self._salt, phone=phone,
                to=item.destination_city)
            answer = self._post(POLL_PATH, {"schema": "json", "param": parse.dumps(param)})
            code = str(answer.get("returnCode", "")) if isinstance(answer, Mapping) else ""
            message = str(answer.get("message", "")) if isinstance(answer, Mapping) else ""
            if code in (codes.SUBSCRIBE_OK, codes.SUBSCRIBE_DUPLICATE):
                accepted.append(item.tracking_number)
            elif code in codes.SUBSCRIBE_REJECTED:
                rejected[item.tracking_number] = (f"kuaidi100 {code}: "
                                                  f"{message or codes.SUBSCRIBE_REJECTED[code]}")
            elif code in codes.SUBSCRIBE_BAD_KEY:
                raise NotConfigured(f"kuaidi100 refused the key ({code} "
                                    f"{codes.SUBSCRIBE_BAD_KEY[code]})")
            else:
                raise ProviderUnavailable(f"kuaidi100 subscribe failed ({code or 'no code'}: "
                                          f"{message})")
        return RegisterResult(accepted=tuple(accepted), rejected=rejected)

    def fetch(self, items: Sequence[Registration]) -> list[TrackingUpdate]:
        """Query each number in real time; numbers with no result yet are left out."""
        if not self._key or not self._customer:
            raise NotConfigured("kuaidi100 key and customer are needed for queries "
                                "(ORDERTRAIL_KUAIDI100_KEY, ORDERTRAIL_KUAIDI100_CUSTOMER)")
        updates: list[TrackingUpdate] = []
        for item in items:
            company = codes.COMPANY.get(item.courier) if item.courier else None
            if company is None:
                log.info("kuaidi100 query skipped for %s: no company code for courier %r",
                         item.tracking_number, item.courier)
                continue
            param = parse.dumps(parse.query_param(company=company, number=item.tracking_number,
                                                  phone=parse.phone_tail(item.phone)))
            answer = self._post(QUERY_PATH, {
                "customer": self._customer, "param": param,
                "sign": parse.query_sign(param, self._key, self._customer)})
            if not isinstance(answer, Mapping):
                raise ProviderUnavailable("kuaidi100 query answered a JSON value that is not "
                                          "an object")
            if answer.get("result") is False or "returnCode" in answer:
                self._query_failed(item.tracking_number, answer)
                continue
            update = parse.parse_query(answer)
            if update.courier is None and item.courier:
                update = TrackingUpdate(
                    tracking_number=update.tracking_number, events=update.events,
                    courier=item.courier, unmapped=update.unmapped)
            updates.append(update)
        return updates

    def _query_failed(self, number: str, answer: Mapping[str, Any]) -> None:
        code = str(answer.get("returnCode", ""))
        message = str(answer.get("message", ""))
        if code == codes.QUERY_NO_RESULT or code in codes.QUERY_PER_NUMBER:
            log.info("kuaidi100 query for %s: %s %s", number, code, message)
            return
        if code in codes.QUERY_BAD_KEY:
            raise NotConfigured(f"kuaidi100 refused the query ({code} "
                                f"{codes.QUERY_BAD_KEY[code]})")
        if code in codes.QUERY_BUSY:
            raise ProviderUnavailable(f"kuaidi100 query failed ({code} {codes.QUERY_BUSY[code]})")
        raise ProviderUnavailable(f"kuaidi100 query failed ({code or 'no code'}: {message})")
