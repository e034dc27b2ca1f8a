"""EasyPost webhooks are refused unless signed with our (NFKD-normalised) secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from pathlib import Path

import pytest

from ordertrail.carrier.base import BadSignature, InboundRequest, MalformedPayload, TrackingUpdate
from ordertrail.carrier.easypost.plugin import EasyPost
from ordertrail.config import Settings, credentials

DATA = Path(__file__).parent / "data"
PROVIDER = EasyPost()
# EasyPost's shared client-library fixtures: the secret, and the signature every official
# library must compute for event-body.json (sent without the file's trailing newline).
FIXTURE = json.loads((DATA / "examples_client-library-fixtures.json").read_text("utf-8"))
SECRET: str = FIXTURE["webhooks"]["secret"]
SIGNATURE: str = FIXTURE["webhooks"]["hmac_signature"]
BODY = (DATA / "examples_event-body.json").read_bytes().rstrip(b"\n")


def _creds(secret: str | None = SECRET) -> dict[str, str | None]:
    settings = Settings(easypost_webhook_secret=secret)
    return credentials(settings, PROVIDER.slug, PROVIDER.credential_names)


def _sig(body: bytes, key: bytes) -> str:
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _request(body: bytes, signature: str | None, header: str = "x-hmac-signature"
             ) -> InboundRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers[header] = signature
    return InboundRequest(headers=headers, body=body, content_type="application/json")


def _receive(request: InboundRequest, creds: dict[str, str | None]) -> list[TrackingUpdate]:
    # The hook endpoint's order: verify the raw bytes, and only then parse them.
    PROVIDER.verify(request, creds)
    return PROVIDER.parse_push(request)


def test_the_official_client_library_vector_verifies():
    assert SECRET == "sécret"
    updates = _receive(_request(BODY, SIGNATURE), _creds())
    assert [u.tracking_number for u in updates] == ["1"]


def test_the_key_is_the_nfkd_form_of_the_secret():
    nfc = unicodedata.normalize("NFC", SECRET)
    nfd = unicodedata.normalize("NFD", SECRET)
    assert nfc != nfd
    # Both spellings of the configured secret verify the same signature...
    PROVIDER.verify(_request(BODY, SIGNATURE), _creds(nfc))
    PROVIDER.verify(_request(BODY, SIGNATURE), _creds(nfd))
    # ...which is not what the un-normalised (NFC) bytes would sign.
    assert _sig(BODY, nfc.encode()) != SIGNATURE
    assert _sig(BODY, nfd.encode()) == SIGNATURE


def test_compatibility_characters_are_folded_too():
    secret = "ﬁle-Ⅻ-secret"  # a ligature and a Roman numeral: NFKD gives "file-XII-secret"
    signature = _sig(BODY, b"file-XII-secret")
    PROVIDER.verify(_request(BODY, signature), _creds(secret))
    with pytest.raises(BadSignature):
        PROVIDER.verify(_request(BODY, _sig(BODY, secret.encode())), _creds(secret))


def test_hex_case_and_header_name_case_do_not_matter():
    PROVIDER.verify(_request(BODY, SIGNATURE.upper()), _creds())
    PROVIDER.verify(_request(BODY, SIGNATURE, header="X-Hmac-Signature"), _creds())


@pytest.mark.parametrize("signature", [
    SIGNATURE.removeprefix("hmac-sha256-hex="),                   # bare hex
    "sha256=" + SIGNATURE.removeprefix("hmac-sha256-hex="),       # another scheme's prefix
    _sig(BODY, b"another secret"),
    "hmac-sha256-hex=",
    "",
    "hmac-sha256-hex=ünïcode",
])
def test_a_wrong_signature_is_refused(signature):
    with pytest.raises(BadSignature):
        PROVIDER.verify(_request(BODY, signature), _creds())


def test_the_signature_covers_the_raw_bytes():
    with pytest.raises(BadSignature):  # the file's trailing newline was not signed
        PROVIDER.verify(_request(BODY + b"\n", SIGNATURE), _creds())
    reformatted = json.dumps(json.loads(BODY)).encode()
    with pytest.raises(BadSignature):
        PROVIDER.verify(_request(reformatted, SIGNATURE), _creds())


def test_a_missing_header_is_refused_and_named():
    with pytest.raises(BadSignature, match="X-Hmac-Signature"):
        PROVIDER.verify(_request(BODY, None), _creds())


def test_the_v2_header_alone_is_not_accepted():
    # x-hmac-signature-v2 (with x-timestamp, x-path) is not implemented: see docs/carriers.
    request = InboundRequest(headers={"x-hmac-signature-v2": SIGNATURE,
                                      "x-timestamp": "Tue, 19 Aug 2025 20:37:09 -0000",
                                      "x-path": "/hooks/easypost"}, body=BODY)
    with pytest.raises(BadSignature):
        PROVIDER.verify(request, _creds())


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_configured_secret_every_webhook_is_refused(secret):
    with pytest.raises(BadSignature, match="not configured"):
        PROVIDER.verify(_request(BODY, SIGNATURE), _creds(secret))


@pytest.mark.parametrize("body", [b"\xff\xfe garbage", b"", b"{", b'{"object": "Event"}'])
def test_garbage_badly_signed_is_a_bad_signature_never_a_malformed_payload(body):
    with pytest.raises(BadSignature):
        _receive(_request(body, SIGNATURE), _creds())
    with pytest.raises(BadSignature):
        _receive(_request(body, None), _creds())
    with pytest.raises(BadSignature):
        _receive(_request(body, _sig(body, SECRET.encode())), _creds(None))


def test_garbage_correctly_signed_is_a_malformed_payload():
    body = b"\xff\xfe garbage"
    key = unicodedata.normalize("NFKD", SECRET).encode()
    with pytest.raises(MalformedPayload, match="body"):
        _receive(_request(body, _sig(body, key)), _creds())


def test_the_plugin_is_push_only():
    assert PROVIDER.can_push and not PROVIDER.can_poll
    assert PROVIDER.credential_names == ("webhook_secret",)
