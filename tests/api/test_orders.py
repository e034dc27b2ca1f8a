"""Orders over HTTP: create, read, edit, list with filters, sorting and cursor pagination."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import order_body, row_counts, run_together

ORDERS = "/api/v1/orders"
PROBLEM = "application/problem+json"


def create(client, people, user="alice", **overrides):
    r = client.post(ORDERS, json=order_body(**overrides), headers=people.headers(user))
    assert r.status_code == 201, r.text
    return r.json()


def advance(client, people, order_no, to, user="alice"):
    r = client.post(f"{ORDERS}/{order_no}/transitions", json={"to": to},
                    headers=people.headers(user))
    assert r.status_code == 200, r.text
    return r.json()


def timeline(client, people, order_no):
    r = client.get(f"{ORDERS}/{order_no}/timeline", headers=people.headers("vera"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# Create and read ----------------------------------------------------------------------------


def test_create_returns_the_order_with_exact_totals_and_utc_times(client, people):
    r = client.post(ORDERS, headers=people.headers("alice"), json=order_body(
        lines=[{"sku": "BOLT-M8", "name": "Bolt M8", "qty": "3", "unit_price": "19.99"},
               {"sku": "WASHER", "name": "Washer", "qty": "1.5", "unit_price": "0.10"},
               {"sku": "SHIM", "name": "Shim", "qty": 3, "unit_price": "0.3333"}],
        shipping_fee="12", discount="5.5", priority="high", channel="b2b",
        tags=["vip", "vip", "export"], custom={"po": "PO-77"}))
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    o = r.json()
    assert re.fullmatch(r"SO20261120-\d{5}", o["order_no"])
    assert (o["flow"], o["flow_version"], o["stage"], o["status"]) == (
        "make_to_order", 1, "review", "active")
    assert o["stage_name"] == {"en": "Order review", "zh": "订单评审"}
    assert o["responsible_role"] == "sales"
    # Money is exact: decimal strings, never floats; 3 × 0.3333 = 0.9999 rounds to 1.00.
    assert [(ln["line_no"], ln["qty"], ln["unit_price"], ln["amount"]) for ln in o["lines"]] == [
        (1, "3", "19.99", "59.97"), (2, "1.5", "0.10", "0.15"), (3, "3", "0.3333", "1.00")]
    assert (o["subtotal"], o["shipping_fee"], o["discount"], o["total"]) == (
        "61.12", "12.00", "5.50", "67.62")
    # Times are UTC: 10:00 in Shanghai is 02:00Z.
    assert o["promised_at"] == "2026-12-01T02:00:00Z"
    assert o["created_at"] == o["updated_at"] == o["stage_entered_at"] == "2026-11-20T02:00:00Z"
    assert o["customer"]["name"] == "张伟" and o["customer"]["country"] == "CN"
    assert (o["priority"], o["channel"], o["tags"], o["custom"]) == (
        "high", "b2b", ["vip", "export"], {"po": "PO-77"})
    assert o["approval"] is None


def test_get_returns_what_create_returned(client, people):
    created = create(client, people)
    r = client.get(f"{ORDERS}/{created['order_no']}", headers=people.headers("vera"))
    assert r.status_code == 200
    assert r.json() == created


def test_each_new_order_gets_the_next_number(client, people):
    numbers = [create(client, people)["order_no"] for _ in range(3)]
    seqs = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


def test_creation_is_on_the_timeline(client, people):
    o = create(client, people, note="phoned in by the buyer")
    [row] = timeline(client, people, o["order_no"])
    assert (row["kind"], row["actor"], row["role"], row["from_stage"], row["to_stage"],
            row["note"], row["source"]) == (
        "created", "alice", "sales", None, "review", "phoned in by the buyer", "api")
    assert row["data"] == {"flow_version": 1}


def test_viewer_may_read_but_not_create(client, people):
    r = client.post(ORDERS, json=order_body(), headers=people.headers("vera"))
    assert r.status_code == 403
    assert r.headers["content-type"] == PROBLEM
    assert "sales, manager" in r.json()["detail"]


# External references --------------------------------------------------------------------


def test_external_ref_is_unique_per_source_and_names_the_existing_order(client, people, db):
    first = create(client, people, external_ref="TM-1001")
    assert (first["external_source"], first["external_ref"]) == ("api", "TM-1001")
    before = row_counts(db)
    r = client.post(ORDERS, json=order_body(external_ref="TM-1001"),
                    headers=people.headers("alice"))
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "duplicate_external_ref"
    assert first["order_no"] in problem["detail"] and "TM-1001" in problem["detail"]
    assert problem["order_no"] == first["order_no"]
    assert row_counts(db) == before
    # The same reference from another source system is another order.
    other = create(client, people, external_ref="TM-1001", external_source="tmall")
    assert other["order_no"] != first["order_no"]
    r = client.post(ORDERS, json=order_body(external_ref="TM-1001", external_source="tmall"),
                    headers=people.headers("grace"))
    assert r.status_code == 409 and r.json()["order_no"] == other["order_no"]


# Edit -----------------------------------------------------------------------------------


def test_patch_changes_fields_and_records_what_changed(client, people, clock):
    o = create(client, people, shipping_fee="10")
    clock.advance(timedelta(minutes=30))
    r = client.patch(f"{ORDERS}/{o['order_no']}", headers=people.headers("sam"), json={
        "priority": "urgent", "shipping_fee": "25.5", "discount": "1",
        "promised_at": "2026-12-03T18:00:00+08:00", "tags": ["rush"],
        "note": "customer asked for express"})
    assert r.status_code == 200, r.text
    u = r.json()
    assert (u["priority"], u["shipping_fee"], u["discount"], u["tags"]) == (
        "urgent", "25.50", "1.00", ["rush"])
    assert u["total"] == "223.50"  # 199.00 + 25.50 - 1.00
    assert u["promised_at"] == "2026-12-03T10:00:00Z"
    assert u["updated_at"] == "2026-11-20T02:30:00Z"
    assert u["created_at"] == o["created_at"]
    edit = timeline(client, people, o["order_no"])[-1]
    assert (edit["kind"], edit["actor"], edit["role"], edit["note"], edit["source"]) == (
        "edit", "sam", "service", "customer asked for express", "api")
    changed = edit["data"]["changed"]
    assert set(changed) == {"priority", "shipping_fee", "discount", "promised_at", "tags",
                            "total"}
    assert changed["priority"] == ["normal", "urgent"]
    assert changed["total"] == ["209.00", "223.50"]
    assert r.json() == client.get(f"{ORDERS}/{o['order_no']}",
                                  headers=people.headers("vera")).json()


def test_patch_that_changes_nothing_writes_nothing(client, people, db):
    o = create(client, people)
    before = row_counts(db)
    # The same values, written differently (2 for a stored 2.000, "99.5" for 99.50).
    r = client.patch(f"{ORDERS}/{o['order_no']}", headers=people.headers("alice"), json={
        "priority": "normal", "shipping_fee": 0,
        "lines": [{"sku": "GEAR-40", "name": "Gear 40T", "qty": "2.0", "unit_price": "99.5"}]})
    assert r.status_code == 200
    assert r.json()["updated_at"] == o["updated_at"]
    assert row_counts(db) == before
    assert [i["kind"] for i in timeline(client, people, o["order_no"])] == ["created"]


def test_patch_customer_replaces_contact_details(client, people):
    o = create(client, people)
    r = client.patch(f"{ORDERS}/{o['order_no']}", headers=people.headers("alice"), json={
        "customer": {"name": "张伟", "phone": "13700137000", "city": "广州"}})
    assert r.status_code == 200, r.text
    assert r.json()["customer"]["phone"] == "13700137000"
    changed = timeline(client, people, o["order_no"])[-1]["data"]["changed"]
    assert changed["customer_phone"] == ["13800138000", "13700137000"]
    assert changed["customer_city"] == ["深圳", "广州"]
    assert "customer_name" not in changed


def test_lines_can_change_at_the_first_stage_only(client, people, db):
    o = create(client, people)
    r = client.patch(f"{ORDERS}/{o['order_no']}", headers=people.headers("alice"), json={
        "lines": [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 4, "unit_price": "99.50"},
                  {"sku": "SHAFT", "name": "Shaft", "qty": 1, "unit_price": "250"}]})
    assert r.status_code == 200, r.text
    u = r.json()
    assert [ln["amount"] for ln in u["lines"]] == ["398.00", "250.00"]
    assert (u["subtotal"], u["total"]) == ("648.00", "648.00")
    changed = timeline(client, people, o["order_no"])[-1]["data"]["changed"]
    assert changed["lines"] == [1, 2] and changed["total"] == ["199.00", "648.00"]

    advance(client, people, o["order_no"], "material_check")
    before = row_counts(db)
    r = client.patch(f"{ORDERS}/{o['order_no']}", headers=people.headers("alice"), json={
        "lines": [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 1, "unit_price": "1"}],
        "priority": "high"})
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["code"] == "lines_locked" and problem["field"] == "lines"
    assert "Order review" in problem["detail"] and "Material check" in problem["detail"]
    assert row_counts(db) == before
    after = client.get(f"{ORDERS}/{o['order_no']}", headers=people.headers("vera")).json()
    assert (after["subtotal"], after["priority"]) == ("648.00", "normal")
    # Other fields stay editable.
    r = client.patch(f"{ORDERS}/{o['order_no']}", json={"priority": "high"},
                     headers=people.headers("alice"))
    assert r.status_code == 200 and r.json()["priority"] == "high"


def test_warehouse_may_not_edit_and_finished_orders_cannot_be_edited(client, people):
    o = create(client, people)
    r = client.patch(f"{ORDERS}/{o['order_no']}", json={"priority": "high"},
                     headers=people.headers("wang"))
    assert r.status_code == 403 and "warehouse" in r.json()["detail"]
    r = client.post(f"{ORDERS}/{o['order_no']}/cancel", json={"note": "duplicate"},
                    headers=people.headers("alice"))
    assert r.status_code == 200
    r = client.patch(f"{ORDERS}/{o['order_no']}", json={"priority": "high"},
                     headers=people.headers("alice"))
    assert r.status_code == 409 and r.json()["code"] == "order_closed"


# Listing --------------------------------------------------------------------------------


@pytest.fixture
def catalog(client, people, clock):
    """Six orders an hour apart, in three flows, stages and statuses; name -> order_no."""
    o = {}
    o["mto_review"] = create(client, people, external_ref="TM-1001")["order_no"]
    clock.advance(timedelta(hours=1))
    o["mto_material"] = create(client, people, priority="high",
                               promised_at="2026-12-05T09:00:00+08:00",
                               customer={"name": "李娜", "phone": "13900139000"})["order_no"]
    advance(client, people, o["mto_material"], "material_check")
    clock.advance(timedelta(hours=1))
    o["retail_picking"] = create(client, people, flow="retail", priority="urgent",
                                 promised_at=None, customer={"name": "王芳"})["order_no"]
    advance(client, people, o["retail_picking"], "picking")
    clock.advance(timedelta(hours=1))
    o["b2b_review"] = create(client, people, flow="b2b_credit", promised_at=None,
                             customer={"name": "上海恒通贸易有限公司"})["order_no"]
    clock.advance(timedelta(hours=1))
    o["mto_cancelled"] = create(client, people, promised_at="2026-12-10T10:00:00+08:00",
                                priority="low")["order_no"]
    r = client.post(f"{ORDERS}/{o['mto_cancelled']}/cancel", json={"note": "duplicate"},
                    headers=people.headers("alice"))
    assert r.status_code == 200
    clock.advance(timedelta(hours=1))
    o["retail_held"] = create(client, people, flow="retail", promised_at=None,
                              customer={"name": "Zhang Wei", "email": "zw@example.com"}
                              )["order_no"]
    r = client.post(f"{ORDERS}/{o['retail_held']}/hold", json={"note": "address check"},
                    headers=people.headers("grace"))
    assert r.status_code == 200
    return o


def forge(*values):
    """A cursor made by hand, in the format the API hands out."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def names(client, people, catalog, **params):
    r = client.get(ORDERS, params=params, headers=people.headers("vera"))
    assert r.status_code == 200, r.text
    by_no = {v: k for k, v in catalog.items()}
    return [by_no[item["order_no"]] for item in r.json()["items"]]


