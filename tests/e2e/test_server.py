"""End to end: `ordertrail serve` as a real process, a user and key from the CLI, real HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
USERS = {"li.na": "sales", "chen.cfo": "finance", "zhao.gm": "manager"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.env = {**os.environ, "ORDERTRAIL_DATABASE_URL": url, "NO_COLOR": "1"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = directory / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [SCRIPT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=self.directory, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not answer /healthz in time:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str) -> str:
        proc = subprocess.run([SCRIPT, *args], env=self.env, cwd=self.directory,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("e2e")
    with fresh_database(directory) as url:
        srv = Server(directory, url)
        try:
            srv.start()
            yield srv
        finally:
            srv.stop()
    assert srv.proc is not None and srv.proc.poll() is not None, "the server is still running"


@pytest.fixture(scope="module")
def keys(server):
    """A user per role and an API key for each, made with the CLI while the server runs."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda item: server.cli("user", "create", item[0], "--role", item[1]),
                      USERS.items()))
        outputs = list(pool.map(lambda name: server.cli("apikey", "create", "--user", name),
                                USERS))
    return {name: out.strip().splitlines()[-1] for name, out in zip(USERS, outputs, strict=True)}


@pytest.fixture(scope="module")
def http(server, keys):
    with httpx.Client(base_url=server.base, timeout=30) as client:
        yield client


def auth(keys, name, **extra):
    return {"Authorization": f"Bearer {keys[name]}", **extra}


def test_health_openapi_and_docs(server, http):
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    spec = http.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/api/v1/orders", "/api/v1/orders/{order_no}/transitions",
                 "/api/v1/orders/{order_no}/approvals", "/api/v1/flows/validate"):
        assert path in paths
    docs = http.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "swagger" in docs.text.lower()
    # The page's scripts are served by ordertrail itself (no CDN needed on an intranet).
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    assert scripts
    for src in scripts:
        if src.startswith("/"):
            assert http.get(src).status_code == 200, src
    unauth = http.get("/api/v1/orders")
    assert unauth.status_code == 401
    assert unauth.headers["content-type"] == "application/problem+json"


def test_an_order_from_creation_through_review_and_a_two_level_approval(server, http, keys):
    assert http.get("/api/v1/me", headers=auth(keys, "li.na")).json() == {
        "name": "li.na", "roles": ["sales"]}

    # Make to order: create, accept in review.
    r = http.post("/api/v1/orders", headers=auth(keys, "li.na"), json={
        "flow": "make_to_order",
        "customer": {"name": "深圳精工机械有限公司", "phone": "0755-26001234", "city": "深圳"},
        "lines": [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 200, "unit_price": "35.80"}],
        "promised_at": "2026-12-20T18:00:00+08:00"})
    assert r.status_code == 201, r.text
    mto = r.json()
    assert (mto["stage"], mto["total"], mto["promised_at"]) == (
        "review", "7160.00", "2026-12-20T10:00:00Z")
    no = mto["order_no"]
    r = http.post(f"/api/v1/orders/{no}/transitions", headers=auth(keys, "li.na"),
                  json={"to": "material_check", "note": "drawings confirmed"})
    assert r.status_code == 200 and r.json()["stage"] == "material_check"

    # Sales may not start production: refused, with a reason, in English and Chinese.
    r = http.post(f"/api/v1/orders/{no}/transitions", headers=auth(keys, "li.na"),
                  json={"to": "production"})
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert "warehouse, production" in r.json()["detail"] and "sales" in r.json()["detail"]
    [step] = http.get(f"/api/v1/orders/{no}/transitions",
                      headers=auth(keys, "li.na", **{"Accept-Language": "zh-CN"})).json()[
        "items"]
    assert step["allowed"] is False and "生产" in step["reason"]

    # B2B on credit, 250 000: finance, then the general manager.
    r = http.post("/api/v1/orders", headers=auth(keys, "li.na", **{"Idempotency-Key": "b2b-1"}),
                  json={"flow": "b2b_credit", "customer": {"name": "上海恒通贸易有限公司"},
                        "lines": [{"sku": "COIL", "name": "Steel coil", "qty": 50,
                                   "unit_price": "5000"}]})
    assert r.status_code == 201
    b2b = r.json()["order_no"]
    retry = http.post("/api/v1/orders", headers=auth(keys, "li.na", **{
        "Idempotency-Key": "b2b-1"}), json={"flow": "b2b_credit",
                                            "customer": {"name": "上海恒通贸易有限公司"},
                                            "lines": [{"sku": "COIL", "name": "Steel coil",
                                                       "qty": 50, "unit_price": "5000"}]})
    assert retry.json()["order_no"] == b2b and retry.headers["idempotent-replayed"] == "true"

    r = http.post(f"/api/v1/orders/{b2b}/transitions", headers=auth(keys, "li.na"),
                  json={"to": "credit_approval"})
    assert r.status_code == 200
    assert (r.json()["approval"]["position"], r.json()["approval"]["levels"]) == (1, 2)
    r = http.post(f"/api/v1/orders/{b2b}/approvals", headers=auth(keys, "zhao.gm"),
                  json={"decision": "approve"})
    assert r.status_code == 403 and "level 1 of 2" in r.json()["detail"]
    r = http.post(f"/api/v1/orders/{b2b}/approvals", headers=auth(keys, "chen.cfo"),
                  json={"decision": "approve", "comment": "credit limit ok"})
    assert r.status_code == 200 and r.json()["approval"]["pending_level"] == "general_manager"
    r = http.post(f"/api/v1/orders/{b2b}/approvals", headers=auth(keys, "zhao.gm"),
                  json={"decision": "approve", "comment": "approved"})
    assert r.status_code == 200 and r.json()["stage"] == "picking"

    timeline = http.get(f"/api/v1/orders/{b2b}/timeline", headers=auth(keys, "chen.cfo"))
    assert timeline.status_code == 200
    items = timeline.json()["items"]
    assert [(i["kind"], i["actor"], i["role"], i["to_stage"]) for i in items] == [
        ("created", "li.na", "sales", "review"),
        ("transition", "li.na", "sales", "credit_approval"),
        ("approval", "chen.cfo", "finance", None),
        ("approval", "zhao.gm", "manager", None),
        ("transition", "zhao.gm", "manager", "picking"),
    ]
    assert [i["note"] for i in items[2:4]] == ["credit limit ok", "approved"]
    assert all(i["source"] == "api" and i["at"].endswith("Z") for i in items)
    stamps = [i["at"] for i in items]
    assert stamps == sorted(stamps)

    listed = http.get("/api/v1/orders", params={"stage": "picking,material_check"},
                      headers=auth(keys, "zhao.gm")).json()["items"]
    assert {o["order_no"] for o in listed} == {no, b2b}

    # The CLI sees the same database.
    shown = server.cli("order", "show", b2b)
    assert "stage picking" in shown and "zhao.gm (manager, api)" in shown


def test_the_server_logs_no_errors(server, http):
    http.get("/api/v1/orders/SO-NONE", headers={"Authorization": "Bearer nope"})
    log = server.output()
    assert "Traceback" not in log and "Internal error" not in log
    assert "Uvicorn running" in log or "Application startup complete" in log
