"""POSTs over kept-alive connections, one per thread and origin (``http.client``).

The delivery pump sends one request at a time per endpoint thread, so a connection per
(thread, origin) is all the pooling it needs; the standard library's client costs a fraction
of a general-purpose one per request, which is what lets one worker deliver thousands of
webhooks a second. Redirects are never followed. A connection can be pinned to an address
that was checked (``ssrf.py``) while TLS still verifies the certificate for the host name.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
READ_BYTES = 4096
PER_THREAD = 64  # kept-alive connections per thread
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          http.client.CannotSendRequest)


class SendError(Exception):
    """No HTTP answer: ``kind`` is ``timeout``, ``connect`` or ``protocol``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes          # at most READ_BYTES


class _Http(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str | None) -> None:
        super().__init__(host, port, timeout=CONNECT_TIMEOUT)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address or self.host, self.port),
                                            CONNECT_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(READ_TIMEOUT)


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # verifies certificates and host names


class _Https(_Http):
    def connect(self) -> None:
        super().connect()
        self.sock = _tls().wrap_socket(self.sock, server_hostname=self.host)


class Sender:
    """``post(url, body, headers, address=None)`` → Answer, or raises SendError."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _conn(self, scheme: str, host: str, port: int,
              address: str | None) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int, str | None], http.client.HTTPConnection]
        pool = self._local.__dict__.setdefault("pool", {})
        key = (scheme, host, port, address)
        conn = pool.get(key)
        if conn is None:
            if len(pool) >= PER_THREAD:  # many receivers: close the oldest connection
                pool.pop(next(iter(pool))).close()
            conn = (_Https if scheme == "https" else _Http)(host, port, address)
            pool[key] = conn
            with self._lock:
                self._all.add(conn)
        return conn

    def _drop(self, scheme: str, host: str, port: int, address: str | None) -> None:
        pool = self._local.__dict__.get("pool", {})
        conn = pool.pop((scheme, host, port, address), None)
        if conn is not None:
            conn.close()

    def post(self, url: str, body: bytes, headers: dict[str, str],
             address: str | None = None) -> Answer:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        out = {**headers, "content-length": str(len(body))}
        for fresh in (False, True):
            conn = self._conn(scheme, host, port, address)
            reused = conn.sock is not None
            try:
                conn.request("POST", target, body=body, headers=out)
                resp = conn.getresponse()
                data = resp.read(READ_BYTES)
                answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                                data)
                if not resp.isclosed() or resp.will_close:
                    # A longer answer than we keep, or the server closes: a new connection
                    # next time rather than reading the rest.
                    self._drop(scheme, host, port, address)
                return answer
            except _STALE as exc:
                self._drop(scheme, host, port, address)
                if reused and not fresh:
                    continue  # the server closed an idle kept-alive connection: once more
                raise SendError("connect", f"{type(exc).__name__}: {exc}") from None
            except TimeoutError as exc:
                self._drop(scheme, host, port, address)
                raise SendError("timeout", f"timed out: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(scheme, host, port, address)
                kind = "connect" if isinstance(exc, OSError) else "protocol"
                raise SendError(kind, f"{type(exc).__name__}: {exc}"[:300]) from None
        raise SendError("connect", "the connection kept closing")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            for conn in list(self._all):
                conn.close()
