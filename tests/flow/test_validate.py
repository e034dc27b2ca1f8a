"""The flow validator: every problem in a flow document, each named with its line and stage."""

from __future__ import annotations

import pytest

from ordertrail.flow.definition import StageKind
from ordertrail.flow.service import BUILTIN_FLOWS, builtin_source
from ordertrail.flow.validate import FlowInvalid, Problem, check_flow, parse_flow

# A small valid flow; tests change one thing at a time and expect exactly that problem.
BASE = """\
id: demo
version: 1
name: {en: Demo, zh: 演示}
stages:
  - id: new
    name: {en: New, zh: 新建}
    responsible: sales
    sla: 4h
  - id: packing
    responsible: warehouse
  - id: done
    kind: terminal
  - id: cancelled
    kind: terminal
cancel:
  roles: [sales]
transitions:
  - from: new
    to: packing
    roles: [sales]
  - from: packing
    to: done
    roles: [warehouse]
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line on which ``needle`` occurs for the nth time."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{needle!r} not in the document")


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def problems(text: str) -> list[Problem]:
    flow, _raw, found = check_flow(text)
    assert (flow is None) == bool(found), "a flow is built exactly when there are no problems"
    return found


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_the_base_flow_is_valid():
    flow = parse_flow(BASE)
    assert [s.id for s in flow.stages] == ["new", "packing", "done", "cancelled"]
    assert flow.initial == "new"
    assert flow.cancel is not None and flow.cancel.to == "cancelled"
    assert flow.stage("new").name.zh == "新建"
    assert flow.stage("packing").name.en == "packing"  # the id stands in for a missing name


# The document itself -------------------------------------------------------------------------


def test_yaml_syntax_error_names_its_line():
    text = edit("    to: done\n", "    to: done: now\n")
    p = only(text)
    assert p.message == "YAML syntax error: mapping values are not allowed here"
    assert p.line == line_of(text, "to: done: now")


def test_unclosed_bracket_is_a_syntax_error():
    text = edit("    roles: [warehouse]\n", "    roles: [warehouse\n")
    p = only(text)
    assert p.message.startswith("YAML syntax error")
    assert p.line is not None and p.line > line_of(text, "roles: [warehouse")


def test_tab_indentation_is_a_syntax_error_on_its_line():
    text = edit("    responsible: warehouse\n", "\tresponsible: warehouse\n")
    p = only(text)
    assert "YAML syntax error" in p.message
    assert p.line == line_of(text, "\tresponsible")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just words\n"])
def test_a_document_that_is_not_a_mapping(text):
    p = only(text)
    assert p.line == 1
    assert "must be a mapping" in p.message


def test_parse_flow_raises_with_every_problem():
    text = edit("    to: packing\n", "    to: pakcing\n")
    with pytest.raises(FlowInvalid) as err:
        parse_flow(text)
    assert err.value.problems == problems(text)
    assert "unknown stage 'pakcing'" in str(err.value)
    assert f"line {line_of(text, 'pakcing')}, stage 'new'" in str(err.value)


# Header: id, version, name ----------------------------------------------------------------------


def test_missing_id():
    p = only(edit("id: demo\n", ""))
    assert p.message.startswith("id must be")
    assert p.line == 1


@pytest.mark.parametrize("bad", ["Demo", "1demo", "demo-flow", "'demo flow'"])
def test_bad_id(bad):
    text = edit("id: demo\n", f"id: {bad}\n")
    p = only(text)
    assert p.message.startswith("id must be") and p.line == 1


def test_missing_version():
    p = only(edit("version: 1\n", ""))
    assert "version must be a whole number" in p.message


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "'1'", "true"])
def test_bad_version_names_its_line(bad):
    text = edit("version: 1\n", f"version: {bad}\n")
    p = only(text)
    assert "version must be a whole number" in p.message
    assert p.line == 2


def test_missing_name():
    p = only(edit("name: {en: Demo, zh: 演示}\n", ""))
    assert "name must be a mapping with 'en' and 'zh'" in p.message


def test_name_without_chinese():
    text = edit("name: {en: Demo, zh: 演示}\n", "name: {en: Demo}\n")
    p = only(text)
    assert "'zh'" in p.message and p.line == 3 and p.stage is None


def test_stage_name_without_chinese_names_the_stage():
    text = edit("    name: {en: New, zh: 新建}\n", "    name: {en: New}\n")
    p = only(text)
    assert p.message == "missing 'zh' text"
    assert (p.line, p.stage) == (line_of(text, "name: {en: New}"), "new")


# Unknown keys ---------------------------------------------------------------------------------


def test_unknown_top_level_key():
    text = BASE + "stagse: []\n"
    p = only(text)
    assert p.message.startswith("unknown key 'stagse' (allowed: ")
    assert "stages" in p.message and "transitions" in p.message
    assert (p.line, p.stage) == (line_of(text, "stagse"), None)


def test_unknown_stage_key():
    text = edit("    sla: 4h\n", "    sla: 4h\n    responsable: sales\n")
    p = only(text)
    assert p.message.startswith("unknown key 'responsable'")
    assert "responsible" in p.message
    assert (p.line, p.stage) == (line_of(text, "responsable"), "new")


def test_unknown_transition_key():
    text = edit("    roles: [warehouse]\n", "    roles: [warehouse]\n    condition: total > 1\n")
    p = only(text)
    assert p.message.startswith("unknown key 'condition'")
    assert "when" in p.message
    assert (p.line, p.stage) == (line_of(text, "condition:"), "packing")


# Stages ---------------------------------------------------------------------------------------


def test_duplicate_stage_id_names_both_lines():
    text = edit("  - id: cancelled\n",
                "  - id: packing\n    responsible: sales\n  - id: cancelled\n")
    p = only(text)
    first = line_of(text, "- id: packing")
    assert p.message == f"duplicate stage id (first on line {first})"
    assert (p.line, p.stage) == (line_of(text, "- id: packing", 2), "packing")


def test_unknown_kind():
    text = edit("    responsible: warehouse\n", "    responsible: warehouse\n    kind: final\n")
    p = only(text)
    assert p.message == "unknown kind 'final' (normal, approval, terminal)"
    assert (p.line, p.stage) == (line_of(text, "kind: final"), "packing")


def test_non_terminal_stage_needs_a_responsible_role():
    text = edit("    responsible: warehouse\n", "")
    p = only(text)
    assert "needs a responsible role" in p.message
    assert (p.line, p.stage) == (line_of(text, "- id: packing"), "packing")


@pytest.mark.parametrize("bad", ["Packing", "2nd", "pack-ing"])
def test_bad_stage_id(bad):
    text = edit("  - id: cancelled\n", f"  - id: {bad}\n    kind: terminal\n  - id: cancelled\n")
    p = only(text)
    assert p.message.startswith("stage id must be")
    assert p.line == line_of(text, f"- id: {bad}")


# Roles ----------------------------------------------------------------------------------------


def test_unknown_responsible_role():
    text = edit("    responsible: warehouse\n", "    responsible: warehose\n")
    p = only(text)
    assert p.message.startswith("unknown role 'warehose' in responsible (known: admin, ")
    assert (p.line, p.stage) == (line_of(text, "warehose"), "packing")


def test_unknown_transition_role_names_the_item_line():
    text = edit("    roles: [warehouse]\n", "    roles:\n      - warehouse\n      - shipper\n")
    p = only(text)
    assert p.message.startswith("unknown role 'shipper' in transition roles")
    assert (p.line, p.stage) == (line_of(text, "- shipper"), "packing")


def test_transition_without_roles_and_without_trigger():
    text = edit("    roles: [warehouse]\n", "")
    p = only(text)
    assert p.message == "transition roles is empty: name at least one role"
    assert p.stage == "packing"


def test_automatic_transition_needs_no_roles():
    text = edit("    roles: [warehouse]\n", "    trigger: shipment.all_delivered\n")
    assert problems(text) == []
    flow = parse_flow(text)
    assert flow.transitions_from("packing")[0].roles == ()


def test_bad_trigger_name():
    text = edit("    roles: [warehouse]\n", "    trigger: Delivered\n")
    p = only(text)
    assert "trigger 'Delivered' must be a domain event name" in p.message
    assert (p.line, p.stage) == (line_of(text, "trigger:"), "packing")


def test_unknown_approval_level_role():
    text = APPROVAL.replace("roles: [finance]", "roles: [cfo]")
    p = only(text)
    assert p.message.startswith("unknown role 'cfo' in level 1 roles")
    assert (p.line, p.stage) == (line_of(text, "[cfo]"), "credit")


@pytest.mark.parametrize("block", ["hold", "cancel"])
def test_unknown_hold_and_cancel_roles(block):
    text = BASE + ("hold:\n  roles: [boss]\n" if block == "hold" else "")
    if block == "cancel":
        text = edit("cancel:\n  roles: [sales]\n", "cancel:\n  roles: [sales, boss]\n")
    p = only(text)
    assert p.message.startswith(f"unknown role 'boss' in {block}.roles")
    assert p.line == line_of(text, "boss")


def test_unknown_create_role():
    text = edit("stages:\n", "create:\n  roles: [sales, clerk]\nstages:\n")
    p = only(text)
    assert p.message.startswith("unknown role 'clerk' in create.roles")
    assert p.line == line_of(text, "clerk")


def test_custom_roles_can_be_allowed():
    text = edit("    responsible: warehouse\n", "    responsible: packer\n")
    assert problems(text)
    assert check_flow(text, roles=frozenset({"sales", "packer", "warehouse"}))[2] == []


# Transitions and the graph ---------------------------------------------------------------------


def test_transition_to_unknown_stage():
    text = edit("    to: packing\n", "    to: pakcing\n")
    found = problems(text)
    bad = [p for p in found if "unknown stage" in p.message]
    assert len(bad) == 1
    assert bad[0].message == "transition goes to unknown stage 'pakcing'"
    assert (bad[0].line, bad[0].stage) == (line_of(text, "pakcing"), "new")
    # The broken edge also leaves the rest of the flow cut off, and says so.
    assert any("unreachable" in p.message and p.stage == "packing" for p in found)


def test_transition_from_unknown_stage():
    text = edit("  - from: packing\n", "  - from: [packing, pakcing]\n")
    p = only(text)
    assert p.message == "transition comes from unknown stage 'pakcing'"
    assert p.line == line_of(text, "pakcing")


def test_unreachable_stage():
    text = edit("  - id: done\n", "  - id: limbo\n    responsible: sales\n  - id: done\n")
    text += "  - from: limbo\n    to: done\n    roles: [sales]\n"
    p = only(text)
    assert p.message == "stage 'limbo' is unreachable from the initial stage 'new'"
    assert (p.line, p.stage) == (line_of(text, "- id: limbo"), "limbo")


def test_dead_end():
    text = edit("  - from: packing\n    to: done\n    roles: [warehouse]\n", "")
    found = problems(text)
    dead = [p for p in found if p.message.startswith("dead end")]
    assert len(dead) == 1
    assert "stage 'packing' has no way out" in dead[0].message
    assert (dead[0].line, dead[0].stage) == (line_of(text, "- id: packing"), "packing")


def test_loop_that_never_reaches_a_terminal_stage():
    text = edit("  - from: packing\n    to: done\n", "  - from: packing\n    to: new\n")
    found = problems(text)
    looping = {p.stage: p for p in found if "can never reach a terminal stage" in p.message}
    assert set(looping) == {"new", "packing"}
    assert looping["new"].line == line_of(text, "- id: new")
    assert looping["packing"].line == line_of(text, "- id: packing")


def test_a_loop_with_a_way_out_is_fine():
    text = BASE + "  - from: packing\n    to: new\n    roles: [warehouse]\n"
    assert problems(text) == []


def test_terminal_stage_with_outgoing_transition():
    text = BASE + "  - from: done\n    to: packing\n    roles: [manager]\n"
    p = only(text)
    assert p.message == "a terminal stage cannot have outgoing transitions"
    assert (p.line, p.stage) == (line_of(text, "- from: done"), "done")


def test_transition_to_itself_and_duplicate_transition():
    text = BASE + ("  - from: new\n    to: new\n    roles: [sales]\n"
                   "  - from: new\n    to: packing\n    roles: [manager]\n")
    found = problems(text)
    assert [p.message for p in found] == [
        "a transition must lead to another stage",
        f"duplicate transition new -> packing (first on line {line_of(text, '- from: new')})",
    ]
    assert [p.line for p in found] == [line_of(text, "- from: new", 2),
                                       line_of(text, "- from: new", 3)]


def test_no_terminal_stage():
    text = """\
