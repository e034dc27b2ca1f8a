"""SimClient and the sim plugin against the real simulator: register, fetch, failures."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from ordertrail.carrier import registry
from ordertrail.carrier.base import (
    BadSignature,
    CarrierError,
    InboundRequest,
    MalformedPayload,
    NotConfigured,
    ProviderUnavailable,
    RateLimited,
    Registration,
)
from ordertrail.carrier.generic import signing
from ordertrail.carrier.sim.client import SimClient
from ordertrail.carrier.sim.plugin import Sim
from ordertrail.config import Settings, credentials

from .live import SECRET, free_port, wait_for


@pytest.fixture
def http():
    with httpx.Client(timeout=2) as client:
        yield client


def _client(url: str | None, http: httpx.Client, secret: str | None = SECRET) -> SimClient:
    settings = Settings(sim_url=url, sim_webhook_secret=secret)
    plugin = registry.get("sim")
    assert isinstance(plugin, Sim)
    client = plugin.client(credentials(settings, "sim", plugin.credential_names), http)
    assert isinstance(client, SimClient)
    return client


def test_register_then_fetch_until_delivered(start_sim, http):
    sim = start_sim()
    client = _client(sim.url, http)
    result = client.register([Registration("SF1400000077", "sf", scenario="normal"),
                              Registration("XX1", scenario="nope")],
                             "http://127.0.0.1:9/api/v1/hooks/sim")
    assert result.accepted == ("SF1400000077",)
    assert "unknown scenario" in result.rejected["XX1"]

    def delivered():
        updates = client.fetch([Registration("SF1400000077"), Registration("UNKNOWN")])
        return updates if updates[0].stopped else None
    updates = wait_for(delivered, 5, "the journey to end")
    assert [u.tracking_number for u in updates] == ["SF1400000077"]
    assert updates[0].events[0].status == "info_received"
    assert updates[0].events[-1].status == "delivered"
    assert updates[0].courier == "sf"


def test_429_is_rate_limited_with_retry_after(start_sim, http):
    sim = start_sim(fail_polls="429")
    client = _client(sim.url, http)
    with pytest.raises(RateLimited) as caught:
        client.fetch([Registration("SF1400000077")])
    assert caught.value.retry_after == 1.0
    with pytest.raises(RateLimited):
        client.register([Registration("SF1400000077")], "http://127.0.0.1:9/hook")


def test_503_is_unavailable(start_sim, http):
    sim = start_sim(fail_polls="503")
    with pytest.raises(ProviderUnavailable) as caught:
        _client(sim.url, http).fetch([Registration("SF1400000077")])
    assert not isinstance(caught.value, RateLimited)
    assert "503" in caught.value.reason


def test_nobody_listening_is_unavailable(http):
    client = _client(f"http://127.0.0.1:{free_port()}", http)
    with pytest.raises(ProviderUnavailable, match="cannot connect"):
        client.fetch([Registration("SF1400000077")])


def test_a_silent_server_times_out_as_unavailable():
    with socket.socket() as listener:       # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with httpx.Client(timeout=0.2) as http:
            started = time.monotonic()
            with pytest.raises(ProviderUnavailable, match="timed out"):
                _client(url, http).fetch([Registration("SF1400000077")])
            assert time.monotonic() - started < 2


def test_missing_or_wrong_credentials_are_not_configured(start_sim, http):
    with pytest.raises(NotConfigured, match="ORDERTRAIL_SIM_URL"):
        _client(None, http).fetch([Registration("SF1400000077")])
    sim = start_sim()
    with pytest.raises(NotConfigured, match="ORDERTRAIL_SIM_WEBHOOK_SECRET"):
        _client(sim.url, http, secret=None).fetch([Registration("SF1400000077")])
    with pytest.raises(NotConfigured, match="refused the secret"):
        _client(sim.url, http, secret="wrong").fetch([Registration("SF1400000077")])


def test_other_client_errors_are_carrier_errors(start_sim, http):
    sim = start_sim()
    with pytest.raises(CarrierError, match="422"):
        _client(sim.url, http).register([Registration("SF1400000077")], "not a url")


def test_plugin_verifies_and_parses_pushes_with_the_sim_secret():
    plugin = Sim()
    assert (plugin.slug, plugin.name, plugin.name_zh) == ("sim", "Simulated carrier", "模拟快递")
    assert plugin.credential_names == ("url", "webhook_secret")
    assert plugin.can_push and plugin.can_poll
    body = (b'{"updates":[{"tracking_number":"SF1","events":[{"occurred_at":'
            b'"2026-11-20T10:00:00+08:00","status":"in_transit","substatus":'
            b'"in_transit.arrived","description":"\xe5\xbf\xab\xe4\xbb\xb6\xe5\x88\xb0\xe8\xbe\xbe"}]}]}')
    headers = signing.sign(body, SECRET, "msg_1", int(time.time()))
    request = InboundRequest(headers=headers, body=body)
    plugin.verify(request, {"url": "http://sim", "webhook_secret": SECRET})
    [update] = plugin.parse_push(request)
    assert update.events[0].description == "快件到达"
    with pytest.raises(BadSignature):
        plugin.verify(request, {"url": "http://sim", "webhook_secret": "another"})
    with pytest.raises(BadSignature):
        plugin.verify(request, {"url": "http://sim", "webhook_secret": None})
    with pytest.raises(MalformedPayload):
        plugin.parse_push(InboundRequest(headers=headers, body=b'{"updates": 1}'))
