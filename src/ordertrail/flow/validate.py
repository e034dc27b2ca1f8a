"""Flow validation: every problem named with its line and stage, before anything is stored."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import yaml

from ordertrail.flow.definition import (
    BUILTIN_ROLES,
    CUSTOMER_CHANNELS,
    CUSTOMER_EVENTS,
    FlowDef,
    StageKind,
    build_flow,
)
from ordertrail.kit.expr import ExprError, compile_expr
from ordertrail.ops.automation import ACTION_NAMES

Path = tuple[str | int, ...]

ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRIGGER_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
CALENDAR_RE = re.compile(r"^[a-z0-9][a-z0-9_x-]{0,31}$")
DURATION_RE = re.compile(r"^\s*(\d+(\.\d+)?\s*(d|h|m|min|s)\s*)+$")

TOP_KEYS = {"id", "version", "name", "description", "initial", "calendar", "create", "stages",
            "transitions", "hold", "cancel", "escalation", "notify"}
STAGE_KEYS = {"id", "name", "kind", "responsible", "sla", "customer_visible", "approval",
              "description", "on_enter"}
TRANSITION_KEYS = {"from", "to", "roles", "when", "trigger", "label", "explain"}
APPROVAL_KEYS = {"levels", "approved", "rejected"}
LEVEL_KEYS = {"id", "name", "roles", "required", "approvers", "when"}
RULE_KEYS = {"roles", "stages"}


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str
    stage: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "flow"
        if self.stage:
            where += f", stage {self.stage!r}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "stage": self.stage, "message": self.message}


class FlowInvalid(ValueError):
    """A flow document with problems; ``problems`` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML and remember the 1-based line of every node by its path."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path, int] = {}
    ctor = yaml.SafeLoader("")

    def walk(node: yaml.Node | None, path: Path) -> Any:
        if node is None:
            return None
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = ctor.construct_object(key_node, deep=True)
                out[str(key)] = walk(value_node, (*path, str(key)))
                # A key's own line is the most useful one to name.
                lines[(*path, str(key))] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return ctor.construct_object(node, deep=True)

    return walk(root, ()), lines


