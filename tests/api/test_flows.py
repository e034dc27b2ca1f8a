"""Flows over HTTP: list, read, validate, publish; running orders keep their version."""

from __future__ import annotations

import pytest

from tests.conftest import order_body, row_counts

FLOWS = "/api/v1/flows"
ORDERS = "/api/v1/orders"
YAML = {"Content-Type": "application/yaml"}


def source_of(client, people, flow_id, version=None):
    params = {"version": version} if version else {}
    r = client.get(f"{FLOWS}/{flow_id}", params=params, headers=people.headers("vera"))
    assert r.status_code == 200, r.text
    return r.json()["source"]


def stricter_make_to_order(client, people):
    """make_to_order where only a manager may accept an order, and review gets a new name."""
    src = source_of(client, people, "make_to_order")
    accept = "  - from: review\n    to: material_check\n    roles: [sales, manager]\n"
    assert accept in src
    src = src.replace(accept, accept.replace("[sales, manager]", "[manager]"))
    return src.replace("{en: Order review, zh: 订单评审}", "{en: Contract review, zh: 合同评审}")


def test_list_shows_the_latest_version_of_every_flow(client, people):
    r = client.get(FLOWS, headers=people.headers("vera"))
    assert r.status_code == 200
    items = {f["id"]: f for f in r.json()["items"]}
    assert set(items) == {"retail", "make_to_order", "b2b_credit"}
    assert items["make_to_order"]["version"] == 1
    assert items["make_to_order"]["name"] == {"en": "Make to order", "zh": "按单生产"}
    assert items["make_to_order"]["stages"] == 11
    assert items["b2b_credit"]["name"]["zh"] == "B2B 信用审批"


def test_get_returns_definition_source_and_versions(client, people):
    r = client.get(f"{FLOWS}/b2b_credit", headers=people.headers("vera"))
    assert r.status_code == 200
    flow = r.json()
    assert (flow["id"], flow["version"], flow["versions"]) == ("b2b_credit", 1, [1])
    assert flow["source"].startswith("# B2B trade on credit")
    stages = {s["id"]: s for s in flow["definition"]["stages"]}
    levels = stages["credit_approval"]["approval"]["levels"]
    assert [lv["id"] for lv in levels] == ["finance_manager", "general_manager"]
    assert levels[1]["when"] == "total >= 200000"


@pytest.mark.parametrize("as_json", [False, True])
def test_validate_a_good_flow(client, people, as_json):
    src = source_of(client, people, "retail")
    if as_json:
        r = client.post(f"{FLOWS}/validate", json={"source": src},
                        headers=people.headers("vera"))
    else:
        r = client.post(f"{FLOWS}/validate", content=src.encode(),
                        headers=people.headers("vera", **YAML))
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "problems": []}


def test_validate_a_bad_flow_names_line_and_stage(client, people, db):
    src = source_of(client, people, "retail").replace(
        "  - from: picking\n    to: packed\n    roles: [warehouse]\n",
        "  - from: picking\n    to: boxed\n    roles: [warehouse, intern]\n")
    lines = src.splitlines()
    to_line = lines.index("    to: boxed") + 1
    roles_line = lines.index("    roles: [warehouse, intern]") + 1
    before = row_counts(db)
    r = client.post(f"{FLOWS}/validate", content=src, headers=people.headers("vera", **YAML))
    assert r.status_code == 200
    result = r.json()
    assert result["valid"] is False
    problems = {(p["line"], p["stage"]): p["message"] for p in result["problems"]}
    assert "boxed" in problems[(to_line, "picking")]
    assert "intern" in problems[(roles_line, "picking")]
    # With the picking -> packed step gone, packed can no longer be reached.
    packed_line = lines.index("  - id: packed") + 1
    assert "unreachable" in problems[(packed_line, "packed")]
    assert row_counts(db) == before
    assert client.get(f"{FLOWS}/retail", headers=people.headers("vera")).json()["versions"] == [1]