def test_list_is_newest_first_with_summaries(client, people, catalog):
    r = client.get(ORDERS, headers=people.headers("vera"))
    assert r.status_code == 200
    page = r.json()
    assert page["next_cursor"] is None
    assert [i["order_no"] for i in page["items"]] == list(reversed(catalog.values()))
    first = page["items"][-1]
    assert first["customer_name"] == "张伟" and first["total"] == "199.00"
    assert first["external_ref"] == "TM-1001" and first["stage"] == "review"


@pytest.mark.parametrize(("params", "expected"), [
    ({"stage": "review"}, {"mto_review", "b2b_review", "retail_held"}),
    ({"stage": ["review", "picking"]}, {"mto_review", "b2b_review", "retail_held",
                                        "retail_picking"}),
    ({"stage": "review,picking"}, {"mto_review", "b2b_review", "retail_held",
                                   "retail_picking"}),
    ({"stage": ["material_check,picking", "cancelled"]}, {"mto_material", "retail_picking",
                                                          "mto_cancelled"}),
    ({"flow": "retail"}, {"retail_picking", "retail_held"}),
    ({"flow": "retail", "stage": "review"}, {"retail_held"}),
    ({"flow": "nowhere"}, set()),
    ({"status": "on_hold"}, {"retail_held"}),
    ({"status": "cancelled"}, {"mto_cancelled"}),
    ({"status": "active", "flow": "make_to_order"}, {"mto_review", "mto_material"}),
    ({"customer": "张伟"}, {"mto_review", "mto_cancelled"}),
    ({"customer": "13900139000"}, {"mto_material"}),
    ({"customer": "zw@example.com"}, {"retail_held"}),
    ({"priority": "urgent"}, {"retail_picking"}),
    ({"priority": "low"}, {"mto_cancelled"}),
    ({"created_from": "2026-11-20T03:00:00Z", "created_to": "2026-11-20T05:00:00Z"},
     {"mto_material", "retail_picking"}),
    ({"created_from": "2026-11-20T12:00:00+08:00"}, {"retail_picking", "b2b_review",
                                                     "mto_cancelled", "retail_held"}),
    ({"promised_from": "2026-12-02T00:00:00Z"}, {"mto_material", "mto_cancelled"}),
    ({"promised_to": "2026-12-05T01:00:00Z"}, {"mto_review"}),
    ({"q": "TM-1001"}, {"mto_review"}),
    ({"q": "13900139000"}, {"mto_material"}),
    ({"q": "恒通贸易"}, {"b2b_review"}),
    ({"q": "伟"}, {"mto_review", "mto_cancelled"}),
    ({"q": "Zhang"}, {"retail_held"}),
    ({"q": "zhang wei"}, {"retail_held"}),  # names match whatever the case, on both databases
    ({"q": "SO20261120-"}, {"mto_review", "mto_material", "retail_picking", "b2b_review",
                            "mto_cancelled", "retail_held"}),
    ({"q": "%"}, set()),
    ({"q": "TM-100"}, set()),  # external refs match exactly, not by prefix
])
def test_list_filters(client, people, catalog, params, expected):
    assert set(names(client, people, catalog, **params)) == expected