id: demo
version: 1
name: {en: Demo, zh: 演示}
stages:
  - id: a
    responsible: sales
  - id: b
    responsible: sales
transitions:
  - from: a
    to: b
    roles: [sales]
  - from: b
    to: a
    roles: [sales]
"""
    found = problems(text)
    assert [(p.line, p.stage, p.message.split(" (")[0]) for p in found] == [
        (4, None, "no terminal stage: orders could never finish"),
        (5, "a", "stage 'a' can never reach a terminal stage"),
        (7, "b", "stage 'b' can never reach a terminal stage"),
    ]


def test_initial_stage_must_exist_and_not_be_terminal():
    text = "initial: done\n" + BASE
    found = problems(text)
    assert found[0].message == "initial stage 'done' is terminal: orders could not move at all"
    assert (found[0].line, found[0].stage) == (1, "done")
    text = "initial: start\n" + BASE
    assert problems(text)[0].message == "initial stage 'start' is not a stage of this flow"


# Expressions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("when", "says"), [
    ("total >=", "syntax error"),
    ("amount >= 5000", "unknown name 'amount' (known: "),
    ("().__class__", "'__class__'"),
    ("customer.__class__.__subclasses__()", "'__"),
    ("__import__('os')", "unknown name '__import__'"),
    ("'lambda: 1'", "Lambda"),
    ("'\"x\" in [t.__class__ for t in tags]'", "'__class__'"),
])
def test_bad_expression_names_the_line_and_stage(when, says):
    text = edit("    roles: [warehouse]\n", f"    roles: [warehouse]\n    when: {when}\n")
    p = only(text)
    assert p.message.startswith("bad expression ")
    assert says in p.message
    assert (p.line, p.stage) == (line_of(text, "when:"), "packing")


def test_good_expression_is_compiled_into_the_flow():
    text = edit("    roles: [warehouse]\n",
                '    roles: [warehouse]\n    when: total >= 5000 and "vip" in tags\n')
    tr = parse_flow(text).transitions_from("packing")[0]
    assert tr.when is not None and tr.when.names == ("total", "tags")


def test_bad_expression_in_approval_level():
    text = APPROVAL.replace("when: total >= 200000", "when: totl >= 200000")
    p = only(text)
    assert "unknown name 'totl'" in p.message
    assert (p.line, p.stage) == (line_of(text, "totl"), "credit")


# SLA targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sla", ["90s", "30m", "45min", "4h", "2d", "1d 4h", "1.5h",
                                 "{target: 90s, calendar: 24x7}",
                                 "{target: '1d 4h', calendar: cn_workdays}"])
def test_good_sla_targets(sla):
    text = edit("    sla: 4h\n", f"    sla: {sla}\n")
    assert problems(text) == []


@pytest.mark.parametrize("sla", ["4 hours", "h4", "soon", "-1h", "4h later", "''", "[4h]",
                                 "{calendar: 24x7}", "{target: 4 hours}", "3600"])
def test_bad_sla_targets(sla):
    text = edit("    sla: 4h\n", f"    sla: {sla}\n")
    p = only(text)
    assert p.message.startswith("bad SLA target ")
    assert "'90s', '30m', '4h', '2d' or '1d 4h'" in p.message
    assert (p.line, p.stage) == (line_of(text, "sla:"), "new")


def test_bad_sla_calendar_id():
    text = edit("    sla: 4h\n", "    sla: {target: 4h, calendar: 'Not A Calendar!'}\n")
    p = only(text)
    assert p.message.startswith("bad calendar id ")
    assert p.stage == "new"


def test_unknown_sla_key():
    text = edit("    sla: 4h\n", "    sla: {target: 4h, calender: 24x7}\n")
    p = only(text)
    assert p.message.startswith("unknown key 'calender'")
    assert (p.line, p.stage) == (line_of(text, "calender"), "new")


# Approvals --------------------------------------------------------------------------------------

APPROVAL = """\
id: credit
version: 1
name: {en: Credit, zh: 信用}
stages:
  - id: review
    responsible: sales
  - id: credit
    kind: approval
    responsible: finance
    approval:
      levels:
        - id: finance
          roles: [finance]
        - id: gm
          roles: [manager]
          when: total >= 200000
      approved: picking
      rejected: review
  - id: picking
    responsible: warehouse
  - id: done
    kind: terminal
