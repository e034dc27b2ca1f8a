"""The supplier's signed link: the page, its forms, the JSON twin, and refusals of expired or
tampered links (nothing changed, the attempt logged)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from ordertrail.models.procurement import PurchaseOrder, PurchaseOrderHistory
from ordertrail.procurement import links, service
from ordertrail.procurement.schemas import PoCreate
from tests.procurement.conftest import timeline, waiting_order


@pytest.fixture
def po(db, buyer, acme) -> tuple[PurchaseOrder, int, str]:
    """A purchase order for 4 × BOLT-M8 serving one waiting order, and its token."""
    order_id, _no = waiting_order(buyer, {"BOLT-M8": 4})
    row = service.create_po(buyer, PoCreate(supplier="ACME", expected_at="2026-11-28",
                                            lines=[{"sku": "BOLT-M8", "qty": 4}]))
    token, _exp = links.issue(db, buyer.settings, row.id, buyer.clock.now())
    db.commit()
    return row, order_id, token


def _fresh(db, po_id: int) -> PurchaseOrder:
    db.expire_all()
    return db.get(PurchaseOrder, po_id)


def _history(db, po_id: int) -> list[str]:
    return [h.kind for h in db.scalars(select(PurchaseOrderHistory).where(
        PurchaseOrderHistory.po_id == po_id).order_by(PurchaseOrderHistory.id))]


def test_the_page_shows_the_po_in_the_suppliers_language(client, po):
    row, _order, token = po
    r = client.get("/supplier/po", params={"t": token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert row.po_no in html and "BOLT-M8" in html and "Acme Metal" in html
    assert "采购单" in html and "2026-11-28" in html          # ACME's locale is zh-CN
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    en = client.get("/supplier/po", params={"t": token, "lang": "en"}).text
    assert "Purchase order" in en and "Confirm the delivery date" in en


def test_confirming_and_changing_the_date_through_the_forms(client, db, po, caplog):
    row, order_id, token = po
    r = client.post("/supplier/po/confirm", data={"t": token, "note": "OK"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("../po?t=")
    done = client.get("/supplier/po", params={"t": token, "ok": "confirmed"})
    assert "已确认" in done.text
    fresh = _fresh(db, row.id)
    assert fresh.status == "confirmed"
    (confirmed,) = timeline(db, order_id, "po_confirmed")
    assert confirmed.actor == "Acme Metal 五金厂" and confirmed.source == "supplier"

    r = client.post("/supplier/po/date", data={"t": token, "date": "2026-12-04",
                                               "note": "钢材到货晚"})
    assert r.status_code == 200 and row.po_no in r.text      # redirected back to the page
    fresh = _fresh(db, row.id)
    assert fresh.confirmed_at.isoformat().startswith("2026-12-03T16:00")
    (moved,) = timeline(db, order_id, "po_date_changed")
    assert "2026-12-04" in moved.note and "钢材到货晚" in moved.note
    history = db.scalars(select(PurchaseOrderHistory).where(
        PurchaseOrderHistory.po_id == row.id, PurchaseOrderHistory.kind == "date_changed")).one()
    assert history.source == "supplier" and history.actor == "Acme Metal 五金厂"

    bad = client.post("/supplier/po/date", data={"t": token, "date": "2026-11-01"})
    assert bad.status_code == 422 and "2026-11-01" in bad.text


def test_giving_the_tracking_number_tracks_the_inbound_parcel(client, db, po):
    row, order_id, token = po
    r = client.post("/supplier/po/tracking", data={"t": token, "carrier": "sf",
                                                   "tracking_number": "SF1234567890123"})
    assert r.status_code == 200 and "SF1234567890123" in r.text
    fresh = _fresh(db, row.id)
    assert fresh.shipment_id is not None
    (shipped,) = timeline(db, order_id, "po_shipped")
    assert shipped.source == "supplier"


def test_tampered_and_expired_links_are_refused_and_logged(client, db, clock, po, caplog):
    row, _order, token = po
    before = _history(db, row.id)
    caplog.set_level(logging.WARNING, logger="ordertrail.procurement")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other = f"{row.id + 1}." + token.split(".", 1)[1]
    for bad in (forged, other, "garbage", ""):
        r = client.post("/supplier/po/confirm", data={"t": bad})
        assert r.status_code == 403, bad
        assert "不是有效" in r.text or "not valid" in r.text
    page = client.get("/supplier/po", params={"t": forged}, headers={"Accept-Language": "en"})
    assert page.status_code == 403 and "This link is not valid" in page.text
    api = client.post("/api/v1/supplier/purchase-orders/confirm", json={"token": forged})
    assert api.status_code == 403
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "supplier_link_invalid"

    clock.advance(timedelta(days=31))
    expired = client.post("/supplier/po/date", data={"t": token, "date": "2027-01-05"})
    assert expired.status_code == 410
    api = client.post("/api/v1/supplier/purchase-orders/confirm", json={"token": token})
    assert api.status_code == 410 and api.json()["code"] == "supplier_link_expired"

    fresh = _fresh(db, row.id)
    assert fresh.status == "draft" and fresh.confirmed_at is None
    assert _history(db, row.id) == before
    logged = [r.getMessage() for r in caplog.records if r.name == "ordertrail.procurement"]
    assert any("tampered" in m and f"id {row.id}" in m and "testclient" in m for m in logged)
    assert any("expired" in m and f"id {row.id}" in m for m in logged)
    assert any("malformed" in m and "unreadable" in m for m in logged)


def test_supplier_json_api(client, db, po):
    row, _order, token = po
    view = client.get("/api/v1/supplier/purchase-orders", params={"t": token})
    assert view.status_code == 200 and view.json()["po_no"] == row.po_no
    r = client.post("/api/v1/supplier/purchase-orders/date",
                    json={"token": token, "date": "2026-12-02", "note": "holiday"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["confirmed_at"].startswith(
        "2026-12-01T16:00")
    r = client.post("/api/v1/supplier/purchase-orders/tracking",
                    json={"token": token, "carrier": "sf", "tracking_number": "SF1234567890123"})
    assert r.status_code == 200 and r.json()["inbound"]["tracking_number"] == "SF1234567890123"
