"""The flow planner, without a database: what each request does to an order, or why not."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordertrail.flow.definition import FlowDef, StageKind
from ordertrail.flow.planner import (
    Actor,
    Advance,
    Cancel,
    Decide,
    Event,
    Hold,
    OrderState,
    Plan,
    Refusal,
    Request,
    Resume,
    Step,
    Trigger,
    Vote,
    options,
    plan,
)
from ordertrail.flow.service import builtin_source
from ordertrail.flow.validate import parse_flow
from ordertrail.kit.expr import evaluate


@cache
def builtin(flow_id: str) -> FlowDef:
    return parse_flow(builtin_source(flow_id))


def person(user_id: int, name: str, *roles: str) -> Actor:
    return Actor(user_id=user_id, name=name, roles=frozenset(roles))


ALICE = person(1, "alice", "sales")
SAM = person(2, "sam", "service")
FIONA = person(3, "fiona", "finance")
FRANK = person(4, "frank", "finance")
GRACE = person(5, "grace", "manager")
WANG = person(6, "wang", "warehouse")
PETE = person(7, "pete", "production")
VERA = person(8, "vera", "viewer")
ROOT = person(9, "root", "admin")
SYSTEM = Actor(user_id=None, name="system", roles=frozenset({"system"}), source="automation")


def order(stage: str, total: str = "1200.00", *, status: str = "active",
          votes: tuple[Vote, ...] = (), **facts: Any) -> OrderState:
    return OrderState(order_no="SO20261120-00001", stage=stage, status=status,
                      facts={"total": Decimal(total), "tags": [], "custom": {}, **facts},
                      votes=votes)


def planned(outcome: Plan | Refusal) -> Plan:
    assert isinstance(outcome, Plan), outcome.message.render("en")  # type: ignore[union-attr]
    return outcome


def refused(outcome: Plan | Refusal, code: str, status: int) -> Refusal:
    assert isinstance(outcome, Refusal), f"expected a refusal, got {outcome}"
    assert (outcome.code, outcome.status) == (code, status), outcome.message.render("en")
    return outcome


def en(refusal: Refusal) -> str:
    return refusal.message.render("en")


def zh(refusal: Refusal) -> str:
    return refusal.message.render("zh-CN")


# Transitions ----------------------------------------------------------------------------------


def test_allowed_transition_plans_the_move_timeline_and_event():
    flow = builtin("make_to_order")
    p = planned(plan(flow, order("review"), ALICE, Advance("material_check", note="all clear")))
    assert p.stage == "material_check" and p.status == "active"
    assert p.entered == ("material_check",)
    assert p.steps == (Step("transition", "sales", "review", "material_check", "all clear"),)
    assert p.events == (Event("order.stage_changed", {
        "order_no": "SO20261120-00001", "flow": "make_to_order", "from_stage": "review",
        "to_stage": "material_check", "actor": "alice", "role": "sales", "source": "api"}),)
    assert p.vote is None


def test_the_step_records_the_role_that_allowed_it():
    flow = builtin("make_to_order")
    both = person(10, "lin", "viewer", "warehouse")
    p = planned(plan(flow, order("material_check"), both, Advance("production")))
    assert p.steps[0].role == "warehouse"


def test_role_refused_names_needed_roles_and_the_actors_roles():
    flow = builtin("make_to_order")
    r = refused(plan(flow, order("review"), WANG, Advance("material_check")),
                "role_not_allowed", 403)
    assert r.current_stage == "review"
    assert en(r) == ("Your role may not move an order from Order review to Material check: "
                     "that needs sales, manager, and you have warehouse.")
    text = zh(r)
    assert "订单评审" in text and "物料齐套检查" in text
    assert "sales" in text and "manager" in text and "warehouse" in text


def test_role_refused_lists_every_role_the_actor_has():
    flow = builtin("make_to_order")
    r = refused(plan(flow, order("review"), person(11, "mo", "warehouse", "viewer"),
                     Advance("material_check")), "role_not_allowed", 403)
    assert en(r).endswith("and you have viewer, warehouse.")


def test_condition_refused_names_the_condition_and_the_orders_value():
    flow = builtin("b2b_credit")
    r = refused(plan(flow, order("review", "1200.00"), ALICE, Advance("credit_approval")),
                "condition_not_met", 409)
    assert en(r) == ("B2B orders on credit start at 5000: Order review → Credit approval needs "
                     "total >= 5000; this order has total = 1200.00.")
    text = zh(r)
    assert "赊销订单金额须不低于 5000" in text
    assert "total >= 5000" in text and "total = 1200.00" in text


def test_condition_met_lets_the_order_through():
    flow = builtin("b2b_credit")
    p = planned(plan(flow, order("review", "5000.00"), ALICE, Advance("credit_approval")))
    assert p.stage == "credit_approval"


def test_condition_that_cannot_be_checked_is_refused_not_crashed():
    flow = builtin("b2b_credit")
    state = OrderState("SO1", "review", "active", {"total": None})
    r = refused(plan(flow, state, ALICE, Advance("credit_approval")), "condition_error", 409)
    assert "total >= 5000" in en(r) and "could not be checked" in en(r)


def test_unknown_target_stage():
    flow = builtin("retail")
    r = refused(plan(flow, order("review"), SAM, Advance("shiped")), "unknown_stage", 422)
    assert en(r) == ("Flow retail has no stage shiped; its stages are review, picking, packed, "
                     "shipped, delivered, completed, cancelled.")


def test_already_there():
    flow = builtin("retail")
    r = refused(plan(flow, order("picking"), WANG, Advance("picking")), "already_there", 409)
    assert "already at Picking" in en(r)
    assert "拣货" in zh(r)


def test_no_such_transition_lists_the_options():
    flow = builtin("make_to_order")
    r = refused(plan(flow, order("qc"), PETE, Advance("shipped")), "no_such_transition", 409)
    assert en(r) == ("Order SO20261120-00001 is at Quality control; there is no step from "
                     "there to Shipped. From Quality control it can go to: Outbound, "
                     "Production.")
    assert "出库" in zh(r) and "生产" in zh(r)


def test_admin_may_override_transition_roles():
    flow = builtin("make_to_order")
    p = planned(plan(flow, order("review"), ROOT, Advance("material_check")))
    assert p.steps[0].role == "admin"
    assert p.events[0].payload["role"] == "admin"


def test_admin_may_not_bypass_a_condition():
    flow = builtin("b2b_credit")
    refused(plan(flow, order("review", "100.00"), ROOT, Advance("credit_approval")),
            "condition_not_met", 409)


def test_expected_stage_mismatch_is_a_conflict():
    flow = builtin("make_to_order")
    r = refused(plan(flow, order("production"), PETE,
                     Advance("qc", expected_stage="material_check")), "stage_changed", 409)
    assert en(r) == ("Order SO20261120-00001 has moved on: it is now at Production, not "
                     "material_check.")
    p = planned(plan(flow, order("qc"), PETE, Advance("outbound", expected_stage="qc")))
    assert p.stage == "outbound"


def test_rework_loop_goes_back():
    flow = builtin("make_to_order")
    p = planned(plan(flow, order("qc"), PETE, Advance("production", note="scratches")))
    assert p.stage == "production" and p.entered == ("production",)


def test_last_manual_step_completes_the_order():
    flow = builtin("make_to_order")
    p = planned(plan(flow, order("paid"), FIONA, Advance("closed")))
    assert (p.stage, p.status) == ("closed", "completed")
    assert [e.name for e in p.events] == ["order.stage_changed", "order.completed"]


# Automatic transitions ---------------------------------------------------------------------

AUTO = """\
id: auto
version: 1
name: {en: Auto, zh: 自动}
stages:
  - id: open
    responsible: service
  - id: shipped
    name: {en: Shipped, zh: 已发货}
    responsible: service
  - id: delivered
    name: {en: Delivered, zh: 已签收}
    kind: terminal