transitions:
  - from: review
    to: credit
    roles: [sales]
  - from: picking
    to: done
    roles: [warehouse]
"""


def test_approval_flow_is_valid():
    flow = parse_flow(APPROVAL)
    stage = flow.stage("credit")
    assert stage.kind == StageKind.APPROVAL and stage.approval is not None
    assert [lv.id for lv in stage.approval.levels] == ["finance", "gm"]
    assert (stage.approval.approved, stage.approval.rejected) == ("picking", "review")


def test_approval_stage_without_approval_block():
    text = APPROVAL.replace("""    approval:
      levels:
        - id: finance
          roles: [finance]
        - id: gm
          roles: [manager]
          when: total >= 200000
      approved: picking
      rejected: review
""", "")
    found = problems(text)
    block = [p for p in found if "needs an 'approval' block" in p.message]
    assert len(block) == 1
    assert (block[0].line, block[0].stage) == (line_of(text, "- id: credit"), "credit")


def test_approval_block_on_a_normal_stage():
    text = APPROVAL.replace("    kind: approval\n", "")
    found = problems(text)
    assert any(p.message == "only stages of kind 'approval' take an approval block"
               and p.stage == "credit" and p.line == line_of(text, "approval:")
               for p in found)


def test_required_more_than_approvers():
    text = APPROVAL.replace("          roles: [finance]\n",
                            "          roles: [finance]\n          required: 3\n"
                            "          approvers: [fiona, frank]\n")
    p = only(text)
    assert p.message == "required 3 of only 2 approvers can never be met"
    assert (p.line, p.stage) == (line_of(text, "required: 3"), "credit")


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_required_must_be_a_positive_whole_number(bad):
    text = APPROVAL.replace("          roles: [finance]\n",
                            f"          roles: [finance]\n          required: {bad}\n")
    p = only(text)
    assert p.message == "required must be a whole number >= 1"


def test_approval_targets_must_be_stages():
    text = APPROVAL.replace("approved: picking", "approved: pickng")
    found = problems(text)
    assert any(p.message == "approval.approved names unknown stage 'pickng'"
               and p.line == line_of(text, "approved: pickng") for p in found)


def test_approval_without_rejected_target():
    text = APPROVAL.replace("      rejected: review\n", "")
    p = only(text)
    assert p.message.startswith("approval.rejected is required")
    assert p.stage == "credit"


def test_approval_without_levels():
    text = APPROVAL.replace("""      levels:
        - id: finance
          roles: [finance]
        - id: gm
          roles: [manager]
          when: total >= 200000