def test_q_finds_an_order_by_its_number_prefix(client, people, catalog):
    no = catalog["b2b_review"]
    assert names(client, people, catalog, q=no) == ["b2b_review"]
    assert "b2b_review" in names(client, people, catalog, q=no[:-1])


@pytest.mark.parametrize(("sort", "expected"), [
    ("-created_at", ["retail_held", "mto_cancelled", "b2b_review", "retail_picking",
                     "mto_material", "mto_review"]),
    ("created_at", ["mto_review", "mto_material", "retail_picking", "b2b_review",
                    "mto_cancelled", "retail_held"]),
    ("order_no", ["mto_review", "mto_material", "retail_picking", "b2b_review",
                  "mto_cancelled", "retail_held"]),
    ("-order_no", ["retail_held", "mto_cancelled", "b2b_review", "retail_picking",
                   "mto_material", "mto_review"]),
])
def test_list_sorting(client, people, catalog, sort, expected):
    assert names(client, people, catalog, sort=sort) == expected


def test_sort_by_time_in_stage(client, people, catalog, clock):
    clock.advance(timedelta(hours=1))
    advance(client, people, catalog["mto_review"], "material_check")
    got = names(client, people, catalog, sort="stage_entered_at", stage="material_check")
    assert got == ["mto_material", "mto_review"]
    got = names(client, people, catalog, sort="-stage_entered_at")
    assert got[0] == "mto_review"


