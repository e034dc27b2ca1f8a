"""The pure flow planner: given an order, its flow and a request, a Plan or a typed Refusal.

No I/O here; the data types live in plans.py and are re-exported here. The order service
loads the state, asks the planner, and applies the plan in one transaction (stage, visits,
timeline rows, approval votes, outbox events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ordertrail.flow.definition import (
    ApprovalLevel,
    FlowDef,
    Stage,
    StageKind,
    Text,
    Transition,
)
from ordertrail.flow.plans import (
    ADMIN,
    SYSTEM_ROLE,
    Actor,
    Advance,
    Cancel,
    Decide,
    Event,
    Hold,
    OrderState,
    Outcome,
    Plan,
    Refusal,
    Request,
    Resume,
    Step,
    Trigger,
    Vote,
)
from ordertrail.i18n import Msg
from ordertrail.kit.expr import Expr, ExprError, evaluate, lookup

# Helpers ------------------------------------------------------------------------------


def _role_for(actor: Actor, allowed: Sequence[str], *, admin_ok: bool = True) -> str | None:
    for role in allowed:
        if role in actor.roles:
            return role
    if admin_ok and actor.is_admin:
        return ADMIN
    return None


def _condition(expr: Expr | None, facts: Mapping[str, Any]) -> tuple[bool, str | None]:
    if expr is None:
        return True, None
    try:
        return evaluate(expr, facts), None
    except ExprError as exc:
        return False, str(exc)


def _facts_text(expr: Expr, facts: Mapping[str, Any]) -> str:
    parts = []
    for path in expr.paths or expr.names:
        value = lookup(facts, path)
        if isinstance(value, list):
            value = "[" + ", ".join(str(v) for v in value) + "]"
        parts.append(f"{path} = {value!r}" if isinstance(value, str) else f"{path} = {value}")
    return ", ".join(parts)


def applicable_levels(stage: Stage, facts: Mapping[str, Any]) -> list[ApprovalLevel]:
    """The approval levels that apply to this order (conditional levels may drop out).

    A level whose condition cannot be evaluated for this order applies: a data error must
    never let an order skip an approval.
    """
    assert stage.approval is not None
    applies = []
    for level in stage.approval.levels:
        ok, error = _condition(level.when, facts)
        if ok or error is not None:
            applies.append(level)
    return applies


def pending_level(stage: Stage, state: OrderState) -> tuple[int, int, ApprovalLevel | None]:
    """(position, count, level): the first applicable level not yet fully approved."""
    levels = applicable_levels(stage, state.facts)
    for pos, level in enumerate(levels, start=1):
        approvals = {v.user_id for v in state.votes if v.level == level.index
                     and v.decision == "approve"}
        if len(approvals) < level.required:
            return pos, len(levels), level
    return len(levels), len(levels), None


def _closed_refusal(state: OrderState, flow: FlowDef) -> Refusal | None:
    stage = flow.stage(state.stage)
    if state.status == "on_hold":
        return Refusal("order_on_hold", 409, Msg(
            "Order {order_no} is on hold (at {stage}); resume it first.",
            {"order_no": state.order_no, "stage": stage.name}), state.stage)
    if state.status in ("completed", "cancelled") or stage.kind == StageKind.TERMINAL:
        return Refusal("order_closed", 409, Msg(
            "Order {order_no} is finished (at {stage}); nothing can move it any more.",
            {"order_no": state.order_no, "stage": stage.name}), state.stage)
    return None


def _enter(flow: FlowDef, state: OrderState, first: str, role: str | None,
           ) -> tuple[list[Step], list[str], str, str]:
    """Enter a stage; approval stages with no applicable level are passed straight through."""
    steps: list[Step] = []
    entered = [first]
    stage = flow.stage(first)
    while (stage.kind == StageKind.APPROVAL and stage.approval is not None
           and not applicable_levels(stage, state.facts)
           and stage.approval.approved not in entered):
        nxt = stage.approval.approved
        steps.append(Step("approval_skipped", SYSTEM_ROLE, stage.id, nxt,
                          "no approval level applies to this order"))
        entered.append(nxt)
        stage = flow.stage(nxt)
    status = "active"
    if stage.kind == StageKind.TERMINAL:
        cancel_to = flow.cancel.to if flow.cancel else None
        status = "cancelled" if stage.id == cancel_to else "completed"
    return steps, entered, stage.id, status


def _stage_events(state: OrderState, flow: FlowDef, actor: Actor, role: str | None,
                  entered: list[str], final_status: str) -> list[Event]:
    events = []
    prev = state.stage
    for stage_id in entered:
        events.append(Event("order.stage_changed", {
            "order_no": state.order_no, "flow": flow.id, "from_stage": prev, "to_stage": stage_id,
            "actor": actor.name, "role": role, "source": actor.source}))
        prev = stage_id
    if final_status == "completed":
        events.append(Event("order.completed", {"order_no": state.order_no, "stage": prev}))
    return events


# Planning -----------------------------------------------------------------------------


def plan(flow: FlowDef, state: OrderState, actor: Actor, request: Request) -> Outcome:
    """Decide what a request does to an order, without touching anything."""
    match request:
        case Advance():
            return _plan_advance(flow, state, actor, request)
        case Decide():
            return _plan_decide(flow, state, actor, request)
        case Hold():
            return _plan_hold(flow, state, actor, request)
        case Resume():
            return _plan_resume(flow, state, actor, request)
        case Cancel():
            return _plan_cancel(flow, state, actor, request)
        case Trigger():
            return _plan_trigger(flow, state, actor, request)
    raise TypeError(f"unknown request {request!r}")


def check_transition(flow: FlowDef, state: OrderState, actor: Actor, tr: Transition,
                     ) -> Refusal | str:
    """The role the actor would take this transition in, or why they cannot."""
    frm, to = flow.stage(state.stage), flow.stage(tr.to)
    if not tr.roles:
        return Refusal("automatic_only", 409, Msg(
            "{from_stage} → {to_stage} happens automatically when {trigger} arrives; it cannot "
            "be taken by hand.", {"from_stage": frm.name, "to_stage": to.name,
                                  "trigger": tr.trigger or "?"}), state.stage)
    role = _role_for(actor, tr.roles)
    if role is None:
        return Refusal("role_not_allowed", 403, Msg(
            "Your role may not move an order from {from_stage} to {to_stage}: that needs "
            "{roles}, and you have {yours}.",
            {"from_stage": frm.name, "to_stage": to.name, "roles": list(tr.roles),
             "yours": sorted(actor.roles)}), state.stage)
    ok, error = _condition(tr.when, state.facts)
    if not ok:
        assert tr.when is not None
        params: dict[str, Any] = {"from_stage": frm.name, "to_stage": to.name,
                                  "condition": tr.when.source,
                                  "facts": _facts_text(tr.when, state.facts)}
        if error:
            return Refusal("condition_error", 409, Msg(
                "{from_stage} → {to_stage} needs {condition}, which could not be checked for "
                "this order: {error}", {**params, "error": error}), state.stage)
        text = ("{from_stage} → {to_stage} needs {condition}; this order has {facts}."
                if tr.explain is None else
                "{explain}: {from_stage} → {to_stage} needs {condition}; this order has {facts}.")
        if tr.explain is not None:
            params["explain"] = tr.explain
        return Refusal("condition_not_met", 409, Msg(text, params), state.stage)
    return role


def _approval_wait(flow: FlowDef, state: OrderState) -> Refusal:
    stage = flow.stage(state.stage)
    pos, count, level = pending_level(stage, state)
    return Refusal("approval_pending", 409, Msg(
        "Order {order_no} is waiting for approval at {stage}: level {pos} of {count} ({level}) "
        "is pending. Approve or reject it instead.",
        {"order_no": state.order_no, "stage": stage.name, "pos": pos, "count": count,
         "level": level.name if level else "-"}), state.stage)


def _plan_advance(flow: FlowDef, state: OrderState, actor: Actor, req: Advance) -> Outcome:
    if req.expected_stage is not None and req.expected_stage != state.stage:
        return Refusal("stage_changed", 409, Msg(
            "Order {order_no} has moved on: it is now at {stage}, not {expected}.",
            {"order_no": state.order_no, "stage": flow.stage(state.stage).name,
             "expected": req.expected_stage}), state.stage)
    if not flow.has_stage(req.to):
        return Refusal("unknown_stage", 422, Msg(
            "Flow {flow} has no stage {to}; its stages are {stages}.",
            {"flow": flow.id, "to": req.to, "stages": [s.id for s in flow.stages]}), state.stage)
    if (closed := _closed_refusal(state, flow)) is not None:
        return closed
    current = flow.stage(state.stage)
    if req.to == state.stage:
        return Refusal("already_there", 409, Msg(
            "Order {order_no} is already at {stage}.",
            {"order_no": state.order_no, "stage": current.name}), state.stage)
    candidates = [t for t in flow.transitions_from(state.stage) if t.to == req.to]
    if not candidates:
        if current.kind == StageKind.APPROVAL:
            return _approval_wait(flow, state)
        options = [flow.stage(t.to).name for t in flow.transitions_from(state.stage)]
        return Refusal("no_such_transition", 409, Msg(
            "Order {order_no} is at {stage}; there is no step from there to {to}. From "
            "{stage} it can go to: {options}.",
            {"order_no": state.order_no, "stage": current.name,
             "to": flow.stage(req.to).name, "options": options}), state.stage)
    tr = candidates[0]
    checked = check_transition(flow, state, actor, tr)
    if isinstance(checked, Refusal):
        return checked
    role = checked
    steps = [Step("transition", role, state.stage, req.to, req.note)]
    more, entered, final, status = _enter(flow, state, req.to, role)
    steps.extend(more)
    events = _stage_events(state, flow, actor, role, entered, status)
    return Plan(tuple(steps), final, status, tuple(entered), tuple(events))


def _plan_trigger(flow: FlowDef, state: OrderState, actor: Actor, req: Trigger) -> Outcome:
    if (closed := _closed_refusal(state, flow)) is not None:
        return closed
    for tr in flow.transitions_from(state.stage):
        if tr.trigger != req.event:
            continue
        ok, _error = _condition(tr.when, state.facts)
        if not ok:
            continue
        steps = [Step("transition", SYSTEM_ROLE, state.stage, tr.to, req.note,
                      {"trigger": req.event})]
        more, entered, final, status = _enter(flow, state, tr.to, SYSTEM_ROLE)
        steps.extend(more)
        events = _stage_events(state, flow, actor, SYSTEM_ROLE, entered, status)
        return Plan(tuple(steps), final, status, tuple(entered), tuple(events))
    return Refusal("no_trigger", 409, Msg(
        "Nothing in {stage} waits for {event}.",
        {"stage": flow.stage(state.stage).name, "event": req.event}), state.stage)


def _plan_decide(flow: FlowDef, state: OrderState, actor: Actor, req: Decide) -> Outcome:
    if req.decision not in ("approve", "reject"):
        return Refusal("bad_decision", 422, Msg(
            "decision must be approve or reject, not {decision}.", {"decision": req.decision}))
    if (closed := _closed_refusal(state, flow)) is not None:
        return closed
    stage = flow.stage(state.stage)
    if stage.kind != StageKind.APPROVAL or stage.approval is None:
        return Refusal("not_awaiting_approval", 409, Msg(
            "Order {order_no} is at {stage}, which is not an approval stage.",
            {"order_no": state.order_no, "stage": stage.name}), state.stage)
    pos, count, level = pending_level(stage, state)
    if level is None:  # cannot happen: a completed approval moves the order on
        return _approval_wait(flow, state)
    allowed = actor.user_id is not None and (
        not level.approvers or actor.name in level.approvers)
    role = _role_for(actor, level.roles, admin_ok=False) if allowed else None
    if role is None:
        who = list(level.roles) if not level.approvers else list(level.approvers)
        return Refusal("not_an_approver", 403, Msg(
            "Approval level {pos} of {count} ({level}) is pending and only {who} may decide it; "
            "your roles are {yours}.",
            {"pos": pos, "count": count, "level": level.name, "who": who,
             "yours": sorted(actor.roles)}), state.stage)
    if any(v.level == level.index and v.user_id == actor.user_id for v in state.votes):
        return Refusal("already_decided", 409, Msg(
            "You have already approved level {pos} of {count} ({level}); it needs {required} "
            "different approvers.",
            {"pos": pos, "count": count, "level": level.name, "required": level.required}),
            state.stage)
    if any(v.user_id == actor.user_id and v.decision == "approve" for v in state.votes):
        return Refusal("four_eyes", 409, Msg(
            "You have already approved an earlier level of this approval; level {pos} of "
            "{count} ({level}) needs another person.",
            {"pos": pos, "count": count, "level": level.name}), state.stage)
    assert actor.user_id is not None
    vote = Vote(level.index, actor.user_id, req.decision)
    data = {"level": level.index, "level_id": level.id, "position": pos, "of": count,
            "level_name": level.name.en, "required": level.required}
    event = Event("order.approval_recorded", {
        "order_no": state.order_no, "stage": stage.id, "level": level.id, "decision": req.decision,
        "actor": actor.name, "role": role})
    if req.decision == "reject":
        if not (req.comment or "").strip():
            return Refusal("comment_required", 422, Msg(
                "A rejection needs a comment saying why."), state.stage)
        target = stage.approval.rejected
        steps = [Step("rejection", role, stage.id, None, req.comment, data),
                 Step("transition", role, stage.id, target, "rejected at approval")]
        more, entered, final, status = _enter(flow, state, target, role)
        steps.extend(more)
        events = [event, *_stage_events(state, flow, actor, role, entered, status)]
        return Plan(tuple(steps), final, status, tuple(entered), tuple(events), vote, role)
    approvals = 1 + sum(1 for v in state.votes if v.level == level.index
                        and v.decision == "approve")
    level_done = approvals >= level.required
    data["approvals"] = approvals
    steps = [Step("approval", role, stage.id, None, req.comment, data)]
    if not level_done or pos < count:
        return Plan(tuple(steps), state.stage, state.status, (), (event,), vote, role)
    target = stage.approval.approved
    steps.append(Step("transition", role, stage.id, target, "all approval levels approved"))
    more, entered, final, status = _enter(flow, state, target, role)
    steps.extend(more)
    events = [event, *_stage_events(state, flow, actor, role, entered, status)]
    return Plan(tuple(steps), final, status, tuple(entered), tuple(events), vote, role)


def _plan_hold(flow: FlowDef, state: OrderState, actor: Actor, req: Hold) -> Outcome:
    if (closed := _closed_refusal(state, flow)) is not None:
        return closed
    stage = flow.stage(state.stage)
    rule = flow.hold
    if rule is None or not rule.allows_stage(state.stage):
        return Refusal("hold_not_allowed", 409, Msg(
            "Orders cannot be put on hold at {stage} in flow {flow}.",
            {"stage": stage.name, "flow": flow.id}), state.stage)
    role = _role_for(actor, rule.roles)
    if role is None:
        return Refusal("role_not_allowed", 403, Msg(
            "Your role may not put orders on hold: that needs {roles}, and you have {yours}.",
            {"roles": list(rule.roles), "yours": sorted(actor.roles)}), state.stage)
    steps = (Step("hold", role, state.stage, state.stage, req.note),)
    events = (Event("order.held", {"order_no": state.order_no, "stage": state.stage,
                                   "actor": actor.name, "note": req.note}),)
    return Plan(steps, state.stage, "on_hold", (), events)


def _plan_resume(flow: FlowDef, state: OrderState, actor: Actor, req: Resume) -> Outcome:
    stage = flow.stage(state.stage)
    if state.status != "on_hold":
        return Refusal("not_on_hold", 409, Msg(
            "Order {order_no} is not on hold.", {"order_no": state.order_no}), state.stage)
    roles = flow.hold.roles if flow.hold else ()
    role = _role_for(actor, roles)
    if role is None:
        return Refusal("role_not_allowed", 403, Msg(
            "Your role may not resume held orders: that needs {roles}, and you have {yours}.",
            {"roles": list(roles), "yours": sorted(actor.roles)}), state.stage)
    steps = (Step("resume", role, stage.id, stage.id, req.note),)
    events = (Event("order.resumed", {"order_no": state.order_no, "stage": state.stage,
                                      "actor": actor.name}),)
    return Plan(steps, state.stage, "active", (), events)


def _plan_cancel(flow: FlowDef, state: OrderState, actor: Actor, req: Cancel) -> Outcome:
    stage = flow.stage(state.stage)
    if state.status in ("completed", "cancelled") or stage.kind == StageKind.TERMINAL:
        return _closed_refusal(state, flow) or Refusal("order_closed", 409, Msg(
            "Order {order_no} is finished.", {"order_no": state.order_no}), state.stage)
    rule = flow.cancel
    if rule is None or not rule.allows_stage(state.stage):
        return Refusal("cancel_not_allowed", 409, Msg(
            "Orders cannot be cancelled at {stage} in flow {flow}.",
            {"stage": stage.name, "flow": flow.id}), state.stage)
    role = _role_for(actor, rule.roles)
    if role is None:
        return Refusal("role_not_allowed", 403, Msg(
            "Your role may not cancel orders: that needs {roles}, and you have {yours}.",
            {"roles": list(rule.roles), "yours": sorted(actor.roles)}), state.stage)
    if not (req.note or "").strip():
        return Refusal("note_required", 422, Msg(
            "Cancelling needs a note saying why."), state.stage)
    steps = (Step("cancel", role, state.stage, rule.to, req.note),)
    events = (
        Event("order.cancelled", {"order_no": state.order_no, "stage": state.stage,
                                  "actor": actor.name, "note": req.note}),
        *_stage_events(state, flow, actor, role, [rule.to], "cancelled")[:1],
    )
    return Plan(steps, rule.to, "cancelled", (rule.to,), events)


@dataclass(frozen=True)
class Option:
    to: str
    allowed: bool
    reason: str | Msg | None
    label: Any
    automatic: str | None
    code: str | None = None
    action: str = "transition"


def options(flow: FlowDef, state: OrderState, actor: Actor) -> list[Option]:
    """Every next stage from the current one, with whether this actor may go there and why."""
    out: list[Option] = []
    closed = _closed_refusal(state, flow)
    stage = flow.stage(state.stage)
    for tr in flow.transitions_from(state.stage):
        label = tr.label or flow.stage(tr.to).name
        if closed is not None:
            out.append(Option(tr.to, False, closed.message, label, tr.trigger, closed.code))
            continue
        checked = check_transition(flow, state, actor, tr)
        if isinstance(checked, Refusal):
            out.append(Option(tr.to, False, checked.message, label, tr.trigger, checked.code))
        else:
            out.append(Option(tr.to, True, None, label, tr.trigger))
    if stage.kind == StageKind.APPROVAL and stage.approval is not None and closed is None:
        for decision, target in (("approve", stage.approval.approved),
                                 ("reject", stage.approval.rejected)):
            outcome = _plan_decide(flow, state, actor, Decide(decision, "check"))
            refusal = outcome if isinstance(outcome, Refusal) else None
            label = (Text("Approve", "批准") if decision == "approve"
                     else Text("Reject", "驳回"))
            out.append(Option(target, refusal is None, refusal.message if refusal else None,
                              label, None, refusal.code if refusal else None, decision))
    return out


__all__ = [
    "ADMIN",
    "SYSTEM_ROLE",
    "Actor",
    "Advance",
    "Cancel",
    "Decide",
    "Event",
    "Hold",
    "Option",
    "OrderState",
    "Outcome",
    "Plan",
    "Refusal",
    "Request",
    "Resume",
    "Step",
    "Trigger",
    "Vote",
    "applicable_levels",
    "check_transition",
    "options",
    "pending_level",
    "plan",
]
