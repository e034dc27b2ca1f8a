"""The Kuaidi100 client: request shape and signing, answers, errors; no internet needed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from ordertrail.carrier.base import (
    NotConfigured,
    ProviderUnavailable,
    RateLimited,
    Registration,
)
from ordertrail.carrier.kuaidi100.client import Kuaidi100Client
from ordertrail.carrier.kuaidi100.plugin import Kuaidi100
from tests.carrier.helpers import Handler, answer, local_server, recording_http

DATA = Path(__file__).parent / "data"
KEY, CUSTOMER, SALT = "test-key", "TESTCUSTOMER01", "test-salt"
CALLBACK = "https://ot.example.com/api/v1/hooks/kuaidi100"


def client_with(handler: Handler,
                **overrides: str | None) -> tuple[Kuaidi100Client, list[httpx.Request]]:
    http, seen = recording_http(handler)
    creds = {"key": KEY, "customer": CUSTOMER, "salt": SALT, **overrides}
    return Kuaidi100Client(http, **creds), seen


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_subscribe_request_is_the_documented_form():
    client, seen = client_with(answer({"result": True, "returnCode": "200",
                                       "message": "提交成功"}))
    result = client.register([Registration("78901234567890", courier="zto",
                                           destination_city="北京市朝阳区")], CALLBACK)
    assert result.accepted == ("78901234567890",)
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://poll.kuaidi100.com/poll"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = form_of(request)
    assert fields["schema"] == "json"
    param = json.loads(fields["param"])
    assert param == {"company": "zhongtong", "number": "78901234567890", "key": KEY,
                     "to": "北京市朝阳区",
                     "parameters": {"callbackurl": CALLBACK, "salt": SALT, "resultv2": "4"}}


def test_sf_subscription_sends_only_the_last_four_phone_digits():
    client, seen = client_with(answer({"result": True, "returnCode": "200"}))
    client.register([Registration("SF1234567890123", courier="sf",
                                  phone="+86 138 0013 8000")], CALLBACK)
    param = json.loads(form_of(seen[0])["param"])
    assert param["company"] == "shunfeng"
    assert param["parameters"]["phone"] == "8000"


def test_sf_without_a_phone_is_rejected_without_a_request():
    client, seen = client_with(answer({"result": True, "returnCode": "200"}))
    result = client.register([Registration("SF1234567890123", courier="sf")], CALLBACK)
    assert seen == []
    assert "phone" in result.rejected["SF1234567890123"]


def test_unknown_courier_asks_kuaidi100_to_detect_the_company():
    client, seen = client_with(answer({"result": True, "returnCode": "200"}))
    client.register([Registration("4300000000001")], CALLBACK)
    param = json.loads(form_of(seen[0])["param"])
    assert param["company"] == ""
    assert param["parameters"]["autoCom"] == "1"


def test_duplicate_subscription_counts_as_accepted_and_bad_data_as_rejected():
    codes = iter([{"result": False, "returnCode": "501", "message": "重复订阅"},
                  {"result": False, "returnCode": "700", "message": "订阅方的订阅数据存在错误"}])
    client, _ = client_with(lambda request: httpx.Response(200, json=next(codes)))
    result = client.register([Registration("A1", courier="yto"),
                              Registration("B2", courier="yto")], CALLBACK)
    assert result.accepted == ("A1",)
    assert result.rejected == {"B2": "kuaidi100 700: 订阅方的订阅数据存在错误"}


@pytest.mark.parametrize("code", ["600", "601"])
def test_a_refused_key_is_not_configured(code):
    client, _ = client_with(answer({"result": False, "returnCode": code, "message": "x"}))
    with pytest.raises(NotConfigured, match="refused the key"):
        client.register([Registration("A1", courier="yto")], CALLBACK)


def test_subscribing_needs_key_and_salt():
    for missing in ("key", "salt"):
        client, seen = client_with(answer({}), **{missing: None})
        with pytest.raises(NotConfigured, match=missing):
            client.register([Registration("A1", courier="yto")], CALLBACK)
        assert seen == []


def test_query_is_signed_md5_of_param_key_customer():
    body = json.loads((DATA / "query_ok.json").read_text(encoding="utf-8"))
    client, seen = client_with(answer(body))
    [update] = client.fetch([Registration("SF1234567890123", courier="sf", phone="13800138000")])
    [request] = seen
    assert str(request.url) == "https://poll.kuaidi100.com/poll/query.do"
    fields = form_of(request)
    assert fields["customer"] == CUSTOMER
    expected = hashlib.md5((fields["param"] + KEY + CUSTOMER).encode()).hexdigest().upper()
    assert fields["sign"] == expected
    assert json.loads(fields["param"]) == {"com": "shunfeng", "num": "SF1234567890123",
                                           "phone": "8000", "resultv2": "4", "show": "0",
                                           "order": "desc"}
    assert update.events[-1].substatus == "delivered.signed"


def test_query_without_result_yet_is_left_out():
    body = json.loads((DATA / "query_no_result.json").read_text(encoding="utf-8"))
    client, _ = client_with(answer(body))
    assert client.fetch([Registration("YT0000", courier="yto")]) == []


def test_query_of_a_number_without_courier_is_skipped():
    client, seen = client_with(answer({}))
    assert client.fetch([Registration("YT0000")]) == []
    assert seen == []


@pytest.mark.parametrize("code", ["503", "601"])
def test_query_signature_or_key_refused_is_not_configured(code):
    client, _ = client_with(answer({"result": False, "returnCode": code, "message": "x"}))
    with pytest.raises(NotConfigured):
        client.fetch([Registration("YT0000", courier="yto")])


def test_query_needs_the_customer():
    client, _ = client_with(answer({}), customer=None)
    with pytest.raises(NotConfigured, match="customer"):
        client.fetch([Registration("YT0000", courier="yto")])


def test_busy_server_code_is_provider_unavailable():
    client, _ = client_with(answer({"result": False, "returnCode": "502", "message": "繁忙"}))
    with pytest.raises(ProviderUnavailable):
        client.fetch([Registration("YT0000", courier="yto")])


def test_http_429_is_rate_limited_with_retry_after():
    client, _ = client_with(answer({}, 429, **{"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        client.register([Registration("A1", courier="yto")], CALLBACK)
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_is_provider_unavailable(status):
    client, _ = client_with(answer({}, status))
    with pytest.raises(ProviderUnavailable) as caught:
        client.fetch([Registration("YT0000", courier="yto")])
    assert not isinstance(caught.value, RateLimited)


def test_network_failure_and_non_json_are_provider_unavailable():
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, _ = client_with(broken)
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        client.fetch([Registration("YT0000", courier="yto")])
    client, _ = client_with(lambda request: httpx.Response(200, text="<html>维护中</html>"))
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        client.fetch([Registration("YT0000", courier="yto")])


def test_plugin_builds_a_client_only_with_a_key():
    http = httpx.Client(transport=httpx.MockTransport(answer({})))
    assert Kuaidi100().client({"key": None, "customer": CUSTOMER, "salt": SALT}, http) is None
    assert isinstance(Kuaidi100().client({"key": KEY, "customer": CUSTOMER, "salt": SALT},
                                         http), Kuaidi100Client)


@pytest.fixture
def local_kuaidi100() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []

    def receive(path: str, headers: Message, content: bytes) -> None:
        fields = parse_qs(content.decode())
        received.append({"path": path, **{k: v[0] for k, v in fields.items()}})

    with local_server((DATA / "query_ok.json").read_bytes(), "application/json;charset=UTF-8",
                      receive) as base:
        yield base, received


def test_query_against_a_local_http_server(local_kuaidi100):
    base, received = local_kuaidi100
    with httpx.Client() as http:
        client = Kuaidi100Client(http, key=KEY, customer=CUSTOMER, salt=SALT, base_url=base)
        [update] = client.fetch([Registration("SF1234567890123", courier="sf",
                                              phone="8000")])
    assert received[0]["path"] == "/poll/query.do"
    assert received[0]["customer"] == CUSTOMER
    assert update.courier == "sf"
    assert len(update.events) == 3