@pytest.fixture
def many(client, people, clock):
    """23 orders in bursts that share a creation time (so the sort key alone has ties)."""
    numbers = []
    for burst in range(6):
        for _ in range(burst % 3 + 3):
            flow = "retail" if len(numbers) % 4 == 0 else "make_to_order"
            numbers.append(create(client, people, flow=flow)["order_no"])
            if len(numbers) == 23:
                return numbers
        clock.advance(timedelta(minutes=7))
    return numbers


def walk(client, people, **params):
    seen, cursor, pages = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        r = client.get(ORDERS, params=query, headers=people.headers("vera"))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= params["limit"]
        seen.extend(i["order_no"] for i in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 100, "pagination does not end"


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "stage_entered_at",
                                  "-stage_entered_at", "order_no", "-order_no"])
def test_cursor_pagination_walks_every_order_once(client, people, many, sort):
    everything = client.get(ORDERS, params={"sort": sort, "limit": 200},
                            headers=people.headers("vera")).json()["items"]
    assert len(everything) == 23
    seen, pages = walk(client, people, sort=sort, limit=4)
    assert seen == [i["order_no"] for i in everything]
    assert len(set(seen)) == 23 and pages == 6


def test_cursor_pagination_with_a_filter(client, people, many):
    retail = [n for i, n in enumerate(many) if i % 4 == 0]
    seen, _pages = walk(client, people, flow="retail", sort="created_at", limit=2)
    assert seen == retail


