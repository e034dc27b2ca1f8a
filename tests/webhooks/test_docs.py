"""The verification snippets in docs/webhooks.md run against a real delivery."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ordertrail.webhooks.receiver import Receiver
from tests.webhooks.conftest import Hooks

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def snippet(name: str) -> str:
    """The python block that follows ``<!-- snippet: NAME -->`` in the doc."""
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```python\n(.*?)```",
                      DOC.read_text(encoding="utf-8"), re.S)
    assert match, f"docs/webhooks.md has no snippet {name}"
    return match.group(1)


def load(name: str, function: str) -> Any:
    namespace: dict[str, Any] = {"__name__": f"doc_snippet_{name}"}
    exec(compile(snippet(name), f"docs/webhooks.md:{name}", "exec"), namespace)
    return namespace[function]


@pytest.fixture
def captured(hooks: Hooks, receiver: Receiver) -> tuple[str, dict[str, str], bytes]:
    """One real delivery as the receiver got it: secret, headers, raw body."""
    _, secret = hooks.subscribe(receiver.url, ["order.stage_changed"])
    hooks.emit("order.stage_changed", to_stage="review", note="中文也可以")
    hooks.deliver()
    (d,) = receiver.deliveries
    return secret, d.headers, d.body.encode("utf-8")


@pytest.mark.parametrize(("name", "function"), [("verify-standardwebhooks", "verify"),
                                                ("verify-plain", "verify_plain")])
def test_the_doc_snippet_verifies_a_real_delivery(captured: tuple[str, dict[str, str], bytes],
                                                  name: str, function: str) -> None:
    secret, headers, body = captured
    verify = load(name, function)
    event = verify(secret, headers, body)
    assert event["type"] == "order.stage_changed"
    assert event["data"]["to_stage"] == "review" and event["data"]["note"] == "中文也可以"

    with pytest.raises(Exception):  # noqa: B017 - each snippet raises its own error type
        verify(secret, headers, body.replace(b"review", b"REVIEW"))
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    with pytest.raises(Exception):  # noqa: B017
        verify(other, headers, body)
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
    with pytest.raises(Exception):  # noqa: B017
        verify(secret, stale, body)
