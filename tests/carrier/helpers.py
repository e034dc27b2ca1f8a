"""What the provider tests share: times, any-JSON payloads, fake and local HTTP for clients."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import strategies as st

from ordertrail.carrier.base import MalformedPayload, TrackingUpdate
from ordertrail.carrier.status import SUBSTATUSES

Handler = Callable[[httpx.Request], httpx.Response]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- parsers --------------------------------------------------------------------------------

# Any JSON value, nested a little: what a careless or hostile sender might post.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                      max_size=4),
    max_leaves=20,
)


def malformed_reason(parse: Callable[[bytes], object], body: bytes) -> str:
    """The reason ``parse`` refuses ``body`` with (the test fails if it does not refuse it)."""
    with pytest.raises(MalformedPayload) as caught:
        parse(body)
    return caught.value.reason


def assert_parses_or_is_malformed(parse: Callable[[bytes], list[TrackingUpdate]],
                                  payload: object) -> None:
    """``payload`` either parses into known, UTC, consistent updates or is MalformedPayload."""
    try:
        updates = parse(json.dumps(payload).encode())
    except MalformedPayload as exc:
        assert exc.reason
        return
    for update in updates:
        for event in update.events:
            assert event.substatus in SUBSTATUSES
            assert event.substatus.startswith(event.status + ".")
            assert event.occurred_at.tzinfo is UTC
        assert set(update.unmapped) <= {e.code for e in update.events}


# --- clients --------------------------------------------------------------------------------

def answer(body: object, status: int = 200, **headers: str) -> Handler:
    """A handler that answers every request with ``body`` as JSON."""
    return lambda request: httpx.Response(status, json=body, headers=headers)


def recording_http(handler: Handler) -> tuple[httpx.Client, list[httpx.Request]]:
    """An httpx client whose requests ``handler`` answers, and the list they are recorded in."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record)), seen


@contextmanager
def local_server(body: bytes, content_type: str,
                 receive: Callable[[str, Message, bytes], None]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every POST with ``body``; yields its URL.

    ``receive(path, headers, request_body)`` sees each request before it is answered.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            receive(self.path, self.headers, self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