transitions:
  - from: open
    to: shipped
    roles: [warehouse]
    trigger: shipment.created
  - from: shipped
    to: delivered
    trigger: shipment.all_delivered
"""


def test_automatic_only_transition_is_refused_by_hand_even_to_admins():
    flow = parse_flow(AUTO)
    for who in (SAM, ROOT):
        r = refused(plan(flow, order("shipped"), who, Advance("delivered")),
                    "automatic_only", 409)
        assert en(r) == ("Shipped → Delivered happens automatically when "
                         "shipment.all_delivered arrives; it cannot be taken by hand.")


def test_trigger_takes_the_automatic_transition():
    flow = parse_flow(AUTO)
    p = planned(plan(flow, order("shipped"), SYSTEM, Trigger("shipment.all_delivered")))
    assert (p.stage, p.status) == ("delivered", "completed")
    assert p.steps == (Step("transition", "system", "shipped", "delivered", None,
                            {"trigger": "shipment.all_delivered"}),)
    assert p.events[0].payload["source"] == "automation"


def test_transition_with_roles_and_trigger_can_be_taken_either_way():
    flow = parse_flow(AUTO)
    assert planned(plan(flow, order("open"), WANG, Advance("shipped"))).stage == "shipped"
    assert planned(plan(flow, order("open"), SYSTEM, Trigger("shipment.created"))).stage == \
        "shipped"


def test_trigger_nothing_waits_for():
    flow = parse_flow(AUTO)
    r = refused(plan(flow, order("open"), SYSTEM, Trigger("shipment.all_delivered")),
                "no_trigger", 409)
    assert en(r) == "Nothing in open waits for shipment.all_delivered."


def test_builtin_retail_moves_on_shipment_events():
    flow = builtin("retail")
    p = planned(plan(flow, order("packed"), SYSTEM, Trigger("shipment.created")))
    assert p.stage == "shipped"
    p = planned(plan(flow, order("shipped"), SYSTEM, Trigger("shipment.all_delivered")))
    assert p.stage == "delivered"


# Hold and resume ---------------------------------------------------------------------------------


def test_hold_pauses_the_order_at_its_stage():
    flow = builtin("retail")
    p = planned(plan(flow, order("picking"), SAM, Hold(note="customer asked to wait")))
    assert (p.stage, p.status, p.entered) == ("picking", "on_hold", ())
    assert p.steps == (Step("hold", "service", "picking", "picking", "customer asked to wait"),)
    assert [e.name for e in p.events] == ["order.held"]


def test_held_order_refuses_transitions_until_resumed():
    flow = builtin("retail")
    held = order("picking", status="on_hold")
    r = refused(plan(flow, held, WANG, Advance("packed")), "order_on_hold", 409)
    assert en(r) == ("Order SO20261120-00001 is on hold (at Picking); resume it first.")
    assert "拣货" in zh(r)
    refused(plan(flow, held, SYSTEM, Trigger("shipment.created")), "order_on_hold", 409)
    refused(plan(flow, held, SAM, Hold()), "order_on_hold", 409)


def test_held_approval_refuses_decisions():
    flow = builtin("b2b_credit")
    refused(plan(flow, order("credit_approval", status="on_hold"), FIONA, Decide("approve")),
            "order_on_hold", 409)


def test_resume_returns_to_the_same_stage():
    flow = builtin("retail")
    p = planned(plan(flow, order("picking", status="on_hold"), GRACE, Resume(note="go")))
    assert (p.stage, p.status, p.entered) == ("picking", "active", ())
    assert p.steps == (Step("resume", "manager", "picking", "picking", "go"),)
    after = order("picking", status=p.status)
    assert planned(plan(flow, after, WANG, Advance("packed"))).stage == "packed"


def test_resume_when_not_on_hold():
    refused(plan(builtin("retail"), order("picking"), SAM, Resume()), "not_on_hold", 409)


def test_hold_and_resume_need_a_hold_role():
    flow = builtin("retail")
    r = refused(plan(flow, order("picking"), WANG, Hold()), "role_not_allowed", 403)
    assert en(r) == ("Your role may not put orders on hold: that needs service, manager, and "
                     "you have warehouse.")
    refused(plan(flow, order("picking", status="on_hold"), WANG, Resume()),
            "role_not_allowed", 403)


def test_hold_only_at_listed_stages():
    flow = builtin("retail")
    r = refused(plan(flow, order("shipped"), SAM, Hold()), "hold_not_allowed", 409)
    assert en(r) == "Orders cannot be put on hold at Shipped in flow retail."


def test_flow_without_hold_rule_refuses_holds():
    refused(plan(parse_flow(AUTO), order("open"), ROOT, Hold()), "hold_not_allowed", 409)


# Cancel ------------------------------------------------------------------------------------------


def test_cancel_needs_a_note():
    flow = builtin("retail")
    for note in (None, "", "   "):
        r = refused(plan(flow, order("picking"), SAM, Cancel(note=note)), "note_required", 422)
        assert en(r) == "Cancelling needs a note saying why."


def test_cancel_moves_to_the_cancel_stage():
    flow = builtin("retail")
    p = planned(plan(flow, order("packed"), SAM, Cancel(note="out of stock")))
    assert (p.stage, p.status, p.entered) == ("cancelled", "cancelled", ("cancelled",))
    assert p.steps == (Step("cancel", "service", "packed", "cancelled", "out of stock"),)
    assert [e.name for e in p.events] == ["order.cancelled", "order.stage_changed"]
    assert p.events[0].payload["note"] == "out of stock"


def test_cancel_refused_from_stages_not_listed():
    flow = builtin("retail")
    r = refused(plan(flow, order("shipped"), SAM, Cancel(note="too late")),
                "cancel_not_allowed", 409)
    assert en(r) == "Orders cannot be cancelled at Shipped in flow retail."
    assert "已发货" in zh(r)


def test_cancel_needs_a_cancel_role():
    r = refused(plan(builtin("retail"), order("picking"), WANG, Cancel(note="x")),
                "role_not_allowed", 403)
    assert "needs service, manager" in en(r)


def test_a_held_order_can_still_be_cancelled():
    p = planned(plan(builtin("retail"), order("picking", status="on_hold"), SAM,
                     Cancel(note="customer gave up")))
    assert (p.stage, p.status) == ("cancelled", "cancelled")


# Finished orders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "status"), [("completed", "completed"),
                                               ("cancelled", "cancelled")])
def test_finished_orders_refuse_everything(stage, status):
    flow = builtin("retail")
    state = order(stage, status=status)
    for who, request in [(SAM, Advance("delivered")), (ROOT, Advance("review")),
                         (SAM, Hold(note="x")), (SAM, Resume()), (ROOT, Cancel(note="x")),
                         (SYSTEM, Trigger("shipment.all_delivered")), (FIONA, Decide("approve"))]:
        outcome = plan(flow, state, who, request)
        assert isinstance(outcome, Refusal), request
        assert outcome.status == 409
    r = refused(plan(flow, state, SAM, Advance("delivered")), "order_closed", 409)
    assert "nothing can move it any more" in en(r)


# Approvals ---------------------------------------------------------------------------------------


def test_b2b_below_200000_needs_only_finance():
    flow = builtin("b2b_credit")
    state = order("credit_approval", "199999.99")
    p = planned(plan(flow, state, FIONA, Decide("approve", comment="credit ok")))
    assert (p.stage, p.status, p.entered) == ("picking", "active", ("picking",))
    assert p.vote == Vote(1, FIONA.user_id, "approve") and p.vote_role == "finance"
    assert [s.kind for s in p.steps] == ["approval", "transition"]
    assert p.steps[0].note == "credit ok"
    assert p.steps[0].data["position"] == 1 and p.steps[0].data["of"] == 1
    assert [e.name for e in p.events] == ["order.approval_recorded", "order.stage_changed"]


def test_b2b_from_200000_needs_finance_then_manager():
    flow = builtin("b2b_credit")
    state = order("credit_approval", "200000.00")
    first = planned(plan(flow, state, FIONA, Decide("approve")))
    assert (first.stage, first.entered) == ("credit_approval", ())
    assert first.vote == Vote(1, FIONA.user_id, "approve")
    assert first.steps[0].data["position"] == 1 and first.steps[0].data["of"] == 2
    assert [e.name for e in first.events] == ["order.approval_recorded"]
    state = order("credit_approval", "200000.00", votes=(first.vote,))
    second = planned(plan(flow, state, GRACE, Decide("approve")))
    assert second.stage == "picking"
    assert second.vote == Vote(2, GRACE.user_id, "approve")
    assert second.steps[0].data["level_id"] == "general_manager"


def test_manager_cannot_approve_the_first_level():
    flow = builtin("b2b_credit")
    r = refused(plan(flow, order("credit_approval", "250000.00"), GRACE, Decide("approve")),
                "not_an_approver", 403)
    assert en(r) == ("Approval level 1 of 2 (Finance manager) is pending and only finance may "
                     "decide it; your roles are manager.")
    assert "财务经理" in zh(r)


def test_finance_cannot_approve_the_managers_level():
    flow = builtin("b2b_credit")
    state = order("credit_approval", "250000.00", votes=(Vote(1, FIONA.user_id, "approve"),))
    r = refused(plan(flow, state, FRANK, Decide("approve")), "not_an_approver", 403)
    assert "level 2 of 2 (General manager) is pending" in en(r)


def test_admin_cannot_approve():
    r = refused(plan(builtin("b2b_credit"), order("credit_approval", "9000"), ROOT,
                     Decide("approve")), "not_an_approver", 403)
    assert "your roles are admin" in en(r)


def test_automation_cannot_approve():
    refused(plan(builtin("b2b_credit"), order("credit_approval", "9000"),
                 Actor(None, "system", frozenset({"finance"})), Decide("approve")),
            "not_an_approver", 403)


def test_moving_an_order_by_hand_out_of_approval_is_refused():
    flow = builtin("b2b_credit")
    r = refused(plan(flow, order("credit_approval", "250000.00"), ROOT, Advance("picking")),
                "approval_pending", 409)
    assert en(r) == ("Order SO20261120-00001 is waiting for approval at Credit approval: level 1 "
                     "of 2 (Finance manager) is pending. Approve or reject it instead.")


def test_decision_outside_an_approval_stage():
    refused(plan(builtin("b2b_credit"), order("picking"), FIONA, Decide("approve")),
            "not_awaiting_approval", 409)


def test_decision_must_be_approve_or_reject():
    refused(plan(builtin("b2b_credit"), order("credit_approval"), FIONA, Decide("maybe")),
            "bad_decision", 422)


def test_rejection_needs_a_comment():
    flow = builtin("b2b_credit")
    for comment in (None, "", "  "):
        r = refused(plan(flow, order("credit_approval", "9000"), FIONA,
                         Decide("reject", comment=comment)), "comment_required", 422)
        assert en(r) == "A rejection needs a comment saying why."


def test_rejection_goes_to_the_rejected_stage():
    flow = builtin("b2b_credit")
    state = order("credit_approval", "250000.00", votes=(Vote(1, FIONA.user_id, "approve"),))
    p = planned(plan(flow, state, GRACE, Decide("reject", comment="customer over limit")))
    assert (p.stage, p.status, p.entered) == ("review", "active", ("review",))
    assert p.vote == Vote(2, GRACE.user_id, "reject")
    assert [(s.kind, s.to_stage) for s in p.steps] == [("rejection", None),
                                                       ("transition", "review")]
    assert p.steps[0].note == "customer over limit"


NOFM = """\
id: purchase
version: 1
name: {en: Purchase, zh: 采购}
stages:
  - id: draft
    responsible: procurement
  - id: signoff
    kind: approval
    responsible: finance
    approval:
      levels:
        - id: board
          name: {en: Board, zh: 董事会}
          roles: [finance, manager]
          required: 2
          approvers: [ann, bob, cat]
      approved: ordered
      rejected: draft
  - id: ordered
    responsible: procurement
  - id: received
    kind: terminal
