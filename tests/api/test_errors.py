"""Bad input: always a 4xx problem+json that names the problem, never a 500, nothing written."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import order_body, row_counts

ORDERS = "/api/v1/orders"
PROBLEM = "application/problem+json"


@pytest.fixture
def order_no(client, people):
    r = client.post(ORDERS, json=order_body(), headers=people.headers("alice"))
    assert r.status_code == 201
    return r.json()["order_no"]


def body_with(path, value):
    """order_body() with one value replaced (path like 'lines.0.qty'); DELETE removes it."""
    body = copy.deepcopy(order_body())
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is DELETE:
        del target[last]
    else:
        target[last] = value
    return body


DELETE = object()


def check(r, status, code=None, mentions=()):
    """The response is a problem of this status that names what is wrong."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://ordertrail.dev/problems/")
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in r.text
    if code:
        assert problem["code"] == code
    for word in mentions:
        assert word in problem["detail"], (word, problem["detail"])
    return problem


@pytest.fixture
def unchanged(db):
    """Asserts at the end of the test that no order, timeline row or event was written."""
    holder = {}

    def start():
        holder["before"] = row_counts(db)

    yield start
    assert "before" in holder, "call unchanged() after the setup"
    assert row_counts(db) == holder["before"]


# Malformed and invalid bodies -------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"flow": "make_to_order",', b"not json", b'{"a": 1}}',
                                 b"\xff\xfe"])
def test_malformed_json_is_400(client, people, unchanged, raw):
    unchanged()
    r = client.post(ORDERS, content=raw, headers=people.headers(
        "alice", **{"Content-Type": "application/json"}))
    check(r, 400, "malformed_json", ["not valid JSON"])


INVALID_BODIES = [
    # (what, body, field named in the problem)
    ("unknown field", dict(order_body(), colour="red"), "colour"),
    ("unknown nested field", body_with("customer.wechat", "zw"), "customer.wechat"),
    ("unknown line field", body_with("lines.0", {"sku": "A", "name": "A", "qty": 1,
                                                 "unit_price": 1, "weight": 3}),
     "lines[0].weight"),
    ("qty is text", body_with("lines.0.qty", "two"), "lines[0].qty"),
    ("lines is an object", body_with("lines", {"sku": "A"}), "lines"),
    ("customer is a string", body_with("customer", "张伟"), "customer"),
    ("priority unknown", body_with("priority", "asap"), "priority"),
    ("tags is a string", body_with("tags", "vip"), "tags"),
    ("custom is a list", body_with("custom", [1, 2]), "custom"),
    ("body is a list", [order_body()], "body"),
    ("missing customer", body_with("customer", DELETE), "customer"),
    ("missing flow", body_with("flow", DELETE), "flow"),
    ("missing customer name", body_with("customer.name", DELETE), "customer.name"),
    ("missing line price", body_with("lines.0", {"sku": "A", "name": "A", "qty": 1}),
     "lines[0].unit_price"),
    ("no lines", body_with("lines", []), "lines"),
    ("zero qty", body_with("lines.0.qty", 0), "lines[0].qty"),
    ("negative qty", body_with("lines.0.qty", -2), "lines[0].qty"),
    ("NaN qty", body_with("lines.0.qty", "NaN"), "lines[0].qty"),
    ("negative price", body_with("lines.0.unit_price", "-0.01"), "lines[0].unit_price"),
    ("negative shipping", body_with("shipping_fee", -5), "shipping_fee"),
    ("negative discount", body_with("discount", "-1"), "discount"),
    ("too many decimals", body_with("lines.0.unit_price", "1.00001"), "lines[0].unit_price"),
    ("naive promised_at", body_with("promised_at", "2026-12-01T10:00:00"), "promised_at"),
    ("date-only promised_at", body_with("promised_at", "2026-12-01"), "promised_at"),
    ("not a time", body_with("promised_at", "next tuesday"), "promised_at"),
    ("bad currency", body_with("currency", "yuan"), "currency"),
    ("bad country", body_with("customer.country", "China"), "customer.country"),
    ("bad phone", body_with("customer.phone", "call me"), "customer.phone"),
    ("bad email", body_with("customer.email", "zhang at example"), "customer.email"),
    ("empty name", body_with("customer.name", "   "), "customer.name"),
    # Oversized input.
    ("name too long", body_with("customer.name", "张" * 201), "customer.name"),
    ("note too long", dict(order_body(), note="x" * 2001), "note"),
    ("too many lines", body_with("lines", [{"sku": f"S{i}", "name": "n", "qty": 1,
                                            "unit_price": 1} for i in range(1001)]), "lines"),
    ("too many tags", body_with("tags", [f"t{i}" for i in range(31)]), "tags"),
    ("too many custom fields", body_with("custom", {f"k{i}": i for i in range(51)}), "custom"),
    ("qty too large", body_with("lines.0.qty", "1e15"), "lines[0].qty"),
    ("external ref too long", dict(order_body(), external_ref="R" * 129), "external_ref"),
]


