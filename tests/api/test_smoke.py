"""The shortest path a new user takes: create an order and move it through review."""

from tests.conftest import order_body


def test_create_and_advance_through_review(client, people):
    r = client.post("/api/v1/orders", json=order_body(), headers=people.headers("alice"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["flow"] == "make_to_order" and order["stage"] == "review"
    assert order["order_no"].startswith("SO20261120-")
    r = client.post(f"/api/v1/orders/{order['order_no']}/transitions",
                    json={"to": "material_check", "note": "checked"},
                    headers=people.headers("alice"))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "material_check"
    tl = client.get(f"/api/v1/orders/{order['order_no']}/timeline",
                    headers=people.headers("vera")).json()["items"]
    assert [(i["kind"], i["actor"], i["role"], i["to_stage"]) for i in tl] == [
        ("created", "alice", "sales", "review"),
        ("transition", "alice", "sales", "material_check"),
    ]
    assert tl[1]["note"] == "checked"
