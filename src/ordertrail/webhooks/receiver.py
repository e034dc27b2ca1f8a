"""A small local webhook receiver for the demo, tests and benchmarks.

``Receiver`` (``ordertrail webhooks receive``): an HTTP/1.1 server with kept-alive connections
that verifies each delivery with the ``standardwebhooks`` library when given the secret,
records it (in memory, and as JSON lines in a file when asked) and answers 204, or whatever
``respond`` decides (tests use that to answer 500, 410 or 429 with Retry-After).

``run_fast`` (``--fast``): a bare asyncio server that only answers 204 and counts, for the
throughput benchmark, where the receiver must not be the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    """One request the receiver got."""

    webhook_id: str | None
    webhook_timestamp: str | None
    webhook_signature: str | None
    path: str
    body: str
    headers: dict[str, str]
    verified: bool | None     # None: no secret to check with
    error: str | None
    received_at: float
    status: int = 204


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Delivery], Reply | None]


@dataclass
class Receiver:
    """Receive, verify and record webhooks on ``host:port`` (port 0: any free port)."""

    secret: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    record: Path | None = None
    respond: Responder | None = None
    delay: float = 0.0          # seconds to wait before answering (tests: a slow receiver)
    keep: int | None = None     # keep only the latest deliveries in memory (a long-running demo)
    echo: Callable[[Delivery], None] | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _file: TextIO | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the receiver first"
        return f"http://{self.host}:{self._server.server_address[1]}/hooks"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Verify, record and decide the answer to one request."""
        lower = {k.lower(): v for k, v in headers.items()}
        verified: bool | None = None
        error = None
        if self.secret:
            try:
                Webhook(self.secret).verify(body, lower)
                verified = True
            except (WebhookVerificationError, ValueError) as exc:
                verified, error = False, str(exc) or type(exc).__name__
        delivery = Delivery(lower.get("webhook-id"), lower.get("webhook-timestamp"),
                            lower.get("webhook-signature"), path,
                            body.decode("utf-8", errors="replace"), lower, verified, error,
                            time.time())
        reply: Reply = (401, {}, b'{"error":"bad signature"}') if verified is False \
            else (204, {}, b"")
        if self.respond is not None and verified is not False:
            reply = self.respond(delivery) or reply
        delivery.status = reply[0]
        with self._lock:
            self.deliveries.append(delivery)
            if self.keep is not None and len(self.deliveries) > self.keep:
                del self.deliveries[:len(self.deliveries) - self.keep]
            if self._file is not None:
                self._file.write(json.dumps(asdict(delivery), ensure_ascii=False) + "\n")
                self._file.flush()
        if self.echo is not None:
            self.echo(delivery)
        if self.delay:
            time.sleep(self.delay)
        return reply

    def start(self) -> Receiver:
        """Serve in a daemon thread."""
        if self.secret:
            Webhook(self.secret)  # a malformed secret fails now, not at the first delivery
        if self.record is not None:
            self._file = self.record.open("a", encoding="utf-8")
        self._server = _Server((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve (started if not yet) until interrupted."""
        if self._server is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def ids(self) -> list[str]:
        with self._lock:
            return [d.webhook_id or "" for d in self.deliveries]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender that hangs up (a killed worker) is normal here, not worth a traceback.
        return


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep connections alive, as senders expect

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the sender hung up mid-request: nothing was delivered
                self.close_connection = True
                return
            status, headers, out = receiver.handle(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            if out:
                self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# The fast receiver (benchmarks) ----------------------------------------------------------

_OK = (b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")


class _FastProtocol(asyncio.Protocol):
    counter = [0]

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                end = head.find(b"\r\n", at)
                length = int(head[at + 15:end if end >= 0 else None].strip())
            total = head_end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            _FastProtocol.counter[0] += 1
            assert self.transport is not None
            self.transport.write(_OK)


def run_fast(host: str = "127.0.0.1", port: int = 8200,
             ready: Callable[[int], None] | None = None) -> None:
    """Answer every request with 204 as fast as possible, until interrupted."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_FastProtocol, host, port, backlog=1024)
        bound = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready(int(bound))
        async with server:
            await server.serve_forever()

    asyncio.run(main())