""", "      levels: []\n")
    p = only(text)
    assert p.message == "approval.levels must list at least one level"


# Cancel and hold --------------------------------------------------------------------------------


def test_cancel_to_a_stage_the_flow_does_not_have():
    text = edit("  - id: cancelled\n    kind: terminal\n", "")
    p = only(text)
    assert p.message.startswith("cancel goes to stage 'cancelled', which this flow does not "
                                "have")
    assert p.line == line_of(text, "cancel:")


def test_cancel_to_a_named_missing_stage():
    text = edit("cancel:\n  roles: [sales]\n", "cancel:\n  roles: [sales]\n  to: voided\n")
    found = problems(text)
    assert any("cancel goes to stage 'voided'" in p.message
               and p.line == line_of(text, "to: voided") for p in found)


def test_cancel_to_a_stage_that_is_not_terminal():
    text = edit("cancel:\n  roles: [sales]\n", "cancel:\n  roles: [sales]\n  to: packing\n")
    found = problems(text)
    assert any(p.message == "cancel target 'packing' must be a terminal stage"
               and (p.line, p.stage) == (line_of(text, "to: packing"), "packing")
               for p in found)


def test_cancel_from_unknown_or_terminal_stages():
    text = edit("cancel:\n  roles: [sales]\n",
                "cancel:\n  roles: [sales]\n  stages: [new, nowhere, done]\n")
    found = problems(text)
    assert sorted((p.message, p.stage) for p in found) == [
        ("cancel from terminal stage makes no sense", "done"),
        ("cancel.stages names unknown stage 'nowhere'", None),
    ]
    assert all(p.line == line_of(text, "stages: [new") for p in found)


def test_cancel_stage_is_not_unreachable_when_cancelling_leads_there():
    assert problems(BASE) == []
    found = problems(edit("cancel:\n  roles: [sales]\n", ""))
    assert [p.message for p in found] == [
        "stage 'cancelled' is unreachable from the initial stage 'new'"]


def test_hold_rule():
    text = BASE + "hold:\n  roles: [sales]\n  stages: [new, packing]\n"
    flow = parse_flow(text)
    assert flow.hold is not None and flow.hold.allows_stage("packing")
    assert not flow.hold.allows_stage("done")
    assert problems(BASE + "hold:\n  roles: [sales]\n  until: tomorrow\n")[0].message.startswith(
        "unknown key 'until'")


# Many problems at once ---------------------------------------------------------------------------


def test_every_problem_is_reported_sorted_by_line():
    text = """\
