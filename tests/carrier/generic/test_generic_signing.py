"""Standard Webhooks signatures: what a sender signs is accepted, anything else is refused."""

from __future__ import annotations

import base64

import pytest

from ordertrail.carrier.base import BadSignature
from ordertrail.carrier.generic import signing

NOW = 1_763_600_000
BODY = b'{"updates":[]}'
SECRET = "whsec_" + base64.b64encode(b"a 24-byte key for tests").decode()


def test_the_standard_webhooks_example_signature():
    # The worked example of the Standard Webhooks specification.
    headers = signing.sign(b'{"test": 2432232314}', "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                           "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330)
    assert headers == {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
                       "webhook-timestamp": "1614265330",
                       "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


@pytest.mark.parametrize("secret", [SECRET, "a plain shared secret", "密钥-with-中文"])
def test_a_signed_body_verifies(secret):
    headers = signing.sign(BODY, secret, "msg_1", NOW)
    signing.verify(headers, BODY, secret, now=NOW)


def test_header_names_are_case_insensitive():
    headers = {k.upper(): v for k, v in signing.sign(BODY, SECRET, "msg_1", NOW).items()}
    signing.verify(headers, BODY, SECRET, now=NOW)


def test_any_one_of_several_signatures_may_match():
    # While a secret is rotated the sender signs with the old and the new one.
    old = signing.sign(BODY, "old secret", "msg_1", NOW)["webhook-signature"]
    new = signing.sign(BODY, SECRET, "msg_1", NOW)
    both = {**new, "webhook-signature": f"v1,bm9wZQ== {old} {new['webhook-signature']}"}
    signing.verify(both, BODY, SECRET, now=NOW)
    signing.verify(both, BODY, "old secret", now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_five_minutes_either_way_is_accepted(skew):
    signing.verify(signing.sign(BODY, SECRET, "msg_1", NOW + skew), BODY, SECRET, now=NOW)


@pytest.mark.parametrize(("skew", "reason"), [(-301, "old"), (301, "future")])
def test_older_or_newer_than_five_minutes_is_refused(skew, reason):
    headers = signing.sign(BODY, SECRET, "msg_1", NOW + skew)
    with pytest.raises(BadSignature, match=reason):
        signing.verify(headers, BODY, SECRET, now=NOW)


def test_the_verifying_clock_defaults_to_now():
    with pytest.raises(BadSignature, match="old"):
        signing.verify(signing.sign(BODY, SECRET, "msg_1", NOW), BODY, SECRET)


def _tampered() -> list[tuple[str, dict[str, str], bytes]]:
    good = signing.sign(BODY, SECRET, "msg_1", NOW)
    return [
        ("body", good, b'{"updates":[ ]}'),
        ("id", {**good, "webhook-id": "msg_2"}, BODY),
        ("timestamp", {**good, "webhook-timestamp": str(NOW + 1)}, BODY),
        ("version", {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")},
         BODY),
        ("secret", signing.sign(BODY, "another secret", "msg_1", NOW), BODY),
    ]


@pytest.mark.parametrize(("what", "headers", "body"), _tampered(), ids=lambda v: str(v)[:10])
def test_any_change_breaks_the_signature(what, headers, body):
    with pytest.raises(BadSignature, match="no webhook-signature matches"):
        signing.verify(headers, body, SECRET, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_named(missing):
    headers = signing.sign(BODY, SECRET, "msg_1", NOW)
    del headers[missing]
    with pytest.raises(BadSignature, match=f"missing header {missing}"):
        signing.verify(headers, BODY, SECRET, now=NOW)


@pytest.mark.parametrize("stamp", ["1763600000.5", "-1763600000", "2026-11-20T00:00:00Z", "١٢"])
def test_a_timestamp_must_be_whole_unix_seconds(stamp):
    headers = {**signing.sign(BODY, SECRET, "msg_1", NOW), "webhook-timestamp": stamp}
    with pytest.raises(BadSignature, match="whole number"):
        signing.verify(headers, BODY, SECRET, now=NOW)


@pytest.mark.parametrize("secret", [None, ""])
def test_nothing_verifies_without_a_configured_secret(secret):
    headers = signing.sign(BODY, "x", "msg_1", NOW)
    with pytest.raises(BadSignature, match="no webhook secret"):
        signing.verify(headers, BODY, secret, now=NOW)


def test_a_whsec_secret_must_be_base64():
    with pytest.raises(ValueError, match="base64"):
        signing.secret_key("whsec_not base64!")
    with pytest.raises(BadSignature, match="unusable"):
        signing.verify(signing.sign(BODY, "x", "msg_1", NOW), BODY, "whsec_???", now=NOW)
    assert signing.secret_key("whsec_" + base64.b64encode(b"k").decode()) == b"k"
    assert signing.secret_key("plain") == b"plain"
