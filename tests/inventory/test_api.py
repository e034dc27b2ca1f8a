"""The inventory API: products, warehouses, movements, stock, availability, reservations,
with roles and problem answers."""

from __future__ import annotations

from ordertrail.auth import service as auth
from tests.conftest import order_body

PROBLEM = "application/problem+json"


def _setup(client, people):
    h = people.headers("wang")
    for code in ("SZ1", "SH2"):
        assert client.post("/api/v1/warehouses", headers=h,
                           json={"code": code, "name": code}).status_code == 201
    for sku in ("GEAR-40", "BOLT-M8"):
        assert client.post("/api/v1/products", headers=h,
                           json={"sku": sku, "name": sku}).status_code == 201
    return h


def test_products_and_warehouses(client, people):
    h = _setup(client, people)
    made = client.post("/api/v1/products", headers=h, json={
        "sku": "PUMP-7", "name": "Pump", "make_to_order": True,
        "bom": [{"sku": "BOLT-M8", "qty": "2"}]})
    assert made.status_code == 201, made.text
    assert made.json()["bom"] == [{"sku": "BOLT-M8", "qty": "2"}]
    assert [p["sku"] for p in client.get("/api/v1/products?q=pu", headers=h).json()[
        "items"]] == ["PUMP-7"]
    put = client.put("/api/v1/products/PUMP-7", headers=h, json={"name": "Pump 7"})
    assert put.json()["name"] == "Pump 7" and put.json()["bom"][0]["sku"] == "BOLT-M8"
    cycle = client.put("/api/v1/products/BOLT-M8", headers=h,
                       json={"bom": [{"sku": "PUMP-7", "qty": 1}]})
    assert cycle.status_code == 422 and cycle.headers["content-type"].startswith(PROBLEM)
    assert "cycle" in cycle.json()["detail"]
    zh = client.put("/api/v1/products/BOLT-M8", json={"bom": [{"sku": "BOLT-M8", "qty": 1}]},
                    headers=people.headers("wang", **{"Accept-Language": "zh-CN"}))
    assert "不能是自己的组件" in zh.json()["detail"]
    assert client.get("/api/v1/products/NOPE", headers=h).status_code == 404
    assert client.post("/api/v1/products", headers=people.headers("alice"),
                       json={"sku": "X-1", "name": "x"}).status_code == 403
    assert [w["code"] for w in client.get("/api/v1/warehouses", headers=people.headers(
        "vera")).json()["items"]] == ["SZ1", "SH2"]
    assert client.get("/api/v1/products").status_code == 401


