"""The production API: work centers, routings, work orders through QC, roles and problems."""

from __future__ import annotations

from tests.production.conftest import catalog, mto_order, product

PROBLEM = "application/problem+json"


def _problem(r, status, word=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    if word:
        assert word in r.json()["detail"], r.json()


def test_work_centers_and_routings(client, people, db):
    catalog(db)
    pete, vera = people.headers("pete"), people.headers("vera")
    r = client.post("/api/v1/work-centers", headers=pete,
                    json={"code": "CUT", "name": "Cutting", "capacity": 2})
    assert r.status_code == 201 and r.json()["calendar"] == "cn"
    _problem(client.post("/api/v1/work-centers", headers=pete,
                         json={"code": "CUT", "name": "again"}), 409, "CUT")
    _problem(client.post("/api/v1/work-centers", headers=pete,
                         json={"code": "Z", "name": "z", "capacity": 0}), 422)
    _problem(client.post("/api/v1/work-centers", headers=vera,
                         json={"code": "V", "name": "v"}), 403)
    assert [c["code"] for c in client.get("/api/v1/work-centers", headers=vera
                                          ).json()["items"]] == ["CUT"]
    default = client.get("/api/v1/routings/GEARBOX", headers=vera).json()
    assert default["default"] and default["steps"][0]["work_center"] == "ASSEMBLY"
    body = {"steps": [{"name": "Cut", "work_center": "CUT", "setup_minutes": 15,
                       "minutes_per_unit": "2.5"}]}
    put = client.put("/api/v1/routings/GEARBOX", headers=pete, json=body)
    assert put.status_code == 200 and put.json()["steps"][0]["minutes_per_unit"] == "2.500"
    assert not client.get("/api/v1/routings/GEARBOX", headers=vera).json()["default"]
    _problem(client.put("/api/v1/routings/NOPE", headers=pete, json=body), 404, "NOPE")
    _problem(client.get("/api/v1/routings/NOPE", headers=vera), 404)
    _problem(client.put("/api/v1/routings/GEARBOX", headers=pete, json={"steps": [
        {"name": "x", "work_center": "NOWHERE"}]}), 404, "NOWHERE")
    _problem(client.put("/api/v1/routings/GEARBOX", headers=pete, json={"steps": []}), 422)
    _problem(client.put("/api/v1/routings/GEARBOX", headers=vera, json=body), 403)


def test_a_work_order_through_steps_complete_and_qc(client, people, db, alice):
    # A custom line (not a stocked product): nothing is issued or received, no inventory.
    product(db, "GEARBOX", mto=True)
    order = mto_order(alice, [
        {"sku": "GEARBOX", "name": "Gearbox", "qty": 1, "unit_price": "9.00"},
        {"sku": "CUSTOM-1", "name": "Custom bracket", "qty": 4, "unit_price": "1.00"}])
    no = order.order_no
    pete, vera = people.headers("pete"), people.headers("vera")
    _problem(client.post("/api/v1/work-orders", headers=pete,
                         json={"order_no": no, "line_no": 2, "qty": 0}), 422)
    _problem(client.post("/api/v1/work-orders", headers=pete,
                         json={"order_no": no, "line_no": 2, "qty": "-1"}), 422)
    _problem(client.post("/api/v1/work-orders", headers=people.headers("alice"),
                         json={"order_no": no, "line_no": 2}), 403)
    _problem(client.post("/api/v1/work-orders", headers=pete,
                         json={"order_no": "SO-NONE", "line_no": 2}), 404)
    made = client.post("/api/v1/work-orders", headers=pete, json={"order_no": no, "line_no": 2})
    assert made.status_code == 201, made.text
    wo = made.json()
    assert (wo["sku"], wo["qty"], wo["status"]) == ("CUSTOM-1", "4.000", "planned")
    assert wo["steps"][0]["name"] == "Assembly" and wo["components"] == []
    assert wo["schedule"]["planned_finish"] == wo["planned_finish"]
    _problem(client.post("/api/v1/work-orders", headers=pete,
                         json={"order_no": no, "line_no": 2}), 409, "already")
    plan = client.post(f"/api/v1/orders/{no}/work-orders", headers=pete).json()
    assert [w["sku"] for w in plan["work_orders"]] == ["GEARBOX"]
    base = f"/api/v1/work-orders/{wo['id']}"
    _problem(client.post(f"{base}/qc", headers=pete, json={"result": "pass"}), 409, "planned")
    _problem(client.post(f"{base}/start", headers=vera), 403)
    assert client.post(f"{base}/start", headers=pete).json()["status"] == "in_progress"
    _problem(client.post(f"{base}/start", headers=pete), 409, "already started")
    _problem(client.post(f"{base}/complete", headers=pete), 409, "open steps")
    _problem(client.post(f"{base}/steps/7/complete", headers=pete), 404)
    step = client.post(f"{base}/steps/1/complete", headers=pete, json={"note": "ok"}).json()
    assert step["steps"][0]["done_by"] == "pete"
    assert client.post(f"{base}/complete", headers=pete).json()["status"] == "completed"
    _problem(client.post(f"{base}/qc", headers=pete, json={"result": "fail"}), 422, "note")
    _problem(client.post(f"{base}/qc", headers=pete, json={"result": "meh"}), 422)
    failed = client.post(f"{base}/qc", headers=pete,
                         json={"result": "fail", "note": "burr on edge"}).json()
    assert failed["status"] == "rework" and failed["rework_count"] == 1
    assert [(s["kind"], s["actual_finish"] is None) for s in failed["steps"]] == [
        ("routing", False), ("rework", True)]
    assert client.post(f"{base}/steps/2/complete", headers=pete).status_code == 200
    assert client.post(f"{base}/complete", headers=pete).json()["status"] == "completed"
    done = client.post(f"{base}/qc", headers=people.headers("grace"),
                       json={"result": "pass", "note": "fine"}).json()
    assert done["status"] == "done"
    assert [(q["result"], q["by"]) for q in done["qc"]] == [("fail", "pete"),
                                                          ("pass", "grace")]
    got = client.get(base, headers=vera).json()
    assert got["number"] == wo["number"] and got["order_no"] == no

    listed = client.get(f"/api/v1/work-orders?order_no={no}", headers=vera).json()["items"]
    assert [w["sku"] for w in listed] == ["GEARBOX", "CUSTOM-1"]
    only = client.get("/api/v1/work-orders?status=done", headers=vera).json()["items"]
    assert [w["id"] for w in only] == [wo["id"]]
    assert client.get("/api/v1/work-orders?late=true", headers=vera).json()["items"] == []
    page = client.get("/api/v1/work-orders?limit=1", headers=vera).json()
    assert page["next_cursor"]
    rest = client.get(f"/api/v1/work-orders?limit=1&cursor={page['next_cursor']}",
                      headers=vera).json()
    assert rest["items"][0]["id"] < page["items"][0]["id"]
    _problem(client.get("/api/v1/work-orders?status=sleeping", headers=vera), 422)
    _problem(client.get("/api/v1/work-orders/999999", headers=vera), 404)
    _problem(client.get("/api/v1/work-orders/0", headers=vera), 422)
    assert client.get("/api/v1/work-orders").status_code == 401


def test_problems_speak_chinese(client, people):
    r = client.get("/api/v1/work-orders/424242",
                   headers=people.headers("vera", **{"Accept-Language": "zh-CN"}))
    assert r.status_code == 404 and "生产工单" in r.json()["detail"]


def test_openapi_documents_the_production_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/work-orders", "/api/v1/work-orders/{wo_id}",
                 "/api/v1/work-orders/{wo_id}/start",
                 "/api/v1/work-orders/{wo_id}/steps/{seq}/complete",
                 "/api/v1/work-orders/{wo_id}/complete", "/api/v1/work-orders/{wo_id}/qc",
                 "/api/v1/work-centers", "/api/v1/routings/{sku}"):
        assert path in paths, path
    qc = paths["/api/v1/work-orders/{wo_id}/qc"]["post"]
    assert {"404", "409", "422"} <= set(qc["responses"])
    assert "WorkOrderDetail" in str(qc["responses"]["200"])
