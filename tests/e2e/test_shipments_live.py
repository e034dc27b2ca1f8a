"""End to end: `ordertrail serve` and the simulated carrier as real processes.

A shipment created over HTTP is registered with the simulator by the server's poller, the
simulator pushes signed webhooks as the parcel travels, and the order moves to shipped and
then delivered by itself; a lost parcel shows on the order's timeline; duplicate and
out-of-order pushes change nothing.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import fresh_database, order_body
from tests.e2e.test_server import SCRIPT, USERS, Server, auth, free_port

SIM_SPEED = "150000"   # a three-day journey in about two seconds


class Sim:
    def __init__(self, directory, secret: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.secret = secret
        self.log = directory / "sim.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [SCRIPT, "carriers", "simulate", "--port", str(self.port), "--secret", secret,
                 "--speed", SIM_SPEED, "--duplicate-rate", "0.3", "--reorder-rate", "0.3"],
                stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or _ok(f"{self.base}/healthz"), 30,
                 lambda: self.log.read_text())
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], Any], seconds: float, why: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"condition not met in {seconds} s\n{why()}")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("live")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    sim = Sim(directory, secret)
    with fresh_database(directory) as url:
        server = Server(directory, url)
        server.env.update({"ORDERTRAIL_TRACKING_PROVIDER": "sim",
                           "ORDERTRAIL_SIM_URL": sim.base,
                           "ORDERTRAIL_SIM_WEBHOOK_SECRET": secret,
                           "ORDERTRAIL_PUBLIC_URL": server.base})
        try:
            server.start()
            for name, role in {**USERS, "wang": "warehouse", "sam": "service"}.items():
                server.cli("user", "create", name, "--role", role)
            keys = {name: server.cli("apikey", "create", "--user", name).strip().splitlines()[-1]
                    for name in (*USERS, "wang", "sam")}
            with httpx.Client(base_url=server.base, timeout=30) as http:
                yield server, http, keys, sim
        finally:
            server.stop()
            sim.stop()


def packed_order(http, keys) -> str:
    no = http.post("/api/v1/orders", json=order_body("retail"),
                   headers=auth(keys, "li.na")).json()["order_no"]
    for who, to in (("sam", "picking"), ("wang", "packed")):
        r = http.post(f"/api/v1/orders/{no}/transitions", json={"to": to},
                      headers=auth(keys, who))
        assert r.status_code == 200, r.text
    return no


def test_pushes_move_the_order_to_delivered_by_itself(live):
    server, http, keys, sim = live
    no = packed_order(http, keys)
    r = http.post(f"/api/v1/orders/{no}/shipments",
                  json={"tracking_number": "SF1425367890123", "scenario": "normal"},
                  headers=auth(keys, "wang"))
    assert r.status_code == 201, r.text
    shipment = r.json()
    assert (shipment["carrier"], shipment["provider"]) == ("sf", "sim")
    assert http.get(f"/api/v1/orders/{no}", headers=auth(keys, "sam")).json()["stage"] == (
        "shipped")

    def delivered() -> bool:
        order = http.get(f"/api/v1/orders/{no}", headers=auth(keys, "sam")).json()
        return order["stage"] == "delivered"

    wait_for(delivered, 40, server.output)
    # A push the simulator held back may still arrive after the delivery scan (it is older, so
    # it changes no status): wait until the receiver has accepted every event of the journey.
    sim_auth = {"Authorization": f"Bearer {sim.secret}"}

    def all_pushed() -> list[dict[str, Any]] | None:
        plan = httpx.get(f"{sim.base}/v1/journeys/SF1425367890123", headers=sim_auth).json()
        return plan["events"] if all(e["pushed"] for e in plan["events"]) else None

    journey = wait_for(all_pushed, 40, server.output)
    got = http.get(f"/api/v1/shipments/{shipment['id']}", headers=auth(keys, "sam")).json()
    assert got["status"] == "delivered" and got["registered_at"] and got["event_count"] >= 4
    assert got["next_check_at"] is None   # nothing more to ask the carrier
    events = http.get(f"/api/v1/shipments/{shipment['id']}/events",
                      headers=auth(keys, "sam")).json()["events"]
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times, reverse=True)
    assert len({(e["occurred_at"], e["description"]) for e in events}) == len(events)
    # The simulator re-sent some pushes and held some back: they were recognised.
    metrics = http.get("/metrics").text
    assert 'ordertrail_webhooks_total{outcome="accepted",provider="sim"}' in metrics
    timeline = http.get(f"/api/v1/orders/{no}/timeline", headers=auth(keys, "sam")).json()
    kinds = [i["kind"] for i in timeline["items"]]
    assert kinds.count("parcel_event") == got["event_count"] == len(journey)


def test_a_lost_parcel_shows_as_an_exception_on_the_order(live):
    server, http, keys, _sim = live
    no = packed_order(http, keys)
    r = http.post(f"/api/v1/orders/{no}/shipments",
                  json={"tracking_number": "YT7412589630147", "scenario": "lost"},
                  headers=auth(keys, "wang"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    def lost() -> bool:
        s = http.get(f"/api/v1/shipments/{sid}", headers=auth(keys, "sam")).json()
        return s["substatus"] == "exception.lost"

    wait_for(lost, 40, server.output)
    items = http.get(f"/api/v1/orders/{no}/timeline", headers=auth(keys, "sam")).json()["items"]
    exceptions = [i for i in items if i["kind"] == "parcel_exception"]
    assert exceptions and exceptions[-1]["data"]["substatus"] == "exception.lost"
    assert http.get(f"/api/v1/orders/{no}", headers=auth(keys, "sam")).json()["stage"] == (
        "shipped")
