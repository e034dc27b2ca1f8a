"""Webhook targets inside our own network are refused, at subscription and at delivery."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from ordertrail.config import Settings
from ordertrail.webhooks import ssrf
from ordertrail.webhooks.receiver import Receiver
from tests.conftest import People
from tests.webhooks.conftest import Hooks


@pytest.mark.parametrize(("url", "kind"), [
    ("http://127.0.0.1:8200/hooks", "loopback"),
    ("http://127.8.9.10/", "loopback"),
    ("http://10.1.2.3/hooks", "private"),
    ("https://192.168.1.20/", "private"),
    ("http://172.16.0.5/", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00::1]/", "private"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://100.64.0.1/", "non-public"),
    ("http://240.0.0.1/", "reserved"),
])
def test_internal_addresses_are_refused_naming_their_class(url: str, kind: str) -> None:
    with pytest.raises(ssrf.UnsafeUrl) as caught:
        ssrf.check_url(url, allow_private=False)
    assert caught.value.extra["kind"] == kind
    assert f"a {kind} address" in caught.value.detail()


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(ssrf.UnsafeUrl) as caught:
        ssrf.check_url("http://localhost:8200/hooks", allow_private=False)
    assert caught.value.extra["kind"] == "loopback"
    assert "localhost resolves to" in caught.value.detail()


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    def resolve(host: str, port: int, **_: object) -> list[tuple]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    with pytest.raises(ssrf.UnsafeUrl, match=r"10\.0\.0\.7, a private address"):
        ssrf.check_url("https://hooks.example.com/x", allow_private=False, resolve=resolve)


def test_public_addresses_pass_and_are_kept_for_the_connection() -> None:
    def resolve(host: str, port: int, **_: object) -> list[tuple]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:220:1::1", port, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    target = ssrf.check_url("https://hooks.example.com:8443/x", allow_private=False,
                            resolve=resolve)
    assert target.addresses == ("2606:2800:220:1::1", "93.184.216.34")
    assert (target.host, target.port, target.scheme) == ("hooks.example.com", 8443, "https")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd",
                                 "gopher://example.com", "javascript:alert(1)", "//nohost"])
def test_only_http_and_https_are_accepted(url: str) -> None:
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_url(url, allow_private=True)


def test_the_allow_flag_lets_local_receivers_through() -> None:
    target = ssrf.check_url("http://127.0.0.1:8200/hooks", allow_private=True)
    assert target.addresses == ()


def test_the_api_refuses_an_internal_url_with_problem_json(
        client: TestClient, people: People, settings: Settings) -> None:
    assert settings.webhooks_allow_private is False
    resp = client.post("/api/v1/webhooks", headers=people.headers("grace"),
                       json={"url": "http://169.254.169.254/latest", "events": ["order.*"]})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["code"] == "webhook_url_refused" and problem["kind"] == "link-local"
    assert "169.254.169.254, a link-local address" in problem["detail"]
    resp = client.post("/api/v1/webhooks", headers=people.headers("grace"),
                       json={"url": "http://localhost:9/x", "events": ["order.*"]})
    assert resp.status_code == 422 and resp.json()["kind"] == "loopback"
    resp = client.post("/api/v1/webhooks", headers=people.headers("grace"),
                       json={"url": "ftp://example.com/x", "events": ["order.*"]})
    assert resp.status_code == 422 and resp.json()["code"] == "webhook_url_scheme"


def test_delivery_checks_the_address_again(hooks: Hooks, receiver: Receiver,
                                           database_url: str) -> None:
    """Accepted while private targets were allowed, then refused at delivery time (the
    rule also guards against a name re-pointed after it was accepted)."""
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    hooks.emit("order.created")
    strict = Settings(database_url=database_url, webhooks_allow_private=False)
    assert hooks.deliver(strict) == 1
    assert receiver.deliveries == []
    (attempt,) = hooks.attempts(endpoint_id)
    assert attempt.status_code is None
    assert attempt.error and attempt.error.startswith("refused:") and "loopback" in attempt.error
    (msg,) = hooks.messages(endpoint_id)
    assert msg.state == "pending"  # kept, retried later: nothing is lost