def test_publishing_needs_manager_or_admin(client, people, db):
    src = stricter_make_to_order(client, people)
    before = row_counts(db)
    for user in ("alice", "fiona", "vera"):
        r = client.post(f"{FLOWS}/make_to_order/versions", content=src,
                        headers=people.headers(user, **YAML))
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "admin, manager" in r.json()["detail"]
    assert row_counts(db) == before
    assert client.get(f"{FLOWS}/make_to_order", headers=people.headers("vera")).json()[
        "versions"] == [1]
    r = client.post(f"{FLOWS}/make_to_order/versions", content=src,
                    headers=people.headers("root", **YAML))
    assert r.status_code == 201 and r.json()["version"] == 2


def test_a_new_version_applies_to_new_orders_only(client, people, clock):
    old_no = client.post(ORDERS, json=order_body(), headers=people.headers("alice")).json()[
        "order_no"]

    r = client.post(f"{FLOWS}/make_to_order/versions", json={
        "source": stricter_make_to_order(client, people)}, headers=people.headers("grace"))
    assert r.status_code == 201, r.text
    published = r.json()
    assert (published["id"], published["version"], published["versions"]) == (
        "make_to_order", 2, [1, 2])
    assert published["definition"]["version"] == 2  # the document's 'version: 1' is not kept
    listed = {f["id"]: f for f in client.get(FLOWS, headers=people.headers("vera")).json()[
        "items"]}
    assert listed["make_to_order"]["version"] == 2
    stricter = "  - from: review\n    to: material_check\n    roles: [manager]\n"
    assert stricter not in source_of(client, people, "make_to_order", version=1)
    assert stricter in source_of(client, people, "make_to_order")

    new = client.post(ORDERS, json=order_body(), headers=people.headers("alice")).json()
    assert new["flow_version"] == 2
    assert new["stage_name"]["en"] == "Contract review"
    old = client.get(f"{ORDERS}/{old_no}", headers=people.headers("vera")).json()
    assert old["flow_version"] == 1 and old["stage_name"]["en"] == "Order review"

    # The old order follows version 1: sales may still accept it.
    r = client.post(f"{ORDERS}/{old_no}/transitions", json={"to": "material_check"},
                    headers=people.headers("alice"))
    assert r.status_code == 200 and r.json()["flow_version"] == 1
    # The new order follows version 2: only a manager may.
    r = client.post(f"{ORDERS}/{new['order_no']}/transitions", json={"to": "material_check"},
                    headers=people.headers("alice"))
    assert r.status_code == 403 and "manager" in r.json()["detail"]
    assert "Contract review" in r.json()["detail"]
    [step] = client.get(f"{ORDERS}/{new['order_no']}/transitions",
                        headers=people.headers("alice")).json()["items"]
    assert step["allowed"] is False
    r = client.post(f"{ORDERS}/{new['order_no']}/transitions", json={"to": "material_check"},
                    headers=people.headers("grace"))
    assert r.status_code == 200

    created = client.get(f"{ORDERS}/{new['order_no']}/timeline",
                         headers=people.headers("vera")).json()["items"][0]
    assert created["data"] == {"flow_version": 2}


def test_publishing_again_makes_version_three(client, people):
    src = stricter_make_to_order(client, people)
    for expected in (2, 3):
        r = client.post(f"{FLOWS}/make_to_order/versions", content=src,
                        headers=people.headers("grace", **YAML))
        assert r.status_code == 201 and r.json()["version"] == expected
    flow = client.get(f"{FLOWS}/make_to_order", params={"version": 2},
                      headers=people.headers("vera")).json()
    assert (flow["version"], flow["versions"]) == (2, [1, 2, 3])


def test_a_brand_new_flow_can_be_published_and_used(client, people):
    src = """\
id: sample_request
version: 1
name: {en: Sample request, zh: 样品申请}
create:
  roles: [sales]
stages:
  - id: requested
    name: {en: Requested, zh: 已申请}
    responsible: sales
  - id: sent
    name: {en: Sent, zh: 已寄出}
    kind: terminal
transitions:
  - from: requested
    to: sent
    roles: [warehouse]
"""
    r = client.post(f"{FLOWS}/sample_request/versions", content=src,
                    headers=people.headers("grace", **YAML))
    assert r.status_code == 201, r.text
    r = client.post(ORDERS, json=order_body(flow="sample_request"),
                    headers=people.headers("alice"))
    assert r.status_code == 201 and r.json()["stage"] == "requested"
    no = r.json()["order_no"]
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "sent"},
                    headers=people.headers("wang"))
    assert (r.status_code, r.json()["status"]) == (200, "completed")
