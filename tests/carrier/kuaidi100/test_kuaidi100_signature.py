"""Kuaidi100 pushes are verified (MD5 of param + salt) before anything is read."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlencode

import pytest

from ordertrail.carrier.base import BadSignature, InboundRequest, MalformedPayload
from ordertrail.carrier.kuaidi100.plugin import Kuaidi100

DATA = Path(__file__).parent / "data"
SALT = "ordertrail-test-salt"  # the salt push_shutdown_proxy.form was signed with
FORM = "application/x-www-form-urlencoded"
plugin = Kuaidi100()


def form(param: str, sign: str | None) -> InboundRequest:
    fields = {"param": param} if sign is None else {"param": param, "sign": sign}
    return InboundRequest(headers={"content-type": FORM}, body=urlencode(fields).encode(),
                          content_type=FORM)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


def test_recorded_push_verifies_with_the_salt_it_was_signed_with():
    request = InboundRequest(headers={}, body=(DATA / "push_shutdown_proxy.form").read_bytes(),
                             content_type=FORM)
    plugin.verify(request, {"salt": SALT})
    [update] = plugin.parse_push(request)
    assert update.tracking_number == "SF1234567890123"


def test_recorded_push_is_refused_with_another_salt():
    request = InboundRequest(headers={}, body=(DATA / "push_shutdown_proxy.form").read_bytes())
    with pytest.raises(BadSignature, match="does not match"):
        plugin.verify(request, {"salt": "someone-elses-salt"})


def test_sign_is_md5_of_param_plus_salt_upper_case_and_lower_case_is_tolerated():
    param = (DATA / "push_polling_transit.json").read_text(encoding="utf-8")
    plugin.verify(form(param, md5(param + SALT)), {"salt": SALT})
    plugin.verify(form(param, md5(param + SALT).lower()), {"salt": SALT})


def test_tampered_param_is_refused():
    param = (DATA / "push_polling_transit.json").read_text(encoding="utf-8")
    sign = md5(param + SALT)
    with pytest.raises(BadSignature):
        plugin.verify(form(param.replace("1001", "3"), sign), {"salt": SALT})


@pytest.mark.parametrize("salt", [None, ""])
def test_no_salt_configured_refuses_every_push(salt):
    param = (DATA / "push_polling_transit.json").read_text(encoding="utf-8")
    with pytest.raises(BadSignature, match="no kuaidi100 salt"):
        plugin.verify(form(param, md5(param + "")), {"salt": salt})


def test_missing_sign_is_refused():
    param = (DATA / "push_polling_transit.json").read_text(encoding="utf-8")
    with pytest.raises(BadSignature, match="no sign"):
        plugin.verify(form(param, None), {"salt": SALT})


@pytest.mark.parametrize("body", [b"\x00\xff garbage \xfe", b"not a form at all",
                                  b"param={broken json&sign=0123456789ABCDEF", b""])
def test_garbage_with_a_bad_signature_is_a_bad_signature_not_a_malformed_payload(body):
    with pytest.raises(BadSignature):
        plugin.verify(InboundRequest(headers={}, body=body), {"salt": SALT})


def test_garbage_that_is_correctly_signed_is_malformed_and_names_param():
    param = "{this is not json"
    request = form(param, md5(param + SALT))
    plugin.verify(request, {"salt": SALT})
    with pytest.raises(MalformedPayload, match=r"^param: not JSON"):
        plugin.parse_push(request)
