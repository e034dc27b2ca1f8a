"""The billing HTTP API: issue, pay, import (text/csv and multipart), summary, aging, roles,
and problems that name the amounts."""

from __future__ import annotations

from tests.conftest import order_body


def _order(client, people, total="1000.00", **body):
    body.setdefault("lines", [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 10,
                               "unit_price": str(float(total) / 10)}])
    r = client.post("/api/v1/orders", json=order_body("make_to_order", **body),
                    headers=people.headers("alice"))
    assert r.status_code == 201, r.text
    return r.json()["order_no"]


def test_issue_pay_and_summary(client, people):
    no = _order(client, people)
    fiona = people.headers("fiona")
    r = client.post("/api/v1/invoices", json={"order_no": no, "amount": "600.00",
                                              "terms": "EOM 30"}, headers=fiona)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert (inv["amount"], inv["status"], inv["terms"], inv["due_date"]) == (
        "600.00", "open", "EOM 30", "2026-12-30")
    r = client.post("/api/v1/invoices", json={"order_no": no, "amount": "500"}, headers=fiona)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "invoice_above_total"
    assert "1100.00" in problem["detail"] and "1000.00" in problem["detail"]
    assert problem["total"] == "1000.00" and problem["invoiced"] == "600.00"
    r = client.post("/api/v1/invoices", json={"order_no": no, "amount": "500"},
                    headers={**fiona, "Accept-Language": "zh-CN"})
    assert "超过" in r.json()["detail"]
    pay = {"order_no": no, "amount": "250.00", "method": "wechat", "reference": "WX-1",
           "payer": "张伟"}
    r = client.post("/api/v1/payments", json=pay, headers=fiona)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["allocations"][0]["invoice"] == inv["number"] and not first["duplicate"]
    again = client.post("/api/v1/payments", json=pay, headers=fiona).json()
    assert again["duplicate"] and again["id"] == first["id"]
    r = client.post("/api/v1/payments", json={**pay, "reference": "WX-2", "amount": "800"},
                    headers=fiona)
    assert r.status_code == 422 and r.json()["code"] == "over_payment"
    assert "750.00" in r.json()["detail"]
    summary = client.get(f"/api/v1/orders/{no}/billing", headers=people.headers("vera"))
    assert summary.status_code == 200
    s = summary.json()
    assert (s["total"], s["invoiced"], s["paid"], s["outstanding"], s["not_invoiced"]) == (
        "1000.00", "600.00", "250.00", "750.00", "400.00")
    assert len(s["payments"]) == 1 and s["invoices"][0]["status"] == "partially_paid"
    got = client.get(f"/api/v1/invoices/{inv['number']}", headers=people.headers("wang"))
    assert got.json()["paid_amount"] == "250.00"
    listed = client.get("/api/v1/invoices", params={"order_no": no, "status":
                                                    "partially_paid"},
                        headers=people.headers("vera")).json()
    assert [i["number"] for i in listed["items"]] == [inv["number"]]
    payments = client.get("/api/v1/payments", params={"reference": "WX-1"},
                          headers=people.headers("vera")).json()
    assert [p["id"] for p in payments["items"]] == [first["id"]]
    aging = client.get("/api/v1/receivables/aging", params={"as_of": "2026-11-20"},
                       headers=people.headers("vera")).json()
    assert aging["totals"][0]["current"] == "350.00"


def test_roles_and_unknowns(client, people):
    no = _order(client, people)
    r = client.post("/api/v1/invoices", json={"order_no": no}, headers=people.headers("alice"))
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"
    r = client.post("/api/v1/invoices", json={"order_no": no}, headers=people.headers("grace"))
    assert r.status_code == 201
    number = r.json()["number"]
    assert client.post(f"/api/v1/invoices/{number}/void", json={"reason": "typo"},
                       headers=people.headers("vera")).status_code == 403
    r = client.post(f"/api/v1/invoices/{number}/void", json={"reason": "typo"},
                    headers=people.headers("root"))
    assert r.status_code == 200 and r.json()["status"] == "void"
    assert client.get("/api/v1/invoices/INV-NOPE",
                      headers=people.headers("vera")).status_code == 404
    assert client.get("/api/v1/orders/SO-NOPE/billing",
                      headers=people.headers("vera")).status_code == 404
    r = client.post("/api/v1/payments", json={"order_no": no, "amount": "1", "currency": "USD"},
                    headers=people.headers("fiona"))
    assert r.status_code == 422 and r.json()["code"] == "wrong_currency"
    r = client.post("/api/v1/payments", json={"order_no": no, "amount": "1",
                                              "method": "bitcoin"},
                    headers=people.headers("fiona"))
    assert r.status_code == 422


def test_import_csv_body_and_multipart(client, people):
    no = _order(client, people)
    fiona = people.headers("fiona")
    text = ("交易时间,收入金额,交易流水号,备注,对方户名\n"
            f"2026-11-19 09:00,\"¥400.00\",B-1,货款 {no},甲\n")
    r = client.post("/api/v1/payments/import", params={"dry_run": "true"},
                    content=text.encode(), headers={**fiona, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["status"] == "would_apply"
    assert client.get(f"/api/v1/orders/{no}/billing", headers=fiona).json()["paid"] == "0.00"
    r = client.post("/api/v1/payments/import", headers=fiona,
                    files={"file": ("bank.csv", text.encode("gb18030"), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["applied"], report["import_id"] is not None) == (1, True)
    r = client.post("/api/v1/payments/import", headers={**fiona, "Content-Type": "text/csv"},
                    content=text.encode())
    assert r.json()["duplicates"] == 1
    r = client.post("/api/v1/payments/import", headers={**fiona, "Content-Type": "text/csv"},
                    content=b"date,amount\n2026-11-19,1\n")
    assert r.status_code == 422 and r.json()["code"] == "missing_columns"
    assert client.get(f"/api/v1/orders/{no}/billing", headers=fiona).json()["paid"] == "400.00"


def test_openapi_documents_billing(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/invoices", "/api/v1/invoices/{number}",
                 "/api/v1/invoices/{number}/void", "/api/v1/payments",
                 "/api/v1/payments/import", "/api/v1/orders/{order_no}/billing",
                 "/api/v1/receivables/aging"):
        assert path in paths, path
    imp = paths["/api/v1/payments/import"]["post"]
    assert {"text/csv", "multipart/form-data"} <= set(imp["requestBody"]["content"])
    assert "422" in imp["responses"] and "409" in paths["/api/v1/payments"]["post"]["responses"]
    assert "InvoiceRead" in spec["components"]["schemas"]
