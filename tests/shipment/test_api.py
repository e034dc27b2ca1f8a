"""Shipments over HTTP: create on an order, detection, partial shipments, the order moving
by itself, manual events, lookups, bad input."""

from __future__ import annotations

from sqlalchemy import select

from ordertrail.models import Order, Shipment
from tests.conftest import order_body, row_counts


def packed(client, people, **body) -> str:
    """A retail order at `packed`, made and moved over the API."""
    r = client.post("/api/v1/orders", json=order_body("retail", **body),
                    headers=people.headers("alice"))
    assert r.status_code == 201, r.text
    no = r.json()["order_no"]
    for who, to in (("sam", "picking"), ("wang", "packed")):
        r = client.post(f"/api/v1/orders/{no}/transitions", json={"to": to},
                        headers=people.headers(who))
        assert r.status_code == 200, r.text
    return no


def ship(client, people, no, **body):
    return client.post(f"/api/v1/orders/{no}/shipments", json=body,
                       headers=people.headers("wang"))


def manual(client, people, sid, at, status, description, substatus=None):
    body = {"occurred_at": at, "status": status, "description": description}
    if substatus:
        body["substatus"] = substatus
    return client.post(f"/api/v1/shipments/{sid}/events", json=body,
                       headers=people.headers("wang"))


def stage(client, people, no) -> str:
    return client.get(f"/api/v1/orders/{no}", headers=people.headers("sam")).json()["stage"]


def test_creating_a_shipment_moves_the_order_to_shipped(client, people):
    no = packed(client, people)
    r = ship(client, people, no, carrier="sf", tracking_number="SF 1234 5678 90123")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tracking_number"] == "SF1234567890123"
    assert (body["carrier"], body["status"], body["substatus"]) == ("sf", "pending",
                                                                    "pending.registered")
    assert body["lines"] == [{"line_no": 1, "sku": "GEAR-40", "name": "Gear 40T", "qty": "2"}]
    assert body["destination"]["city"] == "深圳"
    assert stage(client, people, no) == "shipped"
    items = client.get(f"/api/v1/orders/{no}/timeline",
                       headers=people.headers("sam")).json()["items"]
    kinds = [(i["kind"], i["actor"], i.get("to_stage")) for i in items]
    assert ("shipment_created", "wang", None) in kinds
    assert ("transition", "system", "shipped") in kinds


def test_the_carrier_is_detected_when_not_given(client, people):
    no = packed(client, people)
    r = ship(client, people, no, tracking_number="SF1234567890123")
    assert r.status_code == 201, r.text
    assert r.json()["carrier"] == "sf"
    assert r.json()["detected"][0]["carrier"] == "sf"


def test_undetectable_numbers_and_unknown_carriers_are_refused(client, people, db):
    no = packed(client, people)
    before = row_counts(db)
    r = ship(client, people, no, tracking_number="ZZZZ")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "carrier" in r.json()["detail"]
    r = ship(client, people, no, tracking_number="123456789012")
    assert r.status_code == 422 and r.json()["code"] == "carrier_ambiguous"
    assert [c["carrier"] for c in r.json()["candidates"]][:1] == ["fedex"]
    r = ship(client, people, no, carrier="sff", tracking_number="SF1234567890123")
    assert r.status_code == 422 and "sff" in r.json()["detail"]
    assert row_counts(db) == before


def test_partial_shipments_and_all_delivered(client, people):
    lines = [{"sku": "A", "name": "Part A", "qty": 3, "unit_price": "10"},
             {"sku": "B", "name": "Part B", "qty": 1, "unit_price": "20"}]
    no = packed(client, people, lines=lines)
    first = ship(client, people, no, carrier="sf", tracking_number="SF1000000000011",
                 lines=[{"sku": "A", "qty": 2}]).json()
    over = ship(client, people, no, carrier="sf", tracking_number="SF1000000000012",
                lines=[{"line_no": 1, "qty": 2}])
    assert over.status_code == 409 and "1 left to ship" in over.json()["detail"]
    view = client.get(f"/api/v1/orders/{no}/shipments", headers=people.headers("sam")).json()
    assert [(u["sku"], u["unshipped"]) for u in view["unshipped"]] == [("A", "1"), ("B", "1")]
    # The first parcel arrives: the order is not delivered, part of it is not even shipped.
    assert manual(client, people, first["id"], "2026-11-20T09:00:00+08:00", "delivered",
                  "已签收").status_code == 201
    assert stage(client, people, no) == "shipped"
    second = ship(client, people, no, carrier="yto", tracking_number="YT1000000000013")
    assert second.status_code == 201
    assert [ln["sku"] for ln in second.json()["lines"]] == ["A", "B"]
    nothing = ship(client, people, no, carrier="yto", tracking_number="YT1000000000014")
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_ship"
    manual(client, people, second.json()["id"], "2026-11-20T09:30:00+08:00", "delivered",
           "本人签收", "delivered.signed")
    assert stage(client, people, no) == "delivered"
    view = client.get(f"/api/v1/orders/{no}/shipments", headers=people.headers("sam")).json()
    assert view["all_delivered"] and view["unshipped"] == []