@pytest.mark.parametrize(("what", "body", "field"), INVALID_BODIES,
                         ids=[case[0] for case in INVALID_BODIES])
def test_invalid_order_bodies_are_422_naming_the_field(client, people, unchanged, what, body,
                                                       field):
    unchanged()
    r = client.post(ORDERS, json=body, headers=people.headers("alice"))
    problem = check(r, 422, "validation_failed")
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields, (what, problem["errors"])
    assert problem["detail"].startswith(fields[0] + ": ")
    if what.startswith("unknown"):
        assert {"field": field, "message": "unknown field"} in problem["errors"]
    if what.startswith("missing"):
        assert {"field": field, "message": "field required"} in problem["errors"]


def test_every_invalid_field_is_listed(client, people, unchanged):
    unchanged()
    body = body_with("lines.0.qty", 0)
    body["priority"] = "asap"
    body["colour"] = "red"
    problem = check(client.post(ORDERS, json=body, headers=people.headers("alice")), 422)
    assert {e["field"] for e in problem["errors"]} == {"lines[0].qty", "priority", "colour"}
    assert "(and 2 more)" in problem["detail"]


def test_amounts_too_large_to_store_are_refused(client, people, unchanged):
    unchanged()
    body = body_with("lines.0", {"sku": "A", "name": "A", "qty": "999999999999.999",
                                 "unit_price": "999999999999.9999"})
    check(client.post(ORDERS, json=body, headers=people.headers("alice")), 422,
          "amount_too_large", ["too large"])
    many = body_with("lines", [{"sku": "A", "name": "A", "qty": "1000000",
                                "unit_price": "9999999999"}] * 2)
    check(client.post(ORDERS, json=many, headers=people.headers("alice")), 422,
          "amount_too_large")


def test_discount_larger_than_the_total(client, people, unchanged, order_no):
    unchanged()
    r = client.post(ORDERS, json=order_body(discount="300", shipping_fee="10"),
                    headers=people.headers("alice"))
    check(r, 409, "negative_total", ["300.00", "209.00"])
    r = client.patch(f"{ORDERS}/{order_no}", json={"discount": "199.01"},
                     headers=people.headers("alice"))
    check(r, 409, "negative_total")


def test_invalid_edits(client, people, unchanged, order_no):
    unchanged()
    url = f"{ORDERS}/{order_no}"
    check(client.patch(url, json={"order_no": "SO1"}, headers=people.headers("alice")), 422,
          "validation_failed")
    check(client.patch(url, json={"stage": "closed"}, headers=people.headers("alice")), 422,
          "validation_failed")
    check(client.patch(url, json={"lines": []}, headers=people.headers("alice")), 422,
          "validation_failed")
    check(client.patch(url, json={"promised_at": "2026-12-01 10:00"},
                       headers=people.headers("alice")), 422, "validation_failed")
    check(client.patch(url, json={"lines": [{"sku": "A", "name": "A", "qty": "1e12",
                                             "unit_price": "99999999999"}]},
                       headers=people.headers("alice")), 422)


