"""What the provider clients share over HTTP: reading Retry-After, and failures as errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from ordertrail.carrier.base import NotConfigured, ProviderUnavailable, RateLimited
from ordertrail.carrier.http import post_json, retry_after
from tests.carrier.helpers import answer, recording_http


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("7") == 7.0
    assert retry_after(" 2.5 ") == 2.5
    assert retry_after("-3") == 0.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0   # in the past
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after(soon) or 0) <= 120


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "inf", "nan"])
def test_retry_after_without_a_usable_value_is_none(value):
    assert retry_after(value) is None


def _post(handler, **options):
    http, seen = recording_http(handler)
    return post_json(http, "https://api.example/x", "Example", timeout=1.0, json=[1],
                     **options), seen


def test_post_json_sends_the_request_and_decodes_the_answer():
    body, [request] = _post(answer({"ok": True}), headers={"token": "t"})
    assert body == {"ok": True}
    assert (request.method, request.headers["token"], request.content) == ("POST", "t", b"[1]")


@pytest.mark.parametrize(("handler", "error", "reason", "wait"), [
    (answer({}, 429, **{"Retry-After": "3"}), RateLimited,
     "Example said 429 Too Many Requests", 3.0),
    (answer({}, 503, **{"Retry-After": "4"}), ProviderUnavailable, "Example answered HTTP 503",
     4.0),
    (answer({}, 404, **{"Retry-After": "5"}), ProviderUnavailable, "Example answered HTTP 404",
     None),
    (answer({}, 401), ProviderUnavailable, "Example answered HTTP 401", None),
    (lambda request: httpx.Response(200, text="<html>"), ProviderUnavailable,
     "Example answered something that is not JSON", None),
])
def test_post_json_failures_name_the_provider(handler, error, reason, wait):
    with pytest.raises(error) as caught:
        _post(handler)
    assert type(caught.value) is error
    assert (caught.value.reason, caught.value.retry_after) == (reason, wait)


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ReadTimeout])
def test_network_failures_and_timeouts_are_unavailable(exc):
    def broken(request: httpx.Request) -> httpx.Response:
        raise exc("down", request=request)

    with pytest.raises(ProviderUnavailable, match=f"^Example unreachable: {exc.__name__}$"):
        _post(broken)


def test_a_401_is_not_configured_only_when_the_caller_says_what_it_means():
    with pytest.raises(NotConfigured, match=r"^the key was refused$"):
        _post(answer({}, 401), unauthorized="the key was refused")
