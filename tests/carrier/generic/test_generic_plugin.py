"""The generic provider as ordertrail uses it: registry, plugin contract, the hook endpoint."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from ordertrail.carrier import registry
from ordertrail.carrier.base import BadSignature, InboundRequest
from ordertrail.carrier.generic import parse, signing
from ordertrail.carrier.generic.plugin import Generic
from ordertrail.config import Settings

DATA = Path(__file__).parent / "data"
DOC = Path(__file__).parents[3] / "docs" / "carriers" / "generic.md"
SECRET = "whsec_" + "b3JkZXJ0cmFpbC1nZW5lcmljLXRlc3Qta2V5"


def test_generic_is_a_push_only_provider_in_the_registry():
    plugin = registry.get("generic")
    assert isinstance(plugin, Generic)
    assert plugin.credential_names == ("webhook_secret",)
    assert plugin.can_push and not plugin.can_poll
    assert plugin.client({"webhook_secret": SECRET}, None) is None  # type: ignore[arg-type]


def test_verify_then_parse_a_signed_push():
    plugin = Generic()
    body = (DATA / "push_fleet.json").read_bytes()
    request = InboundRequest(headers=signing.sign(body, SECRET, "msg_42", int(time.time())),
                             body=body)
    plugin.verify(request, {"webhook_secret": SECRET})
    assert [u.tracking_number for u in plugin.parse_push(request)] == [
        "HZ-FLEET-000123", "3PL-88001234"]
    stale = InboundRequest(headers=signing.sign(body, SECRET, "msg_42", int(time.time()) - 600),
                           body=body)
    with pytest.raises(BadSignature, match="old"):
        plugin.verify(stale, {"webhook_secret": SECRET})


def _doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_documented_example_is_valid():
    [example] = [b for b in _doc_blocks("json") if '"updates"' in b]
    updates = parse.parse_body(example.encode())
    assert updates and all(u.events for u in updates)


def test_the_documented_python_sender_signs_correctly():
    [sender] = [b for b in _doc_blocks("python") if "def signed_headers" in b]
    namespace: dict[str, object] = {}
    exec(compile(sender, str(DOC), "exec"), namespace)  # the doc's own code, nothing else
    body = (DATA / "push_minimal.json").read_bytes()
    headers = namespace["signed_headers"](body, SECRET)  # type: ignore[operator]
    signing.verify(headers, body, SECRET)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, generic_webhook_secret=SECRET)


def test_the_hook_endpoint_takes_signed_pushes_only(client):
    body = (DATA / "push_fleet.json").read_bytes()
    headers = {**signing.sign(body, SECRET, "msg_1", int(time.time())),
               "content-type": "application/json"}
    accepted = client.post("/api/v1/hooks/generic", content=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"ok": True}

    forged = {**headers, "webhook-signature": "v1,AAAA"}
    refused = client.post("/api/v1/hooks/generic", content=body, headers=forged)
    assert refused.status_code == 401

    broken = json.dumps({"updates": [{"tracking_number": "X", "events": [
        {"occurred_at": "2026-11-20T10:00:00", "status": "in_transit",
         "description": "naive time"}]}]}).encode()
    signed = {**signing.sign(broken, SECRET, "msg_2", int(time.time())),
              "content-type": "application/json"}
    malformed = client.post("/api/v1/hooks/generic", content=broken, headers=signed)
    assert malformed.status_code == 400
    assert "updates.0.events.0.occurred_at" in malformed.text
