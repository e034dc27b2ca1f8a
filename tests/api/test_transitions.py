"""Moving orders over HTTP: next steps, roles, conditions, approvals, hold, cancel, races."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import order_body, row_counts, run_together

ORDERS = "/api/v1/orders"
PROBLEM = "application/problem+json"
TIMELINE_KEYS = {"at", "kind", "actor", "role", "from_stage", "to_stage", "note", "source",
                 "data"}


def create(client, people, user="alice", **overrides):
    r = client.post(ORDERS, json=order_body(**overrides), headers=people.headers(user))
    assert r.status_code == 201, r.text
    return r.json()["order_no"]


def b2b(client, people, total):
    """A b2b_credit order whose total is ``total``."""
    return create(client, people, flow="b2b_credit", lines=[
        {"sku": "STEEL-COIL", "name": "Steel coil", "qty": 1, "unit_price": total}])


def post(client, people, user, order_no, action, **body):
    return client.post(f"{ORDERS}/{order_no}/{action}", json=body, headers=people.headers(user))


def move(client, people, user, order_no, to, **extra):
    return post(client, people, user, order_no, "transitions", to=to, **extra)


def get(client, people, order_no):
    r = client.get(f"{ORDERS}/{order_no}", headers=people.headers("vera"))
    assert r.status_code == 200
    return r.json()


def timeline(client, people, order_no):
    r = client.get(f"{ORDERS}/{order_no}/timeline", headers=people.headers("vera"))
    assert r.status_code == 200
    items = r.json()["items"]
    for item in items:
        assert set(item) == TIMELINE_KEYS
        assert item["source"] == "api"
    return items


def rows(items):
    return [(i["kind"], i["actor"], i["role"], i["from_stage"], i["to_stage"]) for i in items]


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == status and problem["code"] == code
    assert problem["type"].startswith("https://") and problem["title"] and problem["detail"]
    return problem


# Next steps ---------------------------------------------------------------------------------


def options(client, people, user, order_no, lang=None):
    headers = people.headers(user, **({"Accept-Language": lang} if lang else {}))
    r = client.get(f"{ORDERS}/{order_no}/transitions", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_next_steps_say_who_may_take_them(client, people):
    no = create(client, people)
    mine = options(client, people, "alice", no)
    assert (mine["order_no"], mine["stage"], mine["status"]) == (no, "review", "active")
    [step] = mine["items"]
    assert (step["to"], step["action"], step["allowed"], step["reason"], step["code"]) == (
        "material_check", "transition", True, None, None)
    assert step["label"] == {"en": "Accept order", "zh": "评审通过"}

    [step] = options(client, people, "wang", no)["items"]
    assert step["allowed"] is False and step["code"] == "role_not_allowed"
    assert step["reason"] == ("Your role may not move an order from Order review to Material "
                              "check: that needs sales, manager, and you have warehouse.")


def test_next_steps_in_chinese(client, people):
    no = create(client, people)
    [step] = options(client, people, "wang", no, lang="zh-CN,zh;q=0.9,en;q=0.5")["items"]
    assert step["allowed"] is False
    assert "订单评审" in step["reason"] and "物料齐套检查" in step["reason"]
    assert "sales、manager" in step["reason"] and "warehouse" in step["reason"]
    assert not any(word in step["reason"] for word in ("Your role", "needs"))
    # Refusals themselves are in the reader's language too.
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "material_check"},
                    headers=people.headers("wang", **{"Accept-Language": "zh-CN"}))
    assert r.status_code == 403 and "物料齐套检查" in r.json()["detail"]
    r = client.get(f"{ORDERS}/SO-NONE", headers=people.headers("wang", **{
        "Accept-Language": "zh-CN"}))
    assert r.status_code == 404 and r.json()["detail"] == "没有订单 SO-NONE。"


def test_next_steps_explain_an_unmet_condition(client, people):
    no = b2b(client, people, "1234.5")
    [step] = options(client, people, "alice", no)["items"]
    assert step["to"] == "credit_approval" and step["allowed"] is False
    assert step["code"] == "condition_not_met"
    assert "B2B orders on credit start at 5000" in step["reason"]
    assert "total >= 5000" in step["reason"] and "1234.50" in step["reason"]
    [step] = options(client, people, "alice", no, lang="zh-CN")["items"]
    assert "赊销订单金额须不低于 5000" in step["reason"] and "1234.50" in step["reason"]


def test_automatic_steps_are_marked(client, people):
    no = create(client, people, flow="retail")
    assert move(client, people, "alice", no, "picking").status_code == 200
    assert move(client, people, "wang", no, "packed").status_code == 200
    [step] = options(client, people, "wang", no)["items"]
    assert (step["to"], step["allowed"], step["automatic"]) == (
        "shipped", True, "shipment.created")


# Refusals -----------------------------------------------------------------------------------


def test_a_role_that_may_not_move_the_order_gets_403_naming_the_roles(client, people, db):
    no = create(client, people)
    before = row_counts(db)
    r = move(client, people, "wang", no, "material_check")
    problem = assert_problem(r, 403, "role_not_allowed")
    assert "sales, manager" in problem["detail"] and "warehouse" in problem["detail"]
    assert problem["current_stage"] == "review"
    assert row_counts(db) == before
    assert get(client, people, no)["stage"] == "review"


def test_b2b_credit_below_5000_is_refused_with_the_real_total(client, people, db):
    no = b2b(client, people, "4999.99")
    before = row_counts(db)
    problem = assert_problem(move(client, people, "alice", no, "credit_approval"), 409,
                             "condition_not_met")
    assert "total >= 5000" in problem["detail"] and "4999.99" in problem["detail"]
    assert row_counts(db) == before
    # Exactly 5000 is enough, and with a single applicable level only finance approves.
    no = b2b(client, people, 5000)
    r = move(client, people, "alice", no, "credit_approval")
    assert r.status_code == 200, r.text
    approval = r.json()["approval"]
    assert (approval["position"], approval["levels"], approval["pending_level"]) == (
        1, 1, "finance_manager")
    r = post(client, people, "fiona", no, "approvals", decision="approve")
    assert r.status_code == 200 and r.json()["stage"] == "picking"


@pytest.mark.parametrize(("to", "status", "code"), [
    ("production", 409, "no_such_transition"),
    ("review", 409, "already_there"),
    ("teleport", 422, "unknown_stage"),
])
def test_steps_the_flow_does_not_have_are_refused(client, people, db, to, status, code):
    no = create(client, people)
    before = row_counts(db)
    problem = assert_problem(move(client, people, "alice", no, to), status, code)
    assert problem["current_stage"] == "review"
    if code == "no_such_transition":
        assert "Material check" in problem["detail"]  # where it can go instead
    if code == "unknown_stage":
        assert "teleport" in problem["detail"] and "material_check" in problem["detail"]
    assert row_counts(db) == before


def test_expected_stage_guards_against_stale_screens(client, people, db):
    no = create(client, people)
    assert move(client, people, "alice", no, "material_check").status_code == 200
    before = row_counts(db)
    r = move(client, people, "wang", no, "production", expected_stage="review")
    problem = assert_problem(r, 409, "stage_changed")
    assert problem["current_stage"] == "material_check"
    assert "Material check" in problem["detail"] and "review" in problem["detail"]
    assert row_counts(db) == before
    r = move(client, people, "wang", no, "production", expected_stage="material_check")
    assert r.status_code == 200 and r.json()["stage"] == "production"


# Approvals ----------------------------------------------------------------------------------


def test_two_level_approval_finance_then_manager(client, people, clock):
    no = b2b(client, people, 250000)
    r = move(client, people, "alice", no, "credit_approval", note="credit line checked")
    assert r.status_code == 200
    order = r.json()
    assert order["stage"] == "credit_approval" and order["total"] == "250000.00"
    approval = order["approval"]
    assert (approval["stage"], approval["position"], approval["levels"],
            approval["pending_level"], approval["required"], approval["approvals"]) == (
        "credit_approval", 1, 2, "finance_manager", 1, [])
    assert approval["pending_level_name"] == {"en": "Finance manager", "zh": "财务经理"}

    steps = {s["action"]: s for s in options(client, people, "fiona", no)["items"]}
    assert steps["approve"]["allowed"] and steps["approve"]["to"] == "picking"
    assert steps["reject"]["allowed"] and steps["reject"]["to"] == "review"
    steps = {s["action"]: s for s in options(client, people, "grace", no)["items"]}
    assert not steps["approve"]["allowed"] and "level 1 of 2" in steps["approve"]["reason"]

    # The general manager cannot go first.
    problem = assert_problem(post(client, people, "grace", no, "approvals", decision="approve"),
                             403, "not_an_approver")
    assert "level 1 of 2" in problem["detail"] and "Finance manager" in problem["detail"]
    assert "finance" in problem["detail"] and "manager" in problem["detail"]

    clock.advance(timedelta(minutes=20))
    r = post(client, people, "fiona", no, "approvals", decision="approve",
             comment="within credit limit")
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["stage"] == "credit_approval"
    approval = order["approval"]
    assert (approval["position"], approval["levels"], approval["pending_level"]) == (
        2, 2, "general_manager")
    assert [(a["level"], a["role"], a["decision"], a["comment"])
            for a in approval["approvals"]] == [(1, "finance", "approve", "within credit limit")]
    assert get(client, people, no)["approval"] == approval  # what anyone reading it sees

    # Finance cannot decide the manager's level, nor approve its own level twice.
    problem = assert_problem(post(client, people, "frank", no, "approvals", decision="approve"),
                             403, "not_an_approver")
    assert "level 2 of 2" in problem["detail"]

    clock.advance(timedelta(minutes=20))
    r = post(client, people, "grace", no, "approvals", decision="approve", comment="ok, ship it")
    assert r.status_code == 200, r.text
    order = r.json()
    assert (order["stage"], order["status"], order["approval"]) == ("picking", "active", None)
    assert order["stage_entered_at"] == "2026-11-20T02:40:00Z"

    items = timeline(client, people, no)
    assert rows(items) == [
        ("created", "alice", "sales", None, "review"),
        ("transition", "alice", "sales", "review", "credit_approval"),
        ("approval", "fiona", "finance", "credit_approval", None),
        ("approval", "grace", "manager", "credit_approval", None),
        ("transition", "grace", "manager", "credit_approval", "picking"),
    ]
    assert [i["note"] for i in items] == [None, "credit line checked", "within credit limit",
                                          "ok, ship it", "all approval levels approved"]
    assert [i["at"] for i in items[2:]] == ["2026-11-20T02:20:00Z", "2026-11-20T02:40:00Z",
                                            "2026-11-20T02:40:00Z"]
    assert items[2]["data"]["level_id"] == "finance_manager"
    assert items[3]["data"]["level_id"] == "general_manager"

    # Once approved, nothing is left to approve.
    assert_problem(post(client, people, "grace", no, "approvals", decision="approve"), 409,
                   "not_awaiting_approval")


def test_rejection_needs_a_comment_and_sends_the_order_back_to_review(client, people, db):
    no = b2b(client, people, 250000)
    assert move(client, people, "alice", no, "credit_approval").status_code == 200
    assert post(client, people, "fiona", no, "approvals", decision="approve").status_code == 200

    before = row_counts(db)
    for comment in (None, "", "   "):
        body = {"decision": "reject"} | ({"comment": comment} if comment is not None else {})
        r = client.post(f"{ORDERS}/{no}/approvals", json=body, headers=people.headers("grace"))
        problem = assert_problem(r, 422, "comment_required")
        assert "comment" in problem["detail"]
    assert row_counts(db) == before

    r = post(client, people, "grace", no, "approvals", decision="reject",
             comment="customer is 60 days overdue")
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["approval"]) == ("review", None)
    items = timeline(client, people, no)
    assert rows(items[-2:]) == [
        ("rejection", "grace", "manager", "credit_approval", None),
        ("transition", "grace", "manager", "credit_approval", "review"),
    ]
    assert items[-2]["note"] == "customer is 60 days overdue"

    # Sent again, the approval starts over: the earlier finance approval no longer counts.
    r = move(client, people, "alice", no, "credit_approval")
    assert r.status_code == 200
    approval = r.json()["approval"]
    assert (approval["position"], approval["pending_level"], approval["approvals"]) == (
        1, "finance_manager", [])


def test_approval_endpoint_refuses_unknown_decisions(client, people):
    no = b2b(client, people, 250000)
    assert move(client, people, "alice", no, "credit_approval").status_code == 200
    r = post(client, people, "fiona", no, "approvals", decision="maybe")
    assert_problem(r, 422, "validation_failed")
    r = move(client, people, "fiona", no, "picking")
    problem = assert_problem(r, 409, "approval_pending")
    assert "level 1 of 2" in problem["detail"]


# Hold, resume, cancel ---------------------------------------------------------------------


def test_hold_and_resume(client, people, db, clock):
    no = create(client, people)
    assert_problem(post(client, people, "wang", no, "hold", note="why not"), 403,
                   "role_not_allowed")
    r = post(client, people, "alice", no, "hold", note="waiting for drawings")
    assert r.status_code == 200
    assert (r.json()["stage"], r.json()["status"]) == ("review", "on_hold")

    before = row_counts(db)
    problem = assert_problem(move(client, people, "alice", no, "material_check"), 409,
                             "order_on_hold")
    assert "resume" in problem["detail"]
    assert_problem(post(client, people, "alice", no, "hold", note="again"), 409,
                   "order_on_hold")
    problem = assert_problem(post(client, people, "wang", no, "resume"), 403,
                             "role_not_allowed")
    assert "manager, sales, production" in problem["detail"]
    assert row_counts(db) == before
    [step] = options(client, people, "alice", no)["items"]
    assert step["allowed"] is False and step["code"] == "order_on_hold"

    clock.advance(timedelta(hours=2))
    r = post(client, people, "pete", no, "resume", note="drawings arrived")
    assert r.status_code == 200
    assert (r.json()["stage"], r.json()["status"]) == ("review", "active")
    assert_problem(post(client, people, "alice", no, "resume"), 409, "not_on_hold")
    assert move(client, people, "alice", no, "material_check").status_code == 200

    items = timeline(client, people, no)
    assert [(i["kind"], i["actor"], i["role"], i["note"]) for i in items[1:]] == [
        ("hold", "alice", "sales", "waiting for drawings"),
        ("resume", "pete", "production", "drawings arrived"),
        ("transition", "alice", "sales", None),
    ]


def test_hold_is_refused_where_the_flow_does_not_allow_it(client, people):
    no = create(client, people, flow="retail")
    assert move(client, people, "alice", no, "picking").status_code == 200
    assert move(client, people, "wang", no, "packed").status_code == 200
    assert move(client, people, "wang", no, "shipped").status_code == 200
    problem = assert_problem(post(client, people, "grace", no, "hold", note="x"), 409,
                             "hold_not_allowed")
    assert "Shipped" in problem["detail"]
    assert_problem(post(client, people, "grace", no, "cancel", note="x"), 409,
                   "cancel_not_allowed")


def test_cancel_needs_a_note_and_a_role_and_ends_the_order(client, people, db):
    no = create(client, people)
    before = row_counts(db)
    problem = assert_problem(post(client, people, "wang", no, "cancel", note="no"), 403,
                             "role_not_allowed")
    assert "manager, sales" in problem["detail"]
    assert_problem(post(client, people, "alice", no, "cancel"), 422, "note_required")
    assert_problem(post(client, people, "alice", no, "cancel", note=" "), 422, "note_required")
    assert row_counts(db) == before

    r = post(client, people, "alice", no, "cancel", note="customer withdrew the order")
    assert r.status_code == 200
    assert (r.json()["stage"], r.json()["status"]) == ("cancelled", "cancelled")
    last = timeline(client, people, no)[-1]
    assert (last["kind"], last["actor"], last["role"], last["from_stage"], last["to_stage"],
            last["note"]) == ("cancel", "alice", "sales", "review", "cancelled",
                              "customer withdrew the order")

    before = row_counts(db)
    problem = assert_problem(move(client, people, "alice", no, "material_check"), 409,
                             "order_closed")
    assert problem["current_stage"] == "cancelled"
    assert_problem(post(client, people, "alice", no, "cancel", note="again"), 409,
                   "order_closed")
    assert_problem(post(client, people, "alice", no, "hold", note="x"), 409, "order_closed")
    assert row_counts(db) == before
    assert options(client, people, "alice", no)["items"] == []


def test_a_held_order_can_be_cancelled(client, people):
    no = create(client, people)
    assert post(client, people, "grace", no, "hold", note="credit check").status_code == 200
    r = post(client, people, "grace", no, "cancel", note="credit refused")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_the_whole_make_to_order_path_by_hand(client, people, clock):
    no = create(client, people)
    path = [("alice", "material_check"), ("wang", "production"), ("pete", "qc"),
            ("pete", "production"), ("pete", "qc"), ("pete", "outbound"), ("wang", "shipped"),
            ("sam", "delivered"), ("fiona", "invoiced"), ("fiona", "paid"), ("grace", "closed")]
    for user, to in path:
        clock.advance(timedelta(hours=1))
        r = move(client, people, user, no, to, expected_stage=get(client, people, no)["stage"])
        assert r.status_code == 200, (to, r.text)
    order = get(client, people, no)
    assert (order["stage"], order["status"]) == ("closed", "completed")
    items = timeline(client, people, no)
    assert [i["to_stage"] for i in items] == ["review"] + [to for _u, to in path]
    assert [i["actor"] for i in items[1:]] == [u for u, _to in path]
    assert items[-1]["at"] == "2026-11-20T13:00:00Z"


# Races ------------------------------------------------------------------------------------


def test_two_clients_advancing_at_the_same_moment_one_wins(live_app, live_people, committing):
    setup = TestClient(live_app)
    for _round in range(6):
        r = setup.post(ORDERS, json=order_body(), headers=live_people.headers("alice"))
        assert r.status_code == 201
        no = r.json()["order_no"]
        users = ["alice", "grace"]

        def advance(i, no=no, users=users):
            return TestClient(live_app).post(f"{ORDERS}/{no}/transitions",
                                             json={"to": "material_check"},
                                             headers=live_people.headers(users[i]))

        results = run_together(2, advance)
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.headers["content-type"] == PROBLEM
        assert loser.json()["current_stage"] == "material_check"
        items = setup.get(f"{ORDERS}/{no}/timeline",
                          headers=live_people.headers("vera")).json()["items"]
        assert [i["kind"] for i in items] == ["created", "transition"]
    with committing() as session:
        assert row_counts(session)["timeline_entries"] == 12


def test_two_approvers_of_one_level_at_the_same_moment(live_app, live_people):
    client = TestClient(live_app)
    r = client.post(ORDERS, headers=live_people.headers("alice"), json=order_body(
        flow="b2b_credit", lines=[{"sku": "X", "name": "X", "qty": 1, "unit_price": "8000"}]))
    no = r.json()["order_no"]
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "credit_approval"},
                    headers=live_people.headers("alice"))
    assert r.status_code == 200

    def approve(i):
        return TestClient(live_app).post(f"{ORDERS}/{no}/approvals",
                                         json={"decision": "approve"},
                                         headers=live_people.headers(["fiona", "frank"][i]))

    results = run_together(2, approve)
    assert sorted(r.status_code for r in results) == [200, 409]
    assert client.get(f"{ORDERS}/{no}", headers=live_people.headers("vera")).json()[
        "stage"] == "picking"
    items = client.get(f"{ORDERS}/{no}/timeline",
                       headers=live_people.headers("vera")).json()["items"]
    assert [i["kind"] for i in items].count("approval") == 1
