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


def test_an_edit_under_approval_restarts_the_round(client, people):
    """Approvers approved the order as it was: a discount after the first approval means
    the levels are decided again, and the order can never be stuck with no level pending."""
    body = order_body("b2b_credit", lines=[{"sku": "STEEL", "name": "Steel coil", "qty": 21,
                                            "unit_price": "10000"}])
    no = client.post("/api/v1/orders", json=body, headers=people.headers("alice")).json()[
        "order_no"]
    assert client.post(f"/api/v1/orders/{no}/transitions", json={"to": "credit_approval"},
                       headers=people.headers("alice")).status_code == 200
    r = client.post(f"/api/v1/orders/{no}/approvals", json={"decision": "approve"},
                    headers=people.headers("fiona"))
    assert r.json()["approval"]["position"] == 2
    r = client.patch(f"/api/v1/orders/{no}", json={"discount": "20000", "note": "rebate"},
                     headers=people.headers("alice"))
    assert r.status_code == 200, r.text
    assert r.json()["total"] == "190000.00"
    approval = r.json()["approval"]
    assert (approval["position"], approval["levels"], approval["approvals"]) == (1, 1, [])
    r = client.post(f"/api/v1/orders/{no}/approvals", json={"decision": "approve"},
                    headers=people.headers("fiona"))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "picking"
    kinds = [i["kind"] for i in client.get(f"/api/v1/orders/{no}/timeline",
                                           headers=people.headers("vera")).json()["items"]]
    assert kinds.count("approval") == 2 and "approval_restarted" in kinds


def test_a_huge_body_is_refused_with_413_and_nothing_written(client, people, db):
    from tests.conftest import row_counts

    before = row_counts(db)
    body = order_body(custom={"blob": "x" * 2_000_000})
    r = client.post("/api/v1/orders", json=body, headers=people.headers("alice"))
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert row_counts(db) == before


def test_one_person_decides_one_level_of_an_approval(client, people, db, clock, settings):
    """Four eyes: someone holding finance and manager roles cannot approve both levels."""
    from ordertrail.auth import service as auth

    boss = auth.create_user(db, "boss", ["finance", "manager"], clock)
    key = auth.create_api_key(db, boss, clock)[1]
    db.commit()
    body = order_body("b2b_credit", lines=[{"sku": "S", "name": "Steel", "qty": 30,
                                            "unit_price": "10000"}])
    no = client.post("/api/v1/orders", json=body, headers=people.headers("alice")).json()[
        "order_no"]
    client.post(f"/api/v1/orders/{no}/transitions", json={"to": "credit_approval"},
                headers=people.headers("alice"))
    boss_h = {"Authorization": f"Bearer {key}"}
    assert client.post(f"/api/v1/orders/{no}/approvals", json={"decision": "approve"},
                       headers=boss_h).status_code == 200
    r = client.post(f"/api/v1/orders/{no}/approvals", json={"decision": "approve"},
                    headers=boss_h)
    assert r.status_code == 409 and r.json()["code"] == "four_eyes"
    r = client.post(f"/api/v1/orders/{no}/approvals", json={"decision": "approve"},
                    headers=people.headers("grace"))
    assert r.json()["stage"] == "picking"


def test_patching_one_customer_field_keeps_the_others(client, people):
    no = client.post("/api/v1/orders", json=order_body(), headers=people.headers("alice")).json()[
        "order_no"]
    r = client.patch(f"/api/v1/orders/{no}", json={"customer": {"city": "广州"}},
                     headers=people.headers("alice"))
    assert r.status_code == 200, r.text
    c = r.json()["customer"]
    assert (c["name"], c["city"], c["phone"]) == ("张伟", "广州", "13800138000")


def test_docs_work_offline_and_offer_the_bearer_key(client):
    """/docs loads its assets from this server (closed intranets) and has an Authorize box."""
    page = client.get("/docs").text
    assert "/static-offline-docs/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/orders"]["post"]["security"] == [{"apiKey": []}]


def test_revoked_keys_and_deactivated_users_are_refused(client, people, db, clock, engine,
                                                        settings):
    from ordertrail.app import create_app
    from ordertrail.auth import service as auth

    auth.revoke_api_key(db, people.keys["alice"], clock)
    auth.deactivate_user(db, "sam")
    db.commit()
    # a fresh app: no cached authentication
    app = create_app(settings, state=client.app.state.ot)
    from fastapi.testclient import TestClient

    with TestClient(app) as fresh:
        r = fresh.get("/api/v1/me", headers=people.headers("alice"))
        assert r.status_code == 401 and r.json()["code"] == "revoked_api_key"
        r = fresh.get("/api/v1/me", headers=people.headers("sam"))
        assert r.status_code == 401 and r.json()["code"] == "inactive_user"
        assert fresh.get("/api/v1/me", headers=people.headers("vera")).status_code == 200