def test_movements_stock_and_refusals(client, people, db, clock):
    h = _setup(client, people)
    r = client.post("/api/v1/stock/movements", headers=h, json={
        "kind": "receipt", "sku": "GEAR-40", "warehouse": "SZ1", "qty": "10",
        "reason": "PO20261122-0001", "ref_type": "purchase_order", "ref_id": "PO-1"})
    assert r.status_code == 201, r.text
    assert r.json()["stock"][0]["on_hand"] == "10.000"
    t = client.post("/api/v1/stock/movements", headers=h, json={
        "kind": "transfer", "sku": "GEAR-40", "warehouse": "SZ1", "to_warehouse": "SH2",
        "qty": 4, "reason": "rebalance"})
    assert [m["qty"] for m in t.json()["movements"]] == ["-4.000", "4.000"]
    for body, status, words in (
        ({"kind": "issue", "qty": 7}, 409, "free 6"),
        ({"kind": "issue", "qty": 0}, 422, "more than 0"),
        ({"kind": "receipt", "sku": "NOPE"}, 422, "NOPE"),
        ({"kind": "receipt", "warehouse": "XX"}, 422, "XX"),
        ({"kind": "transfer", "to_warehouse": "SZ1"}, 422, "another warehouse"),
        ({"kind": "receipt", "reason": ""}, 422, None),
    ):
        full = {"sku": "GEAR-40", "warehouse": "SZ1", "qty": 1, "reason": "x", **body}
        bad = client.post("/api/v1/stock/movements", headers=h, json=full)
        assert bad.status_code == status, (body, bad.text)
        assert bad.headers["content-type"].startswith(PROBLEM)
        if words:
            assert words in bad.json()["detail"], bad.json()
    levels = client.get("/api/v1/stock?sku=GEAR-40", headers=people.headers("vera")).json()
    assert [(s["warehouse"], s["on_hand"]) for s in levels["items"]] == [
        ("SH2", "4.000"), ("SZ1", "6.000")]
    ledger = client.get("/api/v1/stock/movements?sku=GEAR-40&limit=2", headers=h).json()
    assert len(ledger["items"]) == 2 and ledger["next_cursor"]
    older = client.get(f"/api/v1/stock/movements?cursor={ledger['next_cursor']}", headers=h)
    assert older.json()["items"][0]["ref_id"] == "PO-1"
    assert client.get("/api/v1/stock/movements?kind=nope", headers=h).status_code == 422
    # procurement may receive, not issue
    buyer = auth.create_user(db, "bob", ["procurement"], clock)
    key = auth.create_api_key(db, buyer, clock)[1]
    bob = {"Authorization": f"Bearer {key}"}
    ok = {"kind": "receipt", "sku": "GEAR-40", "warehouse": "SZ1", "qty": 1, "reason": "PO"}
    assert client.post("/api/v1/stock/movements", headers=bob, json=ok).status_code == 201
    assert client.post("/api/v1/stock/movements", headers=bob,
                       json={**ok, "kind": "issue"}).status_code == 403
    assert client.post("/api/v1/stock/movements", headers=people.headers("alice"),
                       json=ok).status_code == 403


def test_order_availability_and_reservations(client, people):
    h = _setup(client, people)
    client.post("/api/v1/stock/movements", headers=h, json={
        "kind": "receipt", "sku": "GEAR-40", "warehouse": "SZ1", "qty": 3, "reason": "count"})
    made = client.post("/api/v1/orders", headers=people.headers("alice"), json=order_body(
        "retail", lines=[{"sku": "GEAR-40", "name": "Gear", "qty": 5, "unit_price": "1"}]))
    no = made.json()["order_no"]
    a = client.get(f"/api/v1/orders/{no}/availability", headers=people.headers("vera")).json()
    assert a["state"] == "partial" and a["lines"][0]["short"] == "2.000"
    assert client.post(f"/api/v1/orders/{no}/reservations",
                       headers=people.headers("vera")).status_code == 403
    r = client.post(f"/api/v1/orders/{no}/reservations", headers=people.headers("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "waiting" and body["items"][0]["open"] == "3.000"
    assert body["waiting"]["items"][0]["short_qty"] == "2.000"
    order = client.get(f"/api/v1/orders/{no}", headers=h).json()
    assert order["waiting"]["kind"] == "stock" and "GEAR-40 short by 2" in order["waiting"][
        "reason"]["en"]
    client.post("/api/v1/stock/movements", headers=h, json={
        "kind": "receipt", "sku": "GEAR-40", "warehouse": "SH2", "qty": 2, "reason": "PO"})
    done = client.get(f"/api/v1/orders/{no}/reservations", headers=h).json()
    assert done["state"] == "reserved" and done["fully_reserved"] and done["waiting"] is None
    gone = client.request("DELETE", f"/api/v1/orders/{no}/reservations", headers=h,
                          json={"reason": "customer on hold"})
    assert gone.json()["state"] == "released" and all(i["open"] == "0.000"
                                                      for i in gone.json()["items"])
    assert client.get("/api/v1/orders/NOPE/availability", headers=h).status_code == 404


def test_openapi_documents_the_inventory_api(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/products", "/api/v1/products/{sku}", "/api/v1/warehouses",
                 "/api/v1/stock", "/api/v1/stock/movements",
                 "/api/v1/orders/{order_no}/availability",
                 "/api/v1/orders/{order_no}/reservations"):
        assert path in spec["paths"], path
    post = spec["paths"]["/api/v1/stock/movements"]["post"]
    assert {"201", "409", "422"} <= set(post["responses"])
