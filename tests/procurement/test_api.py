"""The staff API: suppliers, purchase orders by hand and from shortages, links, receipts and
their refusals (problem+json, nothing changed)."""

from __future__ import annotations

from tests.procurement.conftest import waiting_order


def _setup(db, buyer) -> tuple[int, str]:
    order = waiting_order(buyer, {"BOLT-M8": 5, "GEAR-40": 2})
    db.commit()
    return order


def test_suppliers_and_purchase_orders_over_http(client, db, people, buyer, catalog):
    _order_id, order_no = _setup(db, buyer)
    grace, wang = people.headers("grace"), people.headers("wang")
    r = client.post("/api/v1/suppliers", headers=grace, json={
        "code": "ACME", "name": "Acme", "lead_time_days": 3, "locale": "en"})
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/suppliers", headers=grace,
                       json={"code": "ACME", "name": "Again"}).status_code == 409
    assert client.post("/api/v1/suppliers", headers=people.headers("alice"),
                       json={"code": "X1", "name": "X"}).status_code == 403
    assert [s["code"] for s in client.get("/api/v1/suppliers",
                                          headers=people.headers("vera")).json()["suppliers"]] \
        == ["ACME"]

    found = client.get("/api/v1/purchase-orders/suggestions", headers=grace).json()
    assert {s["sku"]: s["suggested_qty"] for s in found["suggestions"]} == {
        "BOLT-M8": "5.000", "GEAR-40": "2.000"}
    assert found["suggestions"][0]["order_nos"] == [order_no]

    r = client.post("/api/v1/purchase-orders/from-shortages", headers=grace,
                    json={"supplier": "ACME", "skus": ["BOLT-M8"]})
    assert r.status_code == 201, r.text
    po = r.json()
    assert po["status"] == "draft" and po["orders"] == [
        {"order_no": order_no, "sku": "BOLT-M8", "short_qty": None}]
    no = po["po_no"]

    r = client.post("/api/v1/purchase-orders", headers=grace, json={
        "supplier": "ACME", "expected_at": "2026-12-01",
        "lines": [{"sku": "GEAR-40", "qty": "2", "unit_price": "18.5"}]})
    assert r.status_code == 201 and r.json()["total"] == "37.00"

    link = client.get(f"/api/v1/purchase-orders/{no}/supplier-link", headers=grace,
                      params={"days": 7}).json()
    assert link["url"].startswith("http://127.0.0.1:8000/supplier/po?t=")
    assert link["expires_at"].startswith("2026-11-27")
    assert client.get("/supplier/po", params={"t": link["token"]}).status_code == 200
    assert client.get(f"/api/v1/purchase-orders/{no}/supplier-link",
                      headers=wang).status_code == 403
    sent = client.post(f"/api/v1/purchase-orders/{no}/send", headers=grace)
    assert sent.status_code == 200 and client.get(
        f"/api/v1/purchase-orders/{no}", headers=grace).json()["status"] == "sent"

    r = client.post(f"/api/v1/purchase-orders/{no}/confirm", headers=grace,
                    json={"date": "2026-11-26", "note": "by phone"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert [h["kind"] for h in r.json()["history"]] == ["created", "sent", "date_changed"]

    # receipts: refusals first (nothing changes), then the goods
    miss = client.post("/api/v1/purchase-orders/PO-MISSING/receipts", headers=wang,
                       json={"lines": [{"sku": "BOLT-M8", "qty": 1}]})
    assert miss.status_code == 404 and "PO-MISSING" in miss.json()["detail"]
    wrong = client.post(f"/api/v1/purchase-orders/{no}/receipts", headers=wang,
                        json={"lines": [{"sku": "GEAR-40", "qty": 1}]})
    assert wrong.status_code == 422 and wrong.json()["code"] == "sku_not_on_purchase_order"
    over = client.post(f"/api/v1/purchase-orders/{no}/receipts", headers=wang,
                       json={"lines": [{"sku": "BOLT-M8", "qty": 6}]})
    assert over.status_code == 422 and over.json()["code"] == "over_received"
    zh = client.post(f"/api/v1/purchase-orders/{no}/receipts",
                     headers={**wang, "Accept-Language": "zh-CN"},
                     json={"lines": [{"sku": "BOLT-M8", "qty": 6}]})
    assert "只剩" in zh.json()["detail"]
    assert client.get(f"/api/v1/purchase-orders/{no}", headers=wang).json()["lines"][0][
        "received_qty"] == "0.000"
    ok = client.post(f"/api/v1/purchase-orders/{no}/receipts", headers=wang,
                     json={"lines": [{"sku": "BOLT-M8", "qty": 5}]})
    assert ok.status_code == 200 and ok.json()["status"] == "received"

    listed = client.get("/api/v1/purchase-orders", headers=grace,
                        params={"status": "open"}).json()["purchase_orders"]
    assert [p["status"] for p in listed] == ["draft"]


def test_a_cancelled_po_refuses_receipts_with_409(client, db, people, buyer, acme):
    db.commit()
    grace = people.headers("grace")
    no = client.post("/api/v1/purchase-orders", headers=grace, json={
        "supplier": "ACME", "lines": [{"sku": "NUT-M8", "qty": 3}]}).json()["po_no"]
    assert client.post(f"/api/v1/purchase-orders/{no}/cancel", headers=grace,
                       json={"reason": "dup"}).json()["status"] == "cancelled"
    r = client.post(f"/api/v1/purchase-orders/{no}/receipts", headers=grace,
                    json={"lines": [{"sku": "NUT-M8", "qty": 1}]})
    assert r.status_code == 409 and r.json()["code"] == "purchase_order_cancelled"
