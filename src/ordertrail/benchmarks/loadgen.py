"""A small keep-alive HTTP/1.1 load generator on asyncio (uvloop when installed).

Each worker holds one connection and sends its next request when the previous answer is in,
so the concurrency is fixed. Parsing is minimal (status, Content-Length or chunked body,
``Server-Timing: app;dur=<ms>``), which keeps the client at a few tens of microseconds per
request: on a 2-core machine it leaves the server its own core. The client's and the server's
CPU use are measured so that a reader can see which side was the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from ordertrail.benchmarks.common import cpu_seconds

TIMING = re.compile(rb"app;dur=([0-9.]+)")


class Worker(Protocol):
    """Produces a worker's next request and sees each answer."""

    def request(self) -> bytes: ...

    def response(self, status: int, body: bytes) -> None: ...


def http_request(method: str, path: str, headers: dict[str, str] | None = None,
                 body: Any = None) -> bytes:
    """The bytes of one keep-alive HTTP/1.1 request (a JSON body when ``body`` is given)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Fixed:
    """A worker that sends the same request again and again."""

    payload: bytes

    def request(self) -> bytes:
        return self.payload

    def response(self, status: int, body: bytes) -> None:
        pass


@dataclass
class LoadResult:
    concurrency: int
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    server_ms: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # share of one core used by this process while measuring
    server_cpu: float | None = None  # share of one core used by the server

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": round(self.elapsed, 2),
                "rate": round(self.rate, 1), "concurrency": self.concurrency,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "client_cpu": round(self.client_cpu, 2),
                "server_cpu": None if self.server_cpu is None else round(self.server_cpu, 2)}


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, float | None, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked, timing = 0, False, None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"server-timing":
            match = TIMING.search(value)
            timing = float(match.group(1)) if match else None
    if not chunked:
        return status, timing, await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return status, timing, b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readline()


class _Run:
    def __init__(self, port: int, workers: list[Worker], duration: float, warmup: float,
                 server_pid: int | None) -> None:
        self.port, self.workers, self.server_pid = port, workers, server_pid
        self.duration, self.warmup = duration, warmup
        self.recording = False
        self.stopped = False
        self.result = LoadResult(concurrency=len(workers))

    async def _worker(self, worker: Worker) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while not self.stopped:
                writer.write(worker.request())
                status, timing, body = await _read_response(reader)
                worker.response(status, body)
                if self.recording and not self.stopped:
                    self.result.statuses[status] += 1
                    if timing is not None:
                        self.result.server_ms.append(timing)
        finally:
            writer.close()

    async def _clock(self) -> None:
        await asyncio.sleep(self.warmup)
        cpu0, server0, t0 = time.process_time(), self._server_cpu(), time.perf_counter()
        self.recording = True
        await asyncio.sleep(self.duration)
        self.stopped = True
        elapsed = time.perf_counter() - t0
        self.result.elapsed = elapsed
        self.result.client_cpu = (time.process_time() - cpu0) / elapsed
        server1 = self._server_cpu()
        if server0 is not None and server1 is not None:
            self.result.server_cpu = (server1 - server0) / elapsed

    def _server_cpu(self) -> float | None:
        return cpu_seconds(self.server_pid) if self.server_pid else None

    async def main(self) -> LoadResult:
        tasks = [asyncio.create_task(self._worker(w)) for w in self.workers]
        await self._clock()
        done, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                raise RuntimeError(f"load worker failed: {task.exception()!r}")
        return self.result


def _run(coro: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def run_load(port: int, workers: list[Worker], *, duration: float, warmup: float,
             server_pid: int | None = None) -> LoadResult:
    """Drive the server with one connection per worker; count what completes after warm-up."""
    return _run(_Run(port, workers, duration, warmup, server_pid).main())
