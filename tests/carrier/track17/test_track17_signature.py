"""17TRACK pushes are verified (SHA-256 of raw body + "/" + key) before anything is read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ordertrail.carrier.base import BadSignature, InboundRequest, MalformedPayload
from ordertrail.carrier.track17.plugin import Track17

DATA = Path(__file__).parent / "data"
KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
plugin = Track17()


def signed(body: bytes, key: str = KEY) -> InboundRequest:
    sign = hashlib.sha256(body + b"/" + key.encode()).hexdigest()
    return InboundRequest(headers={"sign": sign, "content-type": "application/json"},
                          body=body, content_type="application/json")


@pytest.mark.parametrize("name", ["push_updated_transit.json", "push_updated_delivered.json",
                                  "push_stopped.json"])
def test_recorded_pushes_verify_and_parse(name):
    request = signed((DATA / name).read_bytes())
    plugin.verify(request, {"key": KEY})
    assert plugin.parse_push(request)


def test_the_raw_bytes_are_signed_not_a_re_serialisation():
    body = (DATA / "push_stopped.json").read_bytes()
    request = signed(body)
    compact = body.replace(b"\n", b"").replace(b"  ", b"")
    with pytest.raises(BadSignature, match="does not match"):
        plugin.verify(InboundRequest(headers=request.headers, body=compact), {"key": KEY})


def test_upper_case_hex_is_accepted():
    body = (DATA / "push_stopped.json").read_bytes()
    request = signed(body)
    upper = InboundRequest(headers={"sign": request.headers["sign"].upper()}, body=body)
    plugin.verify(upper, {"key": KEY})


def test_signed_with_another_key_is_refused():
    request = signed((DATA / "push_stopped.json").read_bytes(), key="someone-else")
    with pytest.raises(BadSignature):
        plugin.verify(request, {"key": KEY})


@pytest.mark.parametrize("key", [None, ""])
def test_no_key_configured_refuses_every_push(key):
    with pytest.raises(BadSignature, match="no 17TRACK key"):
        plugin.verify(signed(b"{}", key="x"), {"key": key})


def test_missing_sign_header_is_refused():
    request = InboundRequest(headers={}, body=(DATA / "push_stopped.json").read_bytes())
    with pytest.raises(BadSignature, match="no sign header"):
        plugin.verify(request, {"key": KEY})


@pytest.mark.parametrize("body", [b"\x00\xff\xfe garbage", b"{not json", b""])
def test_garbage_with_a_bad_signature_is_a_bad_signature_not_a_malformed_payload(body):
    request = InboundRequest(headers={"sign": "0" * 64}, body=body)
    with pytest.raises(BadSignature):
        plugin.verify(request, {"key": KEY})


def test_garbage_that_is_correctly_signed_is_malformed():
    request = signed(b"{not json")
    plugin.verify(request, {"key": KEY})
    with pytest.raises(MalformedPayload, match=r"^body: not JSON"):
        plugin.parse_push(request)


def test_ack_is_a_plain_200():
    assert plugin.ack(True).status_code == 200
    assert plugin.ack(False).status_code >= 400
