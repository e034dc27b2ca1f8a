"""`ordertrail demo` for real: a server process with its simulated carrier child.

The demo is started as a user starts it (small, on a temporary SQLite file, on free ports, with
a simulator fast enough to play days in a second); the walkthrough's parcels are shipped over
HTTP and the orders must move by themselves. Stopping the demo must stop the simulator too,
whether it is stopped with Ctrl-C or killed outright.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordertrail.demo.shipments import STOPPED

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SPEED = "200000"  # a simulated day in under half a second
DEADLINE = 30.0
EVERY = 0.2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """A running `ordertrail demo` process and what it printed."""

    def __init__(self, proc: subprocess.Popen[str], base: str) -> None:
        self.proc, self.base = proc, base
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"demo exited {self.proc.returncode}:\n{self.text}")
            if not any(ln.startswith("API key: ") for ln in self.lines):
                return False
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _until(ready, "the demo server answers")

    def sim(self) -> tuple[str, int]:
        found = re.search(r"^Simulated carrier: (\S+) \(process (\d+),", self.text, re.M)
        assert found, self.text
        return found.group(1), int(found.group(2))

    def key(self, name: str) -> str:
        found = re.search(rf"^  {name}=(\S+)", self.text, re.M)
        assert found, self.text
        return found.group(1)


@contextmanager
def running_demo(tmp_path: Path, orders: int) -> Iterator[Demo]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERTRAIL_")}
    env["ORDERTRAIL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ordertrail.cli import main; main()", "demo",
         "--orders", str(orders), "--port", str(port), "--sim-speed", SPEED],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    demo = Demo(proc, f"http://127.0.0.1:{port}")
    try:
        yield demo
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _until(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting {deadline:g} s until {what}")
        time.sleep(EVERY)


def _gone(pid: int) -> bool:
    """The process has ended (a zombie left to an init that does not reap counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=0.5)
    except httpx.HTTPError:
        return False
    return True


def _shipment_step(text: str, number_prefix: str) -> tuple[str, dict[str, Any]]:
    """The order number and JSON body of the printed step that ships with this number."""
    import json

    for line in text.splitlines():
        found = re.search(r'"\$BASE/api/v1/orders/([^/"]+)/shipments" -d \'([^\']*)\'', line)
        if found and f'"{number_prefix}' in found.group(2):
            return found.group(1), json.loads(found.group(2))
    raise AssertionError(f"no printed step ships a {number_prefix} parcel:\n{text}")


def test_the_demo_ships_through_its_simulated_carrier(tmp_path: Path) -> None:
    with running_demo(tmp_path, orders=60) as demo:
        demo.wait_ready()
        sim_url, sim_pid = demo.sim()
        assert _answers(sim_url)
        warehouse = {"Authorization": f"Bearer {demo.key('WAREHOUSE')}"}
        sales = {"Authorization": f"Bearer {demo.key('SALES')}"}
        with httpx.Client(base_url=demo.base, timeout=5) as http:
            # The SF parcel: detected, the order shipped at once, delivered by itself.
            order_no, body = _shipment_step(demo.text, "SF")
            r = http.post(f"/api/v1/orders/{order_no}/shipments", json=body, headers=warehouse)
            assert r.status_code == 201, r.text
            shipment = r.json()
            assert (shipment["carrier"], shipment["provider"]) == ("sf", "sim")
            assert http.get(f"/api/v1/orders/{order_no}", headers=sales).json()[
                "stage"] == "shipped"

            def delivered() -> bool:
                return http.get(f"/api/v1/orders/{order_no}", headers=sales).json()[
                    "stage"] == "delivered"

            _until(delivered, f"{order_no} is delivered")
            parcel = http.get(f"/api/v1/shipments/{shipment['id']}", headers=sales).json()
            assert parcel["status"] == "delivered" and parcel["registered_at"]
            assert parcel["event_count"] >= 5

            # The YTO parcel asked to get lost: an exception on the order's timeline.
            lost_no, lost_body = _shipment_step(demo.text, "YT")
            assert lost_body["scenario"] == "lost"
            r = http.post(f"/api/v1/orders/{lost_no}/shipments", json=lost_body,
                          headers=warehouse)
            assert r.status_code == 201, r.text

            def exception() -> list[dict[str, Any]]:
                items = http.get(f"/api/v1/orders/{lost_no}/timeline?parcels=false",
                                 headers=sales).json()["items"]
                return [i for i in items if i["kind"] == "parcel_exception"]

            rows = _until(exception, f"{lost_no} shows its lost parcel")
            assert rows[0]["data"]["substatus"] == "exception.lost"
            assert http.get(f"/api/v1/orders/{lost_no}", headers=sales).json()[
                "stage"] == "shipped"
            metrics = http.get("/metrics").text
            assert 'ordertrail_webhooks_total{outcome="accepted",provider="sim"}' in metrics

        demo.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.proc.wait(15) in (0, 130)
        _until(lambda: _gone(sim_pid), "the simulator has stopped", 10)
        assert not _answers(sim_url)
    # Only the two new parcels went to the simulator; the demo's history never did.
    with sqlite3.connect(tmp_path / "demo.db") as db:
        registered = db.execute("SELECT tracking_number FROM shipments "
                                "WHERE registered_at IS NOT NULL").fetchall()
        historic = db.execute("SELECT count(*) FROM shipments WHERE stopped_reason = ?",
                              (STOPPED,)).fetchone()[0]
    assert sorted(n for (n,) in registered) == sorted([body["tracking_number"],
                                                       lost_body["tracking_number"]])
    assert historic > 10


def test_a_killed_demo_leaves_no_simulator_behind(tmp_path: Path) -> None:
    with running_demo(tmp_path, orders=0) as demo:
        demo.wait_ready()
        sim_url, sim_pid = demo.sim()
        assert _answers(sim_url)
        demo.proc.kill()  # no chance to clean up
        demo.proc.wait(10)
        _until(lambda: _gone(sim_pid), "the orphaned simulator has stopped", 10)
        assert not _answers(sim_url)


def test_a_simulator_that_cannot_start_is_one_line_and_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ordertrail.cli import app
    from ordertrail.config import get_settings
    from ordertrail.demo import live

    # The child's own refusal comes back as the reason.
    with pytest.raises(live.SimUnavailable, match="speed"):
        live.start_sim(speed=-1)

    def broken(**_kw: object) -> live.SimCarrier:
        raise live.SimUnavailable("no answer from http://127.0.0.1:8100/healthz after 20 s")

    monkeypatch.setattr(live, "start_sim", broken)
    monkeypatch.setenv("ORDERTRAIL_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["demo", "--orders", "0"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "error: the simulated carrier did not start: no answer from "
        "http://127.0.0.1:8100/healthz after 20 s"]


def test_the_simulator_port_is_8100_unless_taken() -> None:
    from ordertrail.demo.live import free_port

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", 8100))
        except OSError:
            pytest.skip("something else listens on 8100")
        s.listen()
        assert free_port() not in (8100, 0)
    assert free_port() == 8100