id: Demo
version: 1
name: {en: Demo}
stages:
  - id: new
    responsible: sales
    sla: soon
  - id: packing
    responsible: packer
  - id: new
    responsible: sales
  - id: done
    kind: terminal
transitions:
  - from: new
    to: packing
    roles: [sales]
    when: amount > 1
  - from: packing
    to: shipped
    roles: [warehouse]
  - from: done
    to: new
    roles: [manager]
"""
    found = problems(text)
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)
    expected = {
        (1, None, "id must be"),
        (3, None, "name must be a mapping"),
        (5, "new", "stage 'new' can never reach a terminal stage"),
        (7, "new", "bad SLA target 'soon'"),
        (8, "packing", "dead end"),
        (9, "packing", "unknown role 'packer'"),
        (10, "new", "duplicate stage id (first on line 5)"),
        (12, "done", "unreachable"),
        (18, "new", "bad expression 'amount > 1'"),
        (20, "packing", "transition goes to unknown stage 'shipped'"),
        (22, "done", "a terminal stage cannot have outgoing transitions"),
    }
    for line, stage, start in expected:
        assert any(p.line == line and p.stage == stage and start in p.message for p in found), (
            line, stage, start, [str(p) for p in found])
    assert len(found) == len(expected)
    with pytest.raises(FlowInvalid) as err:
        parse_flow(text)
    assert len(err.value.problems) == len(expected)


def test_problem_text_and_dict_name_line_and_stage():
    p = Problem(12, "dead end", "packing")
    assert str(p) == "line 12, stage 'packing': dead end"
    assert p.as_dict() == {"line": 12, "stage": "packing", "message": "dead end"}
    assert str(Problem(None, "no terminal stage")) == "flow: no terminal stage"


# Built-in templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("flow_id", BUILTIN_FLOWS)
def test_builtin_templates_are_valid(flow_id):
    text = builtin_source(flow_id)
    assert problems(text) == []
    flow = parse_flow(text)
    assert flow.id == flow_id and flow.version == 1
    assert flow.name.en and flow.name.zh and flow.name.en != flow.name.zh
    for stage in flow.stages:
        assert stage.name.zh != stage.name.en, f"{stage.id} needs a Chinese name"


def test_retail_template_ships_and_delivers():
    flow = parse_flow(builtin_source("retail"))
    ids = [s.id for s in flow.stages]
    assert {"shipped", "delivered"} <= set(ids)
    assert ids.index("shipped") < ids.index("delivered")
    assert "delivered" in [t.to for t in flow.transitions_from("shipped")]


def happy_path(flow_id: str) -> list[str]:
    """Follow the first non-cancel transition from the initial stage to a terminal one."""
    flow = parse_flow(builtin_source(flow_id))
    path, stage = [flow.initial], flow.stage(flow.initial)
    while stage.kind != StageKind.TERMINAL:
        if stage.approval is not None:
            nxt = stage.approval.approved
        else:
            nxt = next(t.to for t in flow.transitions_from(stage.id) if t.to not in path)
        path.append(nxt)
        stage = flow.stage(nxt)
    return path


def test_make_to_order_happy_path():
    assert happy_path("make_to_order") == [
        "review", "material_check", "production", "qc", "outbound", "shipped", "delivered",
        "invoiced", "paid", "closed"]


def test_make_to_order_qc_can_send_back_to_production():
    flow = parse_flow(builtin_source("make_to_order"))
    assert sorted(t.to for t in flow.transitions_from("qc")) == ["outbound", "production"]


def test_b2b_credit_approval():
    flow = parse_flow(builtin_source("b2b_credit"))
    stage = flow.stage("credit_approval")
    assert stage.kind == StageKind.APPROVAL and stage.approval is not None
    finance, manager = stage.approval.levels
    assert finance.roles == ("finance",) and finance.when is None
    assert manager.roles == ("manager",)
    assert manager.when is not None and manager.when.source == "total >= 200000"
    assert happy_path("b2b_credit")[:3] == ["review", "credit_approval", "picking"]
    assert happy_path("b2b_credit")[-1] == "closed"