# Unknown things ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("GET", "", None),
    ("PATCH", "", {"priority": "high"}),
    ("GET", "/timeline", None),
    ("GET", "/transitions", None),
    ("POST", "/transitions", {"to": "material_check"}),
    ("POST", "/approvals", {"decision": "approve"}),
    ("POST", "/hold", {"note": "x"}),
    ("POST", "/resume", {}),
    ("POST", "/cancel", {"note": "x"}),
])
def test_unknown_order_is_404(client, people, unchanged, method, suffix, body):
    unchanged()
    r = client.request(method, f"{ORDERS}/SO20990101-99999{suffix}", json=body,
                       headers=people.headers("grace"))
    check(r, 404, "unknown_order", ["SO20990101-99999"])


def test_unknown_flow_is_404_naming_the_known_flows(client, people, unchanged):
    unchanged()
    r = client.post(ORDERS, json=order_body(flow="dropship"), headers=people.headers("alice"))
    check(r, 404, "unknown_flow", ["dropship", "b2b_credit", "make_to_order", "retail"])
    r = client.get("/api/v1/flows/dropship", headers=people.headers("vera"))
    check(r, 404, "unknown_flow", ["dropship", "make_to_order"])
    r = client.get("/api/v1/flows/retail", params={"version": 7},
                   headers=people.headers("vera"))
    check(r, 404, "unknown_flow", ["retail version 7"])


def test_illegal_transitions(client, people, unchanged, order_no):
    unchanged()
    url = f"{ORDERS}/{order_no}"
    check(client.post(f"{url}/transitions", json={"to": "paid"},
                      headers=people.headers("alice")), 409, "no_such_transition",
          ["Paid", "Material check"])
    check(client.post(f"{url}/transitions", json={"to": "nowhere"},
                      headers=people.headers("alice")), 422, "unknown_stage", ["nowhere"])
    check(client.post(f"{url}/transitions", json={"to": ""},
                      headers=people.headers("alice")), 422, "validation_failed", ["to"])
    check(client.post(f"{url}/transitions", json={},
                      headers=people.headers("alice")), 422, "validation_failed", ["to"])
    check(client.post(f"{url}/approvals", json={"decision": "approve"},
                      headers=people.headers("grace")), 409, "not_awaiting_approval")
    check(client.post(f"{url}/resume", json={}, headers=people.headers("grace")), 409,
          "not_on_hold")
    check(client.post(f"{url}/transitions", json={"to": "material_check"},
                      headers=people.headers("vera")), 403, "role_not_allowed", ["viewer"])


# Flows ------------------------------------------------------------------------------------

BAD_FLOW = """\
id: make_to_order
version: 1
name: {en: Make to order, zh: 按单生产}
stages:
  - id: review
    name: {en: Review, zh: 评审}
    responsible: sales
  - id: production
    name: {en: Production, zh: 生产}
    responsible: wizard
  - id: done
    kind: terminal
transitions:
  - from: review
    to: shipping
    roles: [sales]
  - from: production
    to: done
    roles: [production]
    when: total >>> 5
"""


def test_publishing_an_invalid_flow_is_422_listing_line_and_stage(client, people, unchanged):
    unchanged()
    r = client.post("/api/v1/flows/make_to_order/versions", content=BAD_FLOW,
                    headers=people.headers("grace", **{"Content-Type": "application/yaml"}))
    problem = check(r, 422, "flow_invalid", ["problem"])
    found = {(p["line"], p["stage"]) for p in problem["problems"]}
    assert (10, "production") in found  # unknown role 'wizard'
    assert (15, "review") in found  # transition to unknown stage 'shipping'
    assert (20, "production") in found  # bad expression
    assert all(p["message"] for p in problem["problems"])
    versions = client.get("/api/v1/flows/make_to_order", headers=people.headers("vera")).json()
    assert versions["versions"] == [1]