def test_an_order_created_while_paging_does_not_disturb_the_walk(client, people, many):
    r = client.get(ORDERS, params={"limit": 10}, headers=people.headers("vera")).json()
    first = [i["order_no"] for i in r["items"]]
    create(client, people)  # newer than everything: belongs before page one
    rest, _pages = walk(client, people, limit=10, cursor=r["next_cursor"])
    assert sorted(first + rest) == sorted(many)


@pytest.mark.parametrize("params", [
    {"sort": "customer_name"}, {"sort": "-total"}, {"sort": "--created_at"},
    {"cursor": "not-a-cursor"}, {"cursor": "W10"},
    # Cursors forged by hand: a naive time, an id no column can hold, wrong types.
    {"cursor": forge("2026-11-20T02:00:00", 1)},
    {"cursor": forge("2026-11-20T02:00:00+00:00", 10**20)},
    {"cursor": forge("2026-11-20T02:00:00+00:00", -1)},
    {"cursor": forge(1, 2)}, {"cursor": forge("2026-11-20T02:00:00+00:00", "x")},
    {"limit": 0}, {"limit": 201}, {"status": "lost"}, {"priority": "asap"},
    {"created_from": "2026-11-20T02:00:00"}, {"created_to": "yesterday"},
    {"q": ""}, {"q": "x" * 101},
])
def test_bad_list_parameters_are_a_422_problem(client, people, params):
    r = client.get(ORDERS, params=params, headers=people.headers("vera"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] and problem["detail"]
    if "sort" in params:
        assert problem["code"] == "bad_sort"
        assert "created_at, order_no, stage_entered_at" in problem["detail"]
    if "cursor" in params:
        assert problem["code"] == "bad_cursor"


# Creation under concurrency -------------------------------------------------------------


def test_concurrent_creation_gives_distinct_order_numbers(live_app, live_people, committing):
    def create_three(i):
        client = TestClient(live_app)
        user = "alice" if i % 2 else "grace"
        out = []
        for _ in range(3):
            r = client.post(ORDERS, json=order_body(), headers=live_people.headers(user))
            out.append((r.status_code, r.json().get("order_no")))
        return out

    results = [item for batch in run_together(8, create_three) for item in batch]
    assert [status for status, _no in results] == [201] * 24
    numbers = {no for _status, no in results}
    assert len(numbers) == 24
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 24))  # no number skipped or reused
    with committing() as session:
        assert row_counts(session)["orders"] == 24


def test_the_same_external_ref_sent_twice_at_once_makes_one_order(live_app, live_people,
                                                                  committing):
    def send(i):
        return TestClient(live_app).post(ORDERS, json=order_body(external_ref="JD-5550001"),
                                         headers=live_people.headers(["alice", "grace"][i]))

    results = run_together(2, send)
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.headers["content-type"] == PROBLEM
    assert loser.json()["code"] == "duplicate_external_ref"
    with committing() as session:
        assert row_counts(session)["orders"] == 1