def test_manual_events_are_idempotent_and_show_on_the_order_timeline(client, people):
    no = packed(client, people)
    sid = ship(client, people, no, carrier="zto", tracking_number="773000000001").json()["id"]
    first = manual(client, people, sid, "2026-11-20T08:00:00+08:00", "in_transit",
                   "快件已到达【杭州转运中心】", "in_transit.arrived")
    assert first.status_code == 201
    assert (first.json()["stored"], first.json()["status"]) == (1, "in_transit")
    again = manual(client, people, sid, "2026-11-20T08:00:00+08:00", "in_transit",
                   "快件已到达【杭州转运中心】", "in_transit.arrived")
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    lost = manual(client, people, sid, "2026-11-20T09:00:00+08:00", "exception", "快件遗失",
                  "exception.lost")
    assert lost.json()["substatus"] == "exception.lost"
    events = client.get(f"/api/v1/shipments/{sid}/events", headers=people.headers("sam"))
    assert [e["substatus"] for e in events.json()["events"]] == ["exception.lost",
                                                                 "in_transit.arrived"]
    items = client.get(f"/api/v1/orders/{no}/timeline",
                       headers=people.headers("sam")).json()["items"]
    kinds = [i["kind"] for i in items]
    assert "parcel_event" in kinds and "parcel_exception" in kinds
    assert kinds.count("parcel_event") == 1   # the exception is not shown twice
    times = [i["at"] for i in items]
    assert times == sorted(times)


def test_lookup_by_tracking_number(client, people):
    no = packed(client, people)
    ship(client, people, no, carrier="sf", tracking_number="SF1000000000021")
    r = client.get("/api/v1/track/sf-1000-0000-00021", headers=people.headers("vera"))
    assert r.status_code == 200
    assert r.json()["shipments"][0]["order_no"] == no
    assert client.get("/api/v1/track/SF999999", headers=people.headers("vera")).status_code == 404


def test_bad_input_is_refused_without_writing(client, people, db):
    no = packed(client, people)
    sid = ship(client, people, no, carrier="sf", tracking_number="SF1000000000031").json()["id"]
    before = row_counts(db)
    cases = [
        (ship(client, people, no, carrier="sf", tracking_number="SF1000000000031"), 409),
        (ship(client, people, "SO-NOPE", carrier="sf", tracking_number="SF1"), 422),
        (ship(client, people, "SO-NOPE", carrier="sf", tracking_number="SF10000000"), 404),
        (ship(client, people, no, carrier="sf", tracking_number="SF 中文 1234"), 422),
        (ship(client, people, no, carrier="sf", tracking_number="SF1000000000032",
              lines=[{"line_no": 9, "qty": 1}]), 422),
        (ship(client, people, no, carrier="sf", tracking_number="SF1000000000032",
              lines=[{"qty": 1}]), 422),
        (client.post(f"/api/v1/orders/{no}/shipments",
                     json={"carrier": "sf", "tracking_number": "SF1000000000033"},
                     headers=people.headers("vera")), 403),
        (manual(client, people, sid, "2026-11-20T08:00:00", "in_transit", "naive time"), 422),
        (manual(client, people, sid, "2026-11-20T08:00:00Z", "in_transit", "x",
                "delivered.signed"), 422),
        (manual(client, people, sid, "2030-01-01T08:00:00Z", "in_transit", "future"), 422),
        (manual(client, people, 999999, "2026-11-20T08:00:00Z", "in_transit", "x"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert row_counts(db) == before


def test_shipping_a_cancelled_order_is_refused(client, people, db):
    r = client.post("/api/v1/orders", json=order_body("retail"), headers=people.headers("alice"))
    no = r.json()["order_no"]
    client.post(f"/api/v1/orders/{no}/cancel", json={"note": "customer changed mind"},
                headers=people.headers("sam"))
    assert db.scalar(select(Order.status).where(Order.order_no == no)) == "cancelled"
    r = ship(client, people, no, carrier="sf", tracking_number="SF1000000000041")
    assert r.status_code == 409 and r.json()["code"] == "order_cancelled"
    assert db.scalar(select(Shipment.id).where(Shipment.tracking_number == "SF1000000000041")
                     ) is None


def test_the_provider_follows_configuration(client, people, db, clock):
    from ordertrail.carrier import registry
    from ordertrail.shipment.accounts import forget, set_account

    no = packed(client, people)
    assert ship(client, people, no, carrier="sf", tracking_number="SF1000000000051",
                lines=[{"line_no": 1, "qty": 1}]).json()["provider"] == "manual"
    set_account(db, registry.get("kuaidi100"), {"key": "k", "customer": "C", "salt": "s"},
                clock.now())
    db.commit()
    try:
        chosen = ship(client, people, no, carrier="sf", tracking_number="SF1000000000052")
        assert chosen.json()["provider"] == "kuaidi100"
        assert chosen.json()["next_check_at"] is not None   # the poller subscribes it
    finally:
        forget()
    bad = ship(client, people, packed(client, people), carrier="sf",
               tracking_number="SF1000000000053", provider="fedex-api")
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_provider"