@pytest.mark.parametrize(("content", "ctype", "code"), [
    (b"stages: [", "application/yaml", "flow_invalid"),
    (b"- just\n- a list\n", "application/yaml", "flow_invalid"),
    (b'{"source": ""}', "application/json", "bad_flow_body"),
    (b'{"yaml": "id: x"}', "application/json", "bad_flow_body"),
    (b"{not json", "application/json", "bad_flow_body"),
    (b"\xff\xfe\x00", "application/yaml", "bad_encoding"),
])
def test_unusable_flow_documents_are_refused(client, people, unchanged, content, ctype, code):
    unchanged()
    r = client.post("/api/v1/flows/make_to_order/versions", content=content,
                    headers=people.headers("grace", **{"Content-Type": ctype}))
    check(r, 422, code)
    if code == "flow_invalid":
        assert r.json()["problems"][0]["line"] == 1
    r = client.post("/api/v1/flows/validate", content=content,
                    headers=people.headers("vera", **{"Content-Type": ctype}))
    if code == "flow_invalid":
        assert r.status_code == 200 and r.json()["valid"] is False
    else:
        check(r, 422, code)


def test_publishing_a_document_of_another_flow_is_refused(client, people, unchanged):
    unchanged()
    source = client.get("/api/v1/flows/retail", headers=people.headers("vera")).json()["source"]
    r = client.post("/api/v1/flows/make_to_order/versions", content=source,
                    headers=people.headers("grace", **{"Content-Type": "application/yaml"}))
    check(r, 422, "flow_invalid", ["retail", "make_to_order"])


# Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "missing_api_key"),
    ({"Authorization": ""}, "missing_api_key"),
    ({"Authorization": "Bearer "}, "missing_api_key"),
    ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "missing_api_key"),
    ({"Authorization": "Bearer hunter2"}, "bad_api_key"),
    ({"Authorization": "Bearer ot_000000000000_" + "A" * 43}, "bad_api_key"),
])
def test_missing_unknown_or_malformed_api_key_is_401(client, people, unchanged, headers, code):
    unchanged()
    for method, url, body in (("POST", ORDERS, order_body()), ("GET", ORDERS, None),
                              ("GET", "/api/v1/me", None), ("GET", "/api/v1/flows", None)):
        r = client.request(method, url, json=body, headers=headers)
        check(r, 401, code)


def test_a_real_key_with_a_wrong_secret_is_401(client, people, unchanged):
    unchanged()
    key = people.keys["alice"]
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")  # right prefix, wrong secret
    r = client.post(ORDERS, json=order_body(), headers={"Authorization": f"Bearer {forged}"})
    check(r, 401, "bad_api_key")


def test_authentication_comes_before_body_validation(client, unchanged):
    unchanged()
    r = client.post(ORDERS, json={"flow": 1}, headers={"Authorization": "Bearer nope"})
    check(r, 401)


# Other limits -----------------------------------------------------------------------------


def test_oversized_idempotency_key_is_refused(client, people, unchanged):
    unchanged()
    r = client.post(ORDERS, json=order_body(), headers=people.headers(
        "alice", **{"Idempotency-Key": "k" * 256}))
    check(r, 422, "bad_idempotency_key", ["255"])


def test_unknown_route_is_a_404_problem(client, people):
    r = client.get("/api/v1/no-such-thing", headers=people.headers("vera"))
    check(r, 404, "not_found", ["/api/v1/no-such-thing"])
    r = client.get("/api/v2/orders")
    check(r, 404, "not_found")


def test_wrong_method_is_a_405_problem(client, people, unchanged, order_no):
    unchanged()
    r = client.delete(f"{ORDERS}/{order_no}", headers=people.headers("grace"))
    problem = check(r, 405, "method_not_allowed", ["DELETE", "GET"])
    assert "GET" in r.headers["allow"]
    r = client.put(ORDERS, json=order_body(), headers=people.headers("alice"))
    check(r, 405, "method_not_allowed", ["PUT"])
    assert problem["instance"] == f"{ORDERS}/{order_no}"
