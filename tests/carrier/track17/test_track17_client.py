"""The 17TRACK client: request shape, batching, answers, errors and its 3 req/s limiter."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import httpx
import pytest

from ordertrail.carrier.base import (
    NotConfigured,
    ProviderUnavailable,
    RateLimited,
    Registration,
)
from ordertrail.carrier.track17.client import RateLimiter, Track17Client, shared_limiter
from ordertrail.carrier.track17.plugin import Track17
from tests.carrier.helpers import Handler, answer, local_server, recording_http

DATA = Path(__file__).parent / "data"
KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"


class FakeTime:
    """A clock that only moves when someone sleeps; thread-safe enough for the limiter."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime) -> RateLimiter:
    return RateLimiter(3, 1.0, clock=fake.clock, sleep=fake.sleep)


def client_with(handler: Handler,
                fake: FakeTime | None = None) -> tuple[Track17Client, list[httpx.Request]]:
    http, seen = recording_http(handler)
    return Track17Client(http, key=KEY, limiter=limiter(fake or FakeTime())), seen


def ok(accepted: list | None = None, rejected: list | None = None) -> dict:
    return {"code": 0, "data": {"accepted": accepted or [], "rejected": rejected or []}}


def test_register_sends_17token_and_a_json_list_with_known_carrier_keys():
    client, seen = client_with(answer(json.loads((DATA / "register_ok.json").read_text())))
    result = client.register([Registration("LX123456789CN", courier="chinapost"),
                              Registration("1Z999AA10123456784", courier="ups"),
                              Registration("123", courier="zto")],
                             callback_url="ignored: set in the dashboard")
    [request] = seen
    assert str(request.url) == "https://api.17track.net/track/v2.2/register"
    assert request.headers["17token"] == KEY
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == [
        {"number": "LX123456789CN", "carrier": 3011},
        {"number": "1Z999AA10123456784", "carrier": 100002},
        {"number": "123"}]  # no verified key for zto: 17TRACK detects the carrier
    assert result.accepted == ("LX123456789CN", "1Z999AA10123456784")  # -18019901 counts
    assert set(result.rejected) == {"123"}
    assert result.rejected["123"].startswith("17TRACK -18019903")


def test_more_than_40_numbers_go_in_several_requests():
    client, seen = client_with(answer(ok()))
    client.register([Registration(f"N{i:03d}") for i in range(85)], "")
    assert [len(json.loads(r.content)) for r in seen] == [40, 40, 5]


def test_fetch_parses_accepted_and_leaves_rejected_out():
    body = json.loads((DATA / "gettrackinfo_ok.json").read_text(encoding="utf-8"))
    client, seen = client_with(answer(body))
    updates = client.fetch([Registration("LX123456789CN"), Registration("1Z999AA10123456784"),
                            Registration("NOTREGISTERED1")])
    assert str(seen[0].url) == "https://api.17track.net/track/v2.2/gettrackinfo"
    assert [u.tracking_number for u in updates] == ["LX123456789CN", "1Z999AA10123456784"]
    assert updates[1].events[-1].substatus == "delivered.other"


def test_an_unreadable_answer_is_the_provider_failing():
    client, _ = client_with(answer(ok(accepted=[{"carrier": 3011}])))
    with pytest.raises(ProviderUnavailable, match="unreadable"):
        client.fetch([Registration("LX123456789CN")])


@pytest.mark.parametrize("code", [-18010001, -18010002, -18010004, -18010005])
def test_a_refused_key_is_not_configured(code):
    client, _ = client_with(answer({"code": code, "data": {}}))
    with pytest.raises(NotConfigured, match="refused the key"):
        client.fetch([Registration("X")])


def test_http_401_is_not_configured():
    client, _ = client_with(answer({}, 401))
    with pytest.raises(NotConfigured):
        client.register([Registration("X")], "")


def test_other_api_error_codes_are_provider_unavailable():
    client, _ = client_with(answer({"code": -18010003, "data": {}}))
    with pytest.raises(ProviderUnavailable, match="-18010003"):
        client.fetch([Registration("X")])


def test_http_429_is_rate_limited_with_retry_after():
    client, _ = client_with(answer({}, 429, **{"Retry-After": "2"}))
    with pytest.raises(RateLimited) as caught:
        client.fetch([Registration("X")])
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_is_provider_unavailable(status):
    client, _ = client_with(answer({}, status))
    with pytest.raises(ProviderUnavailable) as caught:
        client.fetch([Registration("X")])
    assert not isinstance(caught.value, RateLimited)


def test_timeout_is_provider_unavailable():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, _ = client_with(slow)
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        client.fetch([Registration("X")])


def test_no_key_no_client():
    http = httpx.Client(transport=httpx.MockTransport(answer(ok())))
    assert Track17().client({"key": None}, http) is None
    assert isinstance(Track17().client({"key": KEY}, http), Track17Client)
    with pytest.raises(NotConfigured):
        Track17Client(http, key="")


def test_provider_declares_the_documented_limits():
    assert Track17.batch_size == 40
    assert Track17.requests_per_second == 3


def test_limiter_lets_three_through_then_waits_for_the_window():
    fake = FakeTime()
    gate = limiter(fake)
    starts = []
    for _ in range(7):
        gate.acquire()
        starts.append(fake.now)
    assert starts == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]


def test_limiter_does_not_wait_when_requests_are_already_slow():
    fake = FakeTime()
    gate = limiter(fake)
    for _ in range(5):
        gate.acquire()
        fake.now += 0.5
    assert fake.sleeps == []


def _max_in_any_window(starts: list[float], period: float = 1.0) -> int:
    starts = sorted(starts)
    return max(sum(1 for t in starts if s <= t < s + period) for s in starts)


def test_limiter_holds_across_threads():
    fake = FakeTime()
    gate = limiter(fake)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(5):
            starts.append(gate.acquire())  # the start it was granted, read under its lock

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 20
    assert _max_in_any_window(starts) <= 3


def test_the_client_paces_its_own_requests():
    fake = FakeTime()
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(fake.now)
        return httpx.Response(200, json=ok())

    client, _ = client_with(handler, fake)
    client.register([Registration(f"N{i:03d}") for i in range(200)], "")  # 5 requests
    client.fetch([Registration("N000")])
    assert times == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert _max_in_any_window(times) <= 3


def test_clients_of_one_key_share_one_limiter():
    assert shared_limiter(KEY) is shared_limiter(KEY)
    assert shared_limiter(KEY) is not shared_limiter("another-key")


def test_limiter_refuses_a_nonsense_rate():
    with pytest.raises(ValueError):
        RateLimiter(0, 1.0)


@pytest.fixture
def local_17track() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    def receive(path: str, headers: Message, content: bytes) -> None:
        received.append({"path": path, "token": headers["17token"], "body": json.loads(content)})

    with local_server((DATA / "gettrackinfo_ok.json").read_bytes(), "application/json",
                      receive) as base:
        yield f"{base}/track/v2.2", received


def test_fetch_against_a_local_http_server(local_17track):
    base, received = local_17track
    with httpx.Client() as http:
        client = Track17Client(http, key=KEY, base_url=base, limiter=limiter(FakeTime()))
        updates = client.fetch([Registration("LX123456789CN", courier="chinapost")])
    assert received == [{"path": "/track/v2.2/gettrackinfo", "token": KEY,
                         "body": [{"number": "LX123456789CN", "carrier": 3011}]}]
    assert [u.tracking_number for u in updates] == ["LX123456789CN", "1Z999AA10123456784"]
