"""AfterShip webhooks are refused unless signed with our secret, before anything is parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from ordertrail.carrier.aftership.plugin import AfterShip
from ordertrail.carrier.base import BadSignature, InboundRequest, MalformedPayload, TrackingUpdate
from ordertrail.config import Settings, credentials

DATA = Path(__file__).parent / "data"
SECRET = "ordertrail-test-secret"
PROVIDER = AfterShip()


def _creds(secret: str | None = SECRET) -> dict[str, str | None]:
    settings = Settings(aftership_webhook_secret=secret)
    return credentials(settings, PROVIDER.slug, PROVIDER.credential_names)


def _sig(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _request(body: bytes, signature: str | None) -> InboundRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["aftership-hmac-sha256"] = signature
    return InboundRequest(headers=headers, body=body, content_type="application/json")


def _receive(request: InboundRequest, creds: dict[str, str | None]) -> list[TrackingUpdate]:
    # The hook endpoint's order: verify the raw bytes, and only then parse them.
    PROVIDER.verify(request, creds)
    return PROVIDER.parse_push(request)


def test_a_correctly_signed_webhook_is_accepted_and_parsed():
    body = (DATA / "own_yto_returned.json").read_bytes()
    updates = _receive(_request(body, _sig(body)), _creds())
    assert [u.tracking_number for u in updates] == ["YT7512345678901"]


def test_signature_matches_a_vector_computed_independently_with_openssl():
    # printf '%s' '{"event":"tracking_update"}' | openssl dgst -sha256 -hmac \
    #   ordertrail-test-secret -binary | base64
    request = _request(b'{"event":"tracking_update"}',
                       "qiN9GaAX6lV87Rsw9c4HnsLyqScopN5Z/AqWVs+Q0aw=")
    PROVIDER.verify(request, _creds())


def test_header_name_case_and_surrounding_whitespace_do_not_matter():
    body = b'{"event":"tracking_update"}'
    request = InboundRequest(headers={"AfterShip-Hmac-SHA256": f"  {_sig(body)} "}, body=body)
    PROVIDER.verify(request, _creds())


@pytest.mark.parametrize("signature", [
    _sig(b'{"event":"tracking_update"}', "another-secret"),
    hmac.new(SECRET.encode(), b'{"event":"tracking_update"}', hashlib.sha256).hexdigest(),
    "",
    "not base64 at all ✗",
])
def test_a_wrong_signature_is_refused(signature):
    with pytest.raises(BadSignature):
        PROVIDER.verify(_request(b'{"event":"tracking_update"}', signature), _creds())


def test_a_body_changed_after_signing_is_refused():
    body = (DATA / "own_sf_in_transit_cn.json").read_bytes()
    tampered = body.replace(b'"InTransit_007"', b'"Delivered_001"', 1)
    with pytest.raises(BadSignature):
        PROVIDER.verify(_request(tampered, _sig(body)), _creds())


def test_a_missing_header_is_refused_and_named():
    with pytest.raises(BadSignature, match="aftership-hmac-sha256"):
        PROVIDER.verify(_request(b"{}", None), _creds())


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_configured_secret_every_webhook_is_refused(secret):
    body = b'{"event":"tracking_update"}'
    with pytest.raises(BadSignature, match="not configured"):
        PROVIDER.verify(_request(body, _sig(body)), _creds(secret))


@pytest.mark.parametrize("body", [b"\xff\xfe garbage", b"", b"[1, 2", b"{}"])
def test_garbage_badly_signed_is_a_bad_signature_never_a_malformed_payload(body):
    with pytest.raises(BadSignature):
        _receive(_request(body, _sig(body, "wrong")), _creds())
    with pytest.raises(BadSignature):
        _receive(_request(body, None), _creds())
    with pytest.raises(BadSignature):
        _receive(_request(body, _sig(body)), _creds(None))


def test_garbage_correctly_signed_is_a_malformed_payload():
    body = b"\xff\xfe garbage"
    with pytest.raises(MalformedPayload, match="body"):
        _receive(_request(body, _sig(body)), _creds())


def test_the_plugin_is_push_only():
    assert PROVIDER.can_push and not PROVIDER.can_poll
    assert PROVIDER.credential_names == ("webhook_secret",)
