"""A flow as immutable data: stages, transitions, approvals, hold and cancel rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ordertrail.kit.expr import Expr, compile_expr


class StageKind(StrEnum):
    NORMAL = "normal"
    APPROVAL = "approval"
    TERMINAL = "terminal"


BUILTIN_ROLES: tuple[str, ...] = (
    "admin",
    "manager",
    "sales",
    "service",
    "warehouse",
    "production",
    "procurement",
    "finance",
    "viewer",
)
DEFAULT_CREATE_ROLES: tuple[str, ...] = ("sales", "service", "manager", "admin")


@dataclass(frozen=True)
class Text:
    """A label in English and Chinese."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en

    @classmethod
    def of(cls, raw: Any, fallback: str) -> Text:
        if isinstance(raw, dict):
            en = str(raw.get("en") or fallback)
            return cls(en=en, zh=str(raw.get("zh") or en))
        if raw:
            return cls(en=str(raw), zh=str(raw))
        return cls(en=fallback, zh=fallback)


@dataclass(frozen=True)
class ApprovalLevel:
    index: int  # 1-based
    id: str
    name: Text
    roles: tuple[str, ...]
    required: int
    approvers: tuple[str, ...]  # user names; empty means anyone holding one of the roles
    when: Expr | None


@dataclass(frozen=True)
class ApprovalRule:
    levels: tuple[ApprovalLevel, ...]
    approved: str
    rejected: str


@dataclass(frozen=True)
class Stage:
    id: str
    name: Text
    kind: StageKind
    responsible: str | None
    sla: Any
    customer_visible: bool
    approval: ApprovalRule | None = None
    on_enter: tuple[str, ...] = ()   # stage actions (ordertrail.ops.automation)


@dataclass(frozen=True)
class Transition:
    from_stages: tuple[str, ...]
    to: str
    roles: tuple[str, ...]
    when: Expr | None
    trigger: str | None
    label: Text | None
    explain: Text | None


@dataclass(frozen=True)
class StageRule:
    """Who may hold or cancel, and from which stages (None: every non-terminal stage)."""

    roles: tuple[str, ...]
    stages: tuple[str, ...] | None

    def allows_stage(self, stage: str) -> bool:
        return self.stages is None or stage in self.stages


@dataclass(frozen=True)
class CancelRule(StageRule):
    to: str = "cancelled"


DEFAULT_CALENDAR = "cn"
CUSTOMER_EVENTS: tuple[str, ...] = ("shipped", "out_for_delivery", "delivered", "delayed")
CUSTOMER_CHANNELS: tuple[str, ...] = ("email", "sms")


@dataclass(frozen=True)
class Escalation:
    """Who hears about an unacknowledged alert: level 1 the responsible person or role; level
    2 after ``after`` business time their manager (else users of ``levels[0]``); level n+1
    the users of ``levels[n-1]``, each after another ``after``."""

    after: str = "2h"
    levels: tuple[str, ...] = ("manager", "admin")


def default_notify() -> dict[str, Any]:
    return {"customer": {"events": list(CUSTOMER_EVENTS), "channels": list(CUSTOMER_CHANNELS)}}


@dataclass(frozen=True)
class FlowDef:
    id: str
    version: int
    name: Text
    stages: tuple[Stage, ...]
    transitions: tuple[Transition, ...]
    initial: str
    create_roles: tuple[str, ...]
    hold: StageRule | None
    cancel: CancelRule | None
    description: str | None = None
    calendar: str = DEFAULT_CALENDAR
    escalation: Escalation = field(default_factory=Escalation)
    notify: dict[str, Any] = field(default_factory=default_notify, compare=False)
    _by_id: dict[str, Stage] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.stages})

    def stage(self, stage_id: str) -> Stage:
        return self._by_id[stage_id]

    def has_stage(self, stage_id: str) -> bool:
        return stage_id in self._by_id

    def transitions_from(self, stage_id: str) -> list[Transition]:
        return [t for t in self.transitions if stage_id in t.from_stages]


def _roles(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(r) for r in raw)


def _stages(raw: Any) -> tuple[str, ...] | None:
    if raw is None or raw == "*":
        return None
    return _roles(raw)


def _expr(raw: Any) -> Expr | None:
    return compile_expr(str(raw)) if raw not in (None, "") else None


def build_flow(raw: dict[str, Any]) -> FlowDef:
    """Build a FlowDef from a mapping that ``validate.check_flow`` has accepted."""
    stages = []
    for s in raw["stages"]:
        approval = None
        if s.get("approval"):
            a = s["approval"]
            levels = tuple(
                ApprovalLevel(
                    index=i,
                    id=str(lv.get("id") or f"level{i}"),
                    name=Text.of(lv.get("name"), str(lv.get("id") or f"level {i}")),
                    roles=_roles(lv.get("roles")),
                    required=int(lv.get("required", 1)),
                    approvers=_roles(lv.get("approvers")),
                    when=_expr(lv.get("when")),
                )
                for i, lv in enumerate(a["levels"], start=1)
            )
            approval = ApprovalRule(levels=levels, approved=a["approved"], rejected=a["rejected"])
        stages.append(
            Stage(
                id=s["id"],
                name=Text.of(s.get("name"), s["id"]),
                kind=StageKind(s.get("kind", "normal")),
                responsible=s.get("responsible"),
                sla=s.get("sla"),
                customer_visible=bool(s.get("customer_visible", True)),
                approval=approval,
                on_enter=tuple(s.get("on_enter") or ()),
            )
        )
    transitions = tuple(
        Transition(
            from_stages=_roles(t["from"]),
            to=t["to"],
            roles=_roles(t.get("roles")),
            when=_expr(t.get("when")),
            trigger=t.get("trigger"),
            label=Text.of(t["label"], t["to"]) if t.get("label") else None,
            explain=Text.of(t["explain"], "") if t.get("explain") else None,
        )
        for t in raw["transitions"]
    )
    hold = raw.get("hold")
    cancel = raw.get("cancel")
    esc = raw.get("escalation") or {}
    notify = default_notify()
    customer = (raw.get("notify") or {}).get("customer")
    if isinstance(customer, dict):
        notify["customer"] = {
            "events": list(_roles(customer.get("events", CUSTOMER_EVENTS))),
            "channels": list(_roles(customer.get("channels", CUSTOMER_CHANNELS)))}
    return FlowDef(
        id=raw["id"],
        version=int(raw["version"]),
        name=Text.of(raw.get("name"), raw["id"]),
        description=raw.get("description"),
        calendar=str(raw.get("calendar") or DEFAULT_CALENDAR),
        escalation=Escalation(after=str(esc.get("after") or "2h"),
                              levels=_roles(esc.get("levels")) or ("manager", "admin")),
        notify=notify,
        stages=tuple(stages),
        transitions=transitions,
        initial=raw.get("initial") or raw["stages"][0]["id"],
        create_roles=_roles(raw.get("create", {}).get("roles")) or DEFAULT_CREATE_ROLES,
        hold=StageRule(_roles(hold.get("roles")), _stages(hold.get("stages"))) if hold else None,
        cancel=(
            CancelRule(
                _roles(cancel.get("roles")),
                _stages(cancel.get("stages")),
                to=cancel.get("to", "cancelled"),
            )
            if cancel
            else None
        ),
    )