class _Checker:
    def __init__(self, raw: dict[str, Any], lines: dict[Path, int], roles: frozenset[str]):
        self.raw = raw
        self.lines = lines
        self.roles = roles
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str, stage: str | None = None) -> None:
        line = None
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line:
                break
        self.problems.append(Problem(line=line, message=message, stage=stage))

    def unknown_keys(self, value: dict[str, Any], allowed: set[str], path: Path,
                     stage: str | None = None) -> None:
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add((*path, key), f"unknown key {key!r} (allowed: {known})", stage)

    def check_roles(self, value: Any, path: Path, stage: str | None, what: str,
                    allow_empty: bool = False) -> None:
        items = [value] if isinstance(value, str) else value
        if items is None:
            items = []
        if not isinstance(items, list):
            self.add(path, f"{what} must be a role or a list of roles", stage)
            return
        if not items and not allow_empty:
            self.add(path, f"{what} is empty: name at least one role", stage)
        for i, role in enumerate(items):
            if role not in self.roles:
                known = ", ".join(sorted(self.roles))
                self.add((*path, i) if isinstance(value, list) else path,
                         f"unknown role {role!r} in {what} (known: {known})", stage)

    def check_expr(self, value: Any, path: Path, stage: str | None) -> None:
        if value in (None, ""):
            return
        try:
            compile_expr(str(value))
        except ExprError as exc:
            self.add(path, f"bad expression {str(value)!r}: {exc}", stage)

    def check_text(self, value: Any, path: Path, stage: str | None, required: bool) -> None:
        if value is None:
            if required:
                self.add(path, "name is required, with 'en' and 'zh'", stage)
            return
        if isinstance(value, str):
            return
        if not isinstance(value, dict):
            self.add(path, "must be a text or a mapping with 'en' and 'zh'", stage)
            return
        for lang in ("en", "zh"):
            if not value.get(lang):
                self.add(path, f"missing {lang!r} text", stage)

    def run(self) -> None:
        raw = self.raw
        self.unknown_keys(raw, TOP_KEYS, ())
        fid = raw.get("id")
        if not isinstance(fid, str) or not ID_RE.match(fid):
            self.add(("id",), "id must be lower-case letters, digits and underscores, "
                     "starting with a letter")
        version = raw.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.add(("version",), "version must be a whole number >= 1")
        name = raw.get("name")
        if not isinstance(name, dict) or not name.get("en") or not name.get("zh"):
            self.add(("name",), "name must be a mapping with 'en' and 'zh' texts")
        if raw.get("calendar") is not None and (not isinstance(raw["calendar"], str)
                                                or not CALENDAR_RE.match(raw["calendar"])):
            self.add(("calendar",), f"bad calendar id {raw['calendar']!r}: use a name such as "
                     "'cn' or '24x7'")
        self.check_escalation()
        self.check_notify()
        if "create" in raw:
            create = raw["create"]
            if not isinstance(create, dict):
                self.add(("create",), "create must be a mapping with 'roles'")
            else:
                self.unknown_keys(create, {"roles"}, ("create",))
                self.check_roles(create.get("roles"), ("create", "roles"), None, "create.roles")

        stages = raw.get("stages")
        if not isinstance(stages, list) or not stages:
            self.add(("stages",), "stages must be a non-empty list of mappings")
            return
        ids: dict[str, int] = {}
        kinds: dict[str, str] = {}
        for i, st in enumerate(stages):
            path: Path = ("stages", i)
            if not isinstance(st, dict):
                self.add(path, "each stage must be a mapping with an 'id'")
                continue
            sid = st.get("id")
            if not isinstance(sid, str) or not ID_RE.match(sid):
                self.add((*path, "id"), "stage id must be lower-case letters, digits and "
                         "underscores, starting with a letter")
                continue
            if sid in ids:
                self.add((*path, "id"), f"duplicate stage id (first on line "
                         f"{self.lines.get(('stages', ids[sid]))})", sid)
                continue
            ids[sid] = i
            kind = st.get("kind", "normal")
            if kind not in {k.value for k in StageKind}:
                self.add((*path, "kind"), f"unknown kind {kind!r} (normal, approval, terminal)",
                         sid)
                kind = "normal"
            kinds[sid] = kind
        for i, st in enumerate(stages):
            if isinstance(st, dict) and isinstance(st.get("id"), str) and st["id"] in kinds:
                self.check_stage(st, ("stages", i), ids)

        initial = raw.get("initial", stages[0].get("id") if isinstance(stages[0], dict) else None)
        if initial not in ids:
            self.add(("initial",), f"initial stage {initial!r} is not a stage of this flow")
        elif kinds.get(initial) == "terminal":
            self.add(("initial",), f"initial stage {initial!r} is terminal: orders could not "
                     "move at all", initial)

        edges: dict[str, set[str]] = {sid: set() for sid in ids}
        transitions = raw.get("transitions")
        if not isinstance(transitions, list):
            self.add(("transitions",), "transitions must be a list of mappings with 'from' "
                     "and 'to'")
            transitions = []
        seen_pairs: dict[tuple[str, str], int] = {}
        for i, tr in enumerate(transitions):
            self.check_transition(tr, ("transitions", i), ids, kinds, edges, seen_pairs)

        for sid, i in ids.items():
            st = stages[i]
            appr = st.get("approval") if isinstance(st.get("approval"), dict) else None
            if kinds[sid] == "approval" and appr:
                for key in ("approved", "rejected"):
                    if appr.get(key) in ids:
                        edges[sid].add(appr[key])

        cancel_to = self.check_rule("hold", ids, kinds)
        cancel_to = self.check_rule("cancel", ids, kinds) or cancel_to
        if not any(k == "terminal" for k in kinds.values()):
            self.add(("stages",), "no terminal stage: orders could never finish")

        if initial in ids:
            self.check_graph(initial, ids, kinds, edges, cancel_to)

    def check_escalation(self) -> None:
        esc = self.raw.get("escalation")
        if esc is None:
            return
        if not isinstance(esc, dict):
            self.add(("escalation",), "escalation must be a mapping with 'after' (a duration "
                     "such as '2h') and 'levels' (roles)")
            return
        self.unknown_keys(esc, {"after", "levels"}, ("escalation",))
        after = esc.get("after")
        if after is not None and (not isinstance(after, str) or not DURATION_RE.match(after)):
            self.add(("escalation", "after"), f"bad escalation delay {after!r}: use a "
                     "duration with a unit such as '30m', '2h' or '1d'")
        if "levels" in esc:
            self.check_roles(esc["levels"], ("escalation", "levels"), None, "escalation.levels")

    def check_notify(self) -> None:
        notify = self.raw.get("notify")
        if notify is None:
            return
        if not isinstance(notify, dict):
            self.add(("notify",), "notify must be a mapping such as {customer: {events: "
                     "[shipped, delivered], channels: [email]}}")
            return
        self.unknown_keys(notify, {"customer"}, ("notify",))
        customer = notify.get("customer")
        if customer is None:
            return
        if not isinstance(customer, dict):
            self.add(("notify", "customer"), "notify.customer must be a mapping with "
                     "'events' and 'channels'")
            return
        self.unknown_keys(customer, {"events", "channels"}, ("notify", "customer"))
        for key, known in (("events", CUSTOMER_EVENTS), ("channels", CUSTOMER_CHANNELS)):
            value = customer.get(key)
            if value is None:
                continue
            path: Path = ("notify", "customer", key)
            if not isinstance(value, list):
                self.add(path, f"notify.customer.{key} must be a list "
                         f"(known: {', '.join(known)})")
                continue
            for i, item in enumerate(value):
                if item not in known:
                    self.add((*path, i), f"unknown {key[:-1]} {item!r} in notify.customer."
                             f"{key} (known: {', '.join(known)})")

    def check_stage(self, st: dict[str, Any], path: Path, ids: dict[str, int]) -> None:
        sid = st["id"]
        self.unknown_keys(st, STAGE_KEYS, path, sid)
        self.check_text(st.get("name"), (*path, "name"), sid, required=False)
        kind = st.get("kind", "normal")
        if "responsible" in st and st["responsible"] is not None:
            if isinstance(st["responsible"], str):
                self.check_roles(st["responsible"], (*path, "responsible"), sid, "responsible")
            else:
                self.add((*path, "responsible"), "responsible must be one role (who answers "
                         "for the stage); use transition roles to let several roles act", sid)
        elif kind != "terminal":
            self.add(path, "a non-terminal stage needs a responsible role", sid)
        sla = st.get("sla")
        if sla is not None:
            target = sla.get("target") if isinstance(sla, dict) else sla
            if isinstance(sla, dict):
                self.unknown_keys(sla, {"target", "calendar"}, (*path, "sla"), sid)
            if not isinstance(target, str) or not DURATION_RE.match(target):
                self.add((*path, "sla"), f"bad SLA target {target!r}: use a duration with a "
                         "unit such as '90s', '30m', '4h', '2d' or '1d 4h'", sid)
            calendar = sla.get("calendar") if isinstance(sla, dict) else None
            if calendar is not None and (not isinstance(calendar, str)
                                         or not CALENDAR_RE.match(calendar)):
                self.add((*path, "sla", "calendar"), f"bad calendar id {calendar!r}: use a "
                         "name such as 'cn' or '24x7'", sid)
        self.check_on_enter(st.get("on_enter"), (*path, "on_enter"), sid, kind)
        approval = st.get("approval")
        if kind == "approval":
            if not isinstance(approval, dict):
                self.add(path, "an approval stage needs an 'approval' block with levels, "
                         "approved and rejected", sid)
                return
            self.check_approval(approval, (*path, "approval"), sid, ids)
        elif approval is not None:
            self.add((*path, "approval"), "only stages of kind 'approval' take an approval "
                     "block", sid)

    def check_on_enter(self, actions: Any, path: Path, sid: str, kind: str) -> None:
        if actions is None:
            return
        known = ", ".join(ACTION_NAMES)
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            self.add(path, f"on_enter must be a list of stage actions (known: {known})", sid)
            return
        if kind == "terminal" and actions:
            self.add(path, "a terminal stage runs no actions: nothing happens after it", sid)
        for i, name in enumerate(actions):
            if name not in ACTION_NAMES:
                self.add((*path, i), f"unknown stage action {name!r} (known: {known})", sid)
        if len(set(actions)) != len(actions):
            self.add(path, "a stage action is listed twice", sid)

    def check_approval(self, appr: dict[str, Any], path: Path, sid: str,
                       ids: dict[str, int]) -> None:
        self.unknown_keys(appr, APPROVAL_KEYS, path, sid)
        for key in ("approved", "rejected"):
            target = appr.get(key)
            if target is None:
                self.add(path, f"approval.{key} is required: the stage an order goes to when "
                         f"it is {key}", sid)
            elif target not in ids:
                self.add((*path, key), f"approval.{key} names unknown stage {target!r}", sid)
        levels = appr.get("levels")
        if not isinstance(levels, list) or not levels:
            self.add((*path, "levels"), "approval.levels must list at least one level", sid)
            return
        for i, lv in enumerate(levels):
            lpath: Path = (*path, "levels", i)
            if not isinstance(lv, dict):
                self.add(lpath, "each approval level must be a mapping", sid)
                continue
            self.unknown_keys(lv, LEVEL_KEYS, lpath, sid)
            self.check_roles(lv.get("roles"), (*lpath, "roles"), sid, f"level {i + 1} roles")
            required = lv.get("required", 1)
            approvers = lv.get("approvers")
            if not isinstance(required, int) or isinstance(required, bool) or required < 1:
                self.add((*lpath, "required"), "required must be a whole number >= 1", sid)
            elif isinstance(approvers, list) and required > len(approvers):
                self.add((*lpath, "required"), f"required {required} of only "
                         f"{len(approvers)} approvers can never be met", sid)
            if approvers is not None and not (
                isinstance(approvers, list) and all(isinstance(a, str) for a in approvers)
            ):
                self.add((*lpath, "approvers"), "approvers must be a list of user names", sid)
            self.check_expr(lv.get("when"), (*lpath, "when"), sid)

    def check_transition(self, tr: Any, path: Path, ids: dict[str, int], kinds: dict[str, str],
                         edges: dict[str, set[str]],
                         seen: dict[tuple[str, str], int]) -> None:
        if not isinstance(tr, dict):
            self.add(path, "each transition must be a mapping with 'from' and 'to'")
            return
        froms = tr.get("from")
        to = tr.get("to")
        from_list = [froms] if isinstance(froms, str) else froms
        if not isinstance(from_list, list) or not from_list:
            self.add(path, "transition needs 'from': a stage id or a list of stage ids")
            from_list = []
        owner = from_list[0] if from_list and isinstance(from_list[0], str) else None
        self.unknown_keys(tr, TRANSITION_KEYS, path, owner)
        if to is None:
            self.add(path, "transition needs 'to'", owner)
        elif to not in ids:
            self.add((*path, "to"), f"transition goes to unknown stage {to!r}", owner)
        for j, src in enumerate(from_list):
            spath = (*path, "from", j) if isinstance(froms, list) else (*path, "from")
            if src not in ids:
                self.add(spath, f"transition comes from unknown stage {src!r}")
                continue
            if kinds.get(src) == "terminal":
                self.add(spath, "a terminal stage cannot have outgoing transitions", src)
            elif kinds.get(src) == "approval":
                self.add(spath, "an approval stage is left only through its approval outcome "
                         "(approval.approved / approval.rejected) or by cancelling; a plain "
                         "transition would skip the approval", src)
            if to in ids:
                if src == to:
                    self.add(spath, "a transition must lead to another stage", src)
                elif (src, to) in seen:
                    self.add(spath, f"duplicate transition {src} -> {to} (first on line "
                             f"{seen[(src, to)]})", src)
                else:
                    seen[(src, to)] = self.lines.get(path, 0)
                    edges[src].add(to)
        trigger = tr.get("trigger")
        if trigger is not None and (not isinstance(trigger, str) or not TRIGGER_RE.match(trigger)):
            self.add((*path, "trigger"), f"trigger {trigger!r} must be a domain event name "
                     "such as 'shipment.all_delivered'", owner)
        if "roles" in tr or trigger is None:
            self.check_roles(tr.get("roles"), (*path, "roles"), owner, "transition roles",
                             allow_empty=trigger is not None)
        self.check_expr(tr.get("when"), (*path, "when"), owner)
        for key in ("label", "explain"):
            if key in tr:
                self.check_text(tr[key], (*path, key), owner, required=False)

    def check_rule(self, key: str, ids: dict[str, int], kinds: dict[str, str]) -> str | None:
        rule = self.raw.get(key)
        if rule is None:
            return None
        if not isinstance(rule, dict):
            self.add((key,), f"{key} must be a mapping with 'roles' and 'stages'")
            return None
        allowed = RULE_KEYS | ({"to"} if key == "cancel" else set())
        self.unknown_keys(rule, allowed, (key,))
        self.check_roles(rule.get("roles"), (key, "roles"), None, f"{key}.roles")
        stages = rule.get("stages")
        if stages is not None and stages != "*":
            if not isinstance(stages, list):
                self.add((key, "stages"), f"{key}.stages must be a list of stage ids or '*'")
            else:
                for i, sid in enumerate(stages):
                    if sid not in ids:
                        self.add((key, "stages", i), f"{key}.stages names unknown stage {sid!r}")
                    elif kinds[sid] == "terminal":
                        self.add((key, "stages", i), f"{key} from terminal stage makes no "
                                 "sense", sid)
        if key != "cancel":
            return None
        to = rule.get("to", "cancelled")
        if to not in ids:
            self.add((key, "to") if "to" in rule else (key,),
                     f"cancel goes to stage {to!r}, which this flow does not have: add a "
                     "terminal stage for it or set cancel.to")
            return None
        if kinds[to] != "terminal":
            self.add((key, "to"), f"cancel target {to!r} must be a terminal stage", to)
        return to

    def check_graph(self, initial: str, ids: dict[str, int], kinds: dict[str, str],
                    edges: dict[str, set[str]], cancel_to: str | None) -> None:
        reach = {initial}
        queue = deque([initial])
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt not in reach:
                    reach.add(nxt)
                    queue.append(nxt)
        if cancel_to:
            reach.add(cancel_to)
        for sid, i in ids.items():
            if sid not in reach:
                self.add(("stages", i), f"stage {sid!r} is unreachable from the initial stage "
                         f"{initial!r}", sid)
        reverse: dict[str, set[str]] = {sid: set() for sid in ids}
        for src, dsts in edges.items():
            for dst in dsts:
                reverse[dst].add(src)
        finishing = {sid for sid, k in kinds.items() if k == "terminal"}
        queue = deque(finishing)
        while queue:
            for prev in reverse[queue.popleft()]:
                if prev not in finishing:
                    finishing.add(prev)
                    queue.append(prev)
        for sid, i in ids.items():
            if kinds[sid] == "terminal":
                continue
            if not edges[sid]:
                self.add(("stages", i), f"dead end: stage {sid!r} has no way out (add a "
                         "transition from it or make it terminal)", sid)
            elif sid not in finishing and sid in reach:
                self.add(("stages", i), f"stage {sid!r} can never reach a terminal stage "
                         "(its transitions only loop)", sid)


def check_flow(text: str, roles: frozenset[str] = frozenset(BUILTIN_ROLES),
               ) -> tuple[FlowDef | None, dict[str, Any] | None, list[Problem]]:
    """Validate a YAML flow document; return the flow, its plain data and any problems."""
    try:
        raw, lines = _load_with_lines(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, None, [Problem(line, f"YAML syntax error: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, None, [Problem(None, f"YAML error: {exc}")]
    if not isinstance(raw, dict):
        return None, None, [Problem(1, "a flow document must be a mapping with id, version, "
                                       "name, stages and transitions")]
    checker = _Checker(raw, lines, roles)
    checker.run()
    problems = sorted(checker.problems, key=lambda p: (p.line or 0, p.message))
    if problems:
        return None, raw, problems
    return build_flow(raw), raw, []


def parse_flow(text: str, roles: frozenset[str] = frozenset(BUILTIN_ROLES)) -> FlowDef:
    """Validate and build a flow, raising FlowInvalid with every problem found."""
    flow, _raw, problems = check_flow(text, roles)
    if problems or flow is None:
        raise FlowInvalid(problems)
    return flow