transitions:
  - from: draft
    to: signoff
    roles: [procurement]
  - from: ordered
    to: received
    roles: [procurement]
"""
ANN = person(21, "ann", "finance")
BOB = person(22, "bob", "manager")
CAT = person(23, "cat", "finance")
DAVE = person(24, "dave", "finance")


def test_n_of_m_needs_two_distinct_approvers():
    flow = parse_flow(NOFM)
    first = planned(plan(flow, order("signoff"), ANN, Decide("approve")))
    assert first.stage == "signoff" and first.steps[0].data["approvals"] == 1
    state = order("signoff", votes=(first.vote,))  # type: ignore[arg-type]
    r = refused(plan(flow, state, ANN, Decide("approve")), "already_decided", 409)
    assert en(r) == ("You have already approved level 1 of 1 (Board); it needs 2 different "
                     "approvers.")
    second = planned(plan(flow, state, CAT, Decide("approve")))
    assert second.stage == "ordered"
    assert second.steps[0].data["approvals"] == 2


def test_n_of_m_any_two_of_the_named_approvers():
    flow = parse_flow(NOFM)
    state = order("signoff", votes=(Vote(1, BOB.user_id, "approve"),))  # type: ignore[arg-type]
    assert planned(plan(flow, state, CAT, Decide("approve"))).stage == "ordered"


def test_named_approvers_exclude_others_with_the_role():
    flow = parse_flow(NOFM)
    r = refused(plan(flow, order("signoff"), DAVE, Decide("approve")), "not_an_approver", 403)
    assert en(r) == ("Approval level 1 of 1 (Board) is pending and only ann, bob, cat may "
                     "decide it; your roles are finance.")
    refused(plan(flow, order("signoff"), FIONA, Decide("reject", comment="no")),
            "not_an_approver", 403)


def test_one_rejection_sends_an_n_of_m_approval_back():
    flow = parse_flow(NOFM)
    state = order("signoff", votes=(Vote(1, ANN.user_id, "approve"),))  # type: ignore[arg-type]
    p = planned(plan(flow, state, BOB, Decide("reject", comment="price too high")))
    assert p.stage == "draft"


CONDITIONAL = NOFM.replace("          required: 2\n          approvers: [ann, bob, cat]\n",
                           "          when: total >= 100000\n")


def test_approval_stage_with_no_applicable_level_is_passed_through():
    flow = parse_flow(CONDITIONAL)
    p = planned(plan(flow, order("draft", "500.00"), person(30, "pat", "procurement"),
                     Advance("signoff")))
    assert (p.stage, p.entered) == ("ordered", ("signoff", "ordered"))
    assert [(s.kind, s.role, s.from_stage, s.to_stage) for s in p.steps] == [
        ("transition", "procurement", "draft", "signoff"),
        ("approval_skipped", "system", "signoff", "ordered"),
    ]
    assert [e.payload["to_stage"] for e in p.events] == ["signoff", "ordered"]


def test_approval_stage_with_an_applicable_level_waits():
    flow = parse_flow(CONDITIONAL)
    p = planned(plan(flow, order("draft", "100000.00"), person(30, "pat", "procurement"),
                     Advance("signoff")))
    assert (p.stage, p.entered) == ("signoff", ("signoff",))


def test_a_level_whose_condition_fails_on_this_order_still_applies():
    # An approval must never be skipped because the order lacks the data to decide it.
    flow = parse_flow(NOFM.replace("          required: 2\n          approvers: [ann, bob, cat]\n",
                                   "          when: custom.credit_limit < total\n"))
    procurer = person(30, "pat", "procurement")
    p = planned(plan(flow, order("draft", "500.00", custom={}), procurer, Advance("signoff")))
    assert p.stage == "signoff"
    p = planned(plan(flow, order("draft", "500.00", custom={"credit_limit": Decimal(9000)}),
                     procurer, Advance("signoff")))
    assert p.stage == "ordered"


# Options -----------------------------------------------------------------------------------------


def test_options_say_what_is_allowed_and_why_not():
    flow = builtin("make_to_order")
    opts = {o.to: o for o in options(flow, order("qc"), PETE)}
    assert set(opts) == {"outbound", "production"}
    assert all(o.allowed and o.reason is None for o in opts.values())
    assert opts["outbound"].label.en == "QC passed"
    opts = options(flow, order("qc"), WANG)
    assert [(o.to, o.allowed, o.code) for o in opts] == [
        ("outbound", False, "role_not_allowed"), ("production", False, "role_not_allowed")]
    assert "needs production" in opts[0].reason.render("en")  # type: ignore[union-attr]


def test_options_explain_an_unmet_condition():
    flow = builtin("b2b_credit")
    [opt] = options(flow, order("review", "1200.00"), ALICE)
    assert (opt.to, opt.allowed, opt.code) == ("credit_approval", False, "condition_not_met")
    assert "total = 1200.00" in opt.reason.render("en")  # type: ignore[union-attr]
    [opt] = options(flow, order("review", "8000.00"), ALICE)
    assert opt.allowed


def test_options_show_automatic_steps():
    flow = builtin("retail")
    [opt] = options(flow, order("packed"), WANG)
    assert opt.allowed and opt.automatic == "shipment.created"
    [opt] = options(parse_flow(AUTO), order("shipped"), SAM)
    assert not opt.allowed and opt.code == "automatic_only"


def test_options_at_an_approval_stage_offer_approve_and_reject():
    flow = builtin("b2b_credit")
    opts = options(flow, order("credit_approval", "9000"), FIONA)
    assert [(o.action, o.to, o.allowed) for o in opts] == [("approve", "picking", True),
                                                           ("reject", "review", True)]
    assert opts[0].label.zh == "批准"
    opts = options(flow, order("credit_approval", "9000"), GRACE)
    assert [(o.action, o.allowed, o.code) for o in opts] == [
        ("approve", False, "not_an_approver"), ("reject", False, "not_an_approver")]


def test_options_of_a_held_order_are_all_refused():
    opts = options(builtin("make_to_order"), order("qc", status="on_hold"), PETE)
    assert opts and all(not o.allowed and o.code == "order_on_hold" for o in opts)


def test_options_of_a_finished_order_are_empty():
    assert options(builtin("retail"), order("completed", status="completed"), ROOT) == []


# Properties: any sequence of requests by anyone keeps an order consistent ------------------------

CAST = (ALICE, SAM, FIONA, FRANK, GRACE, WANG, PETE, VERA, ROOT, SYSTEM,
        person(12, "lei", "finance", "manager"))
TOTALS = ("0.00", "1200.00", "4999.99", "5000.00", "199999.99", "200000.00", "750000.00")


def edges(flow: FlowDef) -> dict[str, set[str]]:
    """Every move the flow declares: transitions, approval outcomes and cancelling."""
    out: dict[str, set[str]] = {s.id: set() for s in flow.stages}
    for tr in flow.transitions:
        for src in tr.from_stages:
            out[src].add(tr.to)
    for stage in flow.stages:
        if stage.approval is not None:
            out[stage.id] |= {stage.approval.approved, stage.approval.rejected}
        if flow.cancel is not None and stage.kind != StageKind.TERMINAL and \
                flow.cancel.allows_stage(stage.id):
            out[stage.id].add(flow.cancel.to)
    return out


@cache
def anything(flow_id: str, stage: str) -> st.SearchStrategy[tuple[Actor, Request]]:
    """Any request by anyone, sensible or not."""
    flow = builtin(flow_id)
    stage_ids = [s.id for s in flow.stages]
    events = sorted({t.trigger for t in flow.transitions if t.trigger} | {"bogus.event"})
    notes = st.sampled_from([None, "", "because"])
    request = st.one_of(
        st.builds(Advance, to=st.sampled_from([*stage_ids, "nowhere"]), note=notes,
                  expected_stage=st.sampled_from([None, stage, stage_ids[0]])),
        st.builds(Decide, decision=st.sampled_from(["approve", "reject", "maybe"]),
                  comment=notes),
        st.builds(Hold, note=notes),
        st.builds(Resume, note=notes),
        st.builds(Cancel, note=notes),
        st.builds(Trigger, event=st.sampled_from(events)),
    )
    return st.tuples(st.sampled_from(CAST), request)


def holding(*roles: str) -> list[Actor]:
    """People with one of the roles, and the admin, who may try anything."""
    return [*(a for a in CAST if a.roles & set(roles)), ROOT]


@cache
def moves(flow_id: str, stage: str, status: str) -> st.SearchStrategy[tuple[Actor, Request]]:
    """Mostly what the people responsible would do next, so orders get somewhere."""
    flow = builtin(flow_id)
    likely: list[st.SearchStrategy[tuple[Actor, Request]]] = []
    for tr in flow.transitions_from(stage):
        likely.append(st.tuples(st.sampled_from(holding(*tr.roles)), st.just(Advance(tr.to))))
        if tr.trigger:
            likely.append(st.tuples(st.just(SYSTEM), st.just(Trigger(tr.trigger))))
    approval = flow.stage(stage).approval
    if approval is not None:
        roles = [r for level in approval.levels for r in level.roles]
        decision = st.builds(Decide, decision=st.sampled_from(["approve"] * 3 + ["reject"]),
                             comment=st.sampled_from([None, "why"]))
        likely.append(st.tuples(st.sampled_from(holding(*roles)), decision))
    if status == "on_hold" and flow.hold is not None:
        likely.append(st.tuples(st.sampled_from(holding(*flow.hold.roles)), st.just(Resume())))
    rest = anything(flow_id, stage)
    if not likely:
        return rest
    return st.one_of(st.one_of(*likely), st.one_of(*likely), st.one_of(*likely), rest)


def check_plan(flow: FlowDef, before: OrderState, actor: Actor, request: Request,
               p: Plan) -> None:
    graph = edges(flow)
    assert flow.has_stage(p.stage)
    path = (before.stage, *p.entered)
    for src, dst in pairwise(path):
        assert dst in graph[src], f"{src} -> {dst} is not an edge of {flow.id}"
    assert p.stage == path[-1]
    assert p.steps, "every change is written to the timeline"
    assert sum(e.name == "order.stage_changed" for e in p.events) == len(p.entered)
    kind = flow.stage(p.stage).kind
    if p.status == "on_hold":
        assert isinstance(request, Hold) and not p.entered
    if kind == StageKind.TERMINAL:
        expected = "cancelled" if flow.cancel and p.stage == flow.cancel.to else "completed"
        assert p.status == expected
    else:
        assert p.status in ("active", "on_hold")
    assert any(e.name == "order.completed" for e in p.events) == (p.status == "completed")
    left = flow.stage(before.stage)
    if left.approval is not None and p.entered and p.entered[0] == left.approval.approved:
        # Leaving an approval stage as approved needs every applicable level approved by
        # enough distinct people holding its roles (the admin role does not count).
        assert isinstance(request, Decide) and request.decision == "approve"
        votes = (*before.votes, p.vote)
        levels = [lv for lv in left.approval.levels
                  if lv.when is None or evaluate(lv.when, before.facts)]
        assert levels, "an approval stage nobody needs to approve is passed, not left"
        for level in levels:
            voters = {v.user_id for v in votes if v and v.level == level.index
                      and v.decision == "approve"}
            assert len(voters) >= level.required
    if p.vote is not None:
        assert p.vote.user_id == actor.user_id and p.vote_role in actor.roles
        assert p.vote_role != "admin"


def apply(state: OrderState, p: Plan) -> OrderState:
    """What the order service stores: votes belong to one visit of the approval stage."""
    votes = () if p.entered else (*state.votes, *([p.vote] if p.vote else []))
    return OrderState(state.order_no, p.stage, p.status, state.facts, votes)


@pytest.mark.parametrize("flow_id", ["retail", "make_to_order", "b2b_credit"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), total=st.sampled_from(TOTALS))
def test_random_requests_keep_every_order_consistent(flow_id, data, total):
    flow = builtin(flow_id)
    state = OrderState("SO20261120-00001", flow.initial, "active",
                       {"total": Decimal(total), "tags": [], "custom": {}, "channel": "web"})
    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        actor, request = data.draw(moves(flow_id, state.stage, state.status), label="move")
        facts = copy.deepcopy(dict(state.facts))
        before = state
        outcome = plan(flow, state, actor, request)
        assert state == before and dict(state.facts) == facts, "planning changed the order"
        finished = state.status in ("completed", "cancelled")
        assert finished == (flow.stage(state.stage).kind == StageKind.TERMINAL)
        if isinstance(outcome, Refusal):
            assert outcome.status in (403, 409, 422)
            assert outcome.current_stage in (None, state.stage)
            assert outcome.message.render("en") and outcome.message.render("zh-CN")
            continue
        assert not finished, f"a finished order changed: {request}"
        check_plan(flow, state, actor, request, outcome)
        state = apply(state, outcome)


def test_chained_approval_stages_with_no_applicable_level_are_all_passed_through():
    flow = parse_flow("""
id: chained
version: 1
name: {en: Chained, zh: 连续审批}
stages:
  - id: draft
    responsible: sales
  - id: big_deal
    kind: approval
    responsible: manager
    approval:
      levels: [{roles: [manager], when: "total >= 1000000"}]
      approved: export_check
      rejected: draft
  - id: export_check
    kind: approval
    responsible: finance
    approval:
      levels: [{roles: [finance], when: "customer.country != 'CN'"}]
      approved: ship
      rejected: draft
  - id: ship
    responsible: warehouse
  - id: done
    kind: terminal
transitions:
  - {from: draft, to: big_deal, roles: [sales]}
  - {from: ship, to: done, roles: [warehouse]}
""")
    facts = {"total": Decimal("10"), "customer": {"country": "CN"}}
    state = OrderState("SO1", "draft", "active", facts)
    sales = Actor(1, "alice", frozenset({"sales"}))
    outcome = plan(flow, state, sales, Advance("big_deal"))
    assert isinstance(outcome, Plan)
    assert outcome.entered == ("big_deal", "export_check", "ship")
    assert outcome.stage == "ship"
    assert [s.kind for s in outcome.steps] == [
        "transition", "approval_skipped", "approval_skipped"]
