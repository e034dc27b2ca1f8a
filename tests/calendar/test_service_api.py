"""Company calendars and SLA policies in the database, over the service and the HTTP API."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ordertrail.calendar import service
from ordertrail.calendar.schemas import CalendarIn
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.models import OutboxEvent
from ordertrail.sla import policy
from tests.conftest import ctx_for

SH = timezone(timedelta(hours=8))
H = 3600
PROBLEM = "application/problem+json"
ACME = {
    "name": "ACME Shenzhen plant",
    "timezone": "Asia/Shanghai",
    "base": "cn",
    "hours": {"mon": ["08:30-12:00", "13:00-17:30"], "tue": "08:30-12:00 13:00-17:30",
              "wed": [["08:30", "12:00"], ["13:00", "17:30"]],
              "thu": ["08:30-12:00", "13:00-17:30"], "fri": ["08:30-12:00", "13:00-17:30"],
              "sat": ["09:00-12:00"]},
    "holidays": ["2026-12-24..2026-12-31", "2026-12-05"],
    "workdays": ["2026-12-06"],
}


def test_custom_calendar_with_a_shutdown(db, clock, settings, people) -> None:
    ctx = ctx_for(db, "grace", clock, settings)
    read = service.put_calendar(ctx, "acme", CalendarIn(**ACME))
    assert read.hours["tue"] == ["08:30-12:00", "13:00-17:30"] and read.hours["sat"]
    assert read.holidays == ["2026-12-24..2026-12-31", "2026-12-05"]
    assert read.day_seconds == 8 * H
    cal = service.get_calendar(db, "acme")
    # Wednesday 23 Dec 17:00 + 1h: half an hour that day, shutdown to the 31st, then
    # 1 January is China's New Year holiday (inherited from cn); Saturday the 2nd is a
    # working morning here: due 09:30.
    due = cal.add(datetime(2026, 12, 23, 17, 0, tzinfo=SH), H)
    assert due == datetime(2027, 1, 2, 9, 30, tzinfo=SH)
    assert cal.day_kind(date(2026, 12, 28)) == "holiday"
    assert cal.day_kind(date(2026, 12, 6)) == "makeup"  # a Sunday worked
    assert cal.day_kind(date(2026, 12, 5)) == "holiday"  # a Saturday shut
    assert cal.day_kind(date(2026, 12, 12)) == "working"  # Saturday mornings are worked
    assert cal.day_kind(date(2027, 1, 1)) == "holiday"
    ids = [c.id for c in service.list_calendars(db)]
    assert ids[:3] == ["cn", "cn_mainland", "24x7"] and "acme" in ids
    events = db.scalars(select(OutboxEvent.name).where(OutboxEvent.aggregate == "calendar"))
    assert list(events) == ["calendar.updated"]


def test_replacing_a_calendar_is_seen_at_once(db, clock, settings, people) -> None:
    ctx = ctx_for(db, "root", clock, settings)
    service.put_calendar(ctx, "acme", CalendarIn(**ACME))
    assert service.get_calendar(db, "acme").day_seconds == 8 * H
    service.put_calendar(ctx, "acme", CalendarIn(**{**ACME, "hours": {"mon": ["09:00-13:00"]}}))
    assert service.get_calendar(db, "acme").day_seconds == 4 * H
    service.delete_calendar(ctx, "acme")
    with pytest.raises(NotFound, match="no calendar 'acme'"):
        service.get_calendar(db, "acme")


@pytest.mark.parametrize(("change", "words"), [
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
    ({"hours": {"mon": ["09:00-12:00", "11:00-14:00"]}}, "overlap"),
    ({"hours": {"mon": ["12:00-09:00"]}}, "ends before it starts"),
    ({"hours": {"mon": ["25:00-26:00"]}}, "bad time"),
    ({"hours": {"mon": ["9-12"]}}, "bad time"),
    ({"hours": {"funday": ["09:00-12:00"]}}, "unknown day 'funday'"),
    ({"hours": {}}, "no working time"),
    ({"holidays": ["2026-02-30"]}, "holidays: bad date"),
    ({"holidays": ["2026-12-31..2026-12-01"]}, "ends before it starts"),
    ({"holidays": ["2026-01-01..2027-06-01"]}, "longer than 366 days"),
    ({"workdays": ["2026-12-05"]}, "also listed as a holiday"),
    ({"base": "24x7"}, "base:"),
])
def test_invalid_calendars_say_why(db, clock, settings, people, change, words) -> None:
    ctx = ctx_for(db, "grace", clock, settings)
    with pytest.raises(Invalid) as err:
        service.put_calendar(ctx, "acme", CalendarIn(**{**ACME, **change}))
    assert words in str(err.value)


def test_calendar_rules_for_ids_roles_and_builtins(db, clock, settings, people) -> None:
    with pytest.raises(Invalid, match="bad calendar id"):
        service.put_calendar(ctx_for(db, "grace", clock, settings), "ACME!", CalendarIn(**ACME))
    with pytest.raises(Conflict, match="read-only"):
        service.put_calendar(ctx_for(db, "grace", clock, settings), "cn", CalendarIn(**ACME))
    with pytest.raises(Forbidden, match="manager or admin"):
        service.put_calendar(ctx_for(db, "alice", clock, settings), "acme", CalendarIn(**ACME))


def test_policies_stored_and_resolved(db, clock, settings, people) -> None:
    from ordertrail.calendar.schemas import PolicyIn

    ctx = ctx_for(db, "grace", clock, settings)
    service.put_calendar(ctx, "acme", CalendarIn(**ACME))
    vip = policy.create_policy(ctx, PolicyIn(name="VIP", when='"vip" in tags', factor=0.5))
    policy.create_policy(ctx, PolicyIn(name="retail review", flow="retail", stage="review",
                                       target="30m", calendar="acme"))
    policy.create_policy(ctx, PolicyIn(name="off", factor=0.1, enabled=False))
    facts = {"tags": ["vip"], "flow": "retail", "stage": "review"}
    got = policy.resolve_for(db, "retail", "review", "2h", "cn", facts)
    assert (got.seconds, got.calendar_id, got.policy) == (1800, "acme", "retail review")
    got = policy.resolve_for(db, "retail", "pack", "1d", None, facts)
    assert (got.seconds, got.calendar_id, got.policy) == (4 * H, "cn", "VIP")
    got = policy.resolve_for(db, "b2b_credit", "pack", "1d", "acme", {"tags": []})
    assert (got.seconds, got.policy) == (8 * H, None)
    with pytest.raises(Conflict, match="used by SLA policy"):
        service.delete_calendar(ctx, "acme")
    policy.delete_policy(ctx, vip.id)
    assert policy.resolve_for(db, "retail", "pack", "1d", None, facts).policy is None
    with pytest.raises(NotFound):
        policy.delete_policy(ctx, vip.id)


# -- HTTP ----------------------------------------------------------------------------------------


def test_api_due_and_days(client, people) -> None:
    h = people.headers("vera")
    r = client.get("/api/v1/calendars/cn/due", headers=h,
                   params={"start": "2026-09-30T17:00:00+08:00", "duration": "2h"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["due_local"] == "2026-10-08T10:00:00+08:00"
    assert body["due_at"] == "2026-10-08T02:00:00Z"
    assert body["business_seconds"] == 7200 and body["calendar"] == "cn"
    r = client.get("/api/v1/calendars/cn/days", headers=h,
                   params={"from": "2026-02-13", "to": "2026-02-16"})
    kinds = [(d["date"], d["kind"], d["seconds"]) for d in r.json()["days"]]
    assert kinds == [("2026-02-13", "working", 8 * H), ("2026-02-14", "makeup", 8 * H),
                     ("2026-02-15", "off", 0), ("2026-02-16", "holiday", 0)]
    assert client.get("/api/v1/calendars", headers=h).json()["calendars"][0]["id"] == "cn"
    cn = client.get("/api/v1/calendars/cn", headers=h).json()
    assert cn["builtin"] and "python-holidays" in cn["source"]


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/api/v1/calendars/cn/due", {"start": "tomorrow", "duration": "2h"}, 422, "bad time"),
    ("/api/v1/calendars/cn/due", {"start": "2026-09-30T17:00:00", "duration": "2h"}, 422,
     "no UTC offset"),
    ("/api/v1/calendars/cn/due", {"start": "2026-09-30T17:00:00Z", "duration": "2 hours"},
     422, "bad duration"),
    ("/api/v1/calendars/nowhere/due", {"start": "2026-09-30T17:00:00Z", "duration": "2h"},
     404, "no calendar 'nowhere'"),
    ("/api/v1/calendars/cn/days", {"from": "2026-02-13", "to": "2028-02-13"}, 422,
     "at most 366 days"),
])
def test_api_bad_questions(client, people, path, params, status, words) -> None:
    r = client.get(path, headers=people.headers("vera"), params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert words in r.json()["detail"]


def test_api_calendar_and_policy_writes(client, people) -> None:
    m, viewer = people.headers("grace"), people.headers("vera")
    r = client.put("/api/v1/calendars/acme", headers=m, json=ACME)
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/calendars/acme/due", headers=viewer,
                   params={"start": "2026-12-23T17:00:00+08:00", "duration": "30m"})
    assert r.json()["due_local"] == "2026-12-23T17:30:00+08:00"
    r = client.put("/api/v1/calendars/acme", headers=viewer, json=ACME)
    assert r.status_code == 403
    r = client.put("/api/v1/calendars/cn", headers=m, json=ACME)
    assert r.status_code == 409
    r = client.put("/api/v1/calendars/acme", headers=m,
                   json={**ACME, "timezone": "Nowhere/Town"})
    assert r.status_code == 422 and "timezone" in r.json()["detail"]
    r = client.put("/api/v1/calendars/acme", headers=m, json={**ACME, "colour": "red"})
    assert r.status_code == 422

    r = client.post("/api/v1/sla-policies", headers=m,
                    json={"name": "VIP", "when": '"vip" in tags', "factor": 0.5})
    assert r.status_code == 201, r.text
    vip = r.json()
    assert vip["when"] == '"vip" in tags' and vip["factor"] == 0.5
    r = client.post("/api/v1/sla-policies", headers=m,
                    json={"name": "bad", "when": "vip ==", "factor": 0.5})
    assert r.status_code == 422 and r.json()["detail"].startswith("when:")
    r = client.post("/api/v1/sla-policies", headers=m,
                    json={"name": "bad", "factor": 0.5, "calendar": "nowhere"})
    assert r.status_code == 422 and r.json()["detail"].startswith("calendar:")
    r = client.post("/api/v1/sla-policies", headers=viewer, json={"name": "x", "factor": 2})
    assert r.status_code == 403
    listed = client.get("/api/v1/sla-policies", headers=viewer).json()["policies"]
    assert [p["name"] for p in listed] == ["VIP"]
    assert client.delete(f"/api/v1/sla-policies/{vip['id']}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/sla-policies/{vip['id']}", headers=m).status_code == 200
    assert client.delete(f"/api/v1/sla-policies/{vip['id']}", headers=m).status_code == 404
    assert client.delete("/api/v1/calendars/acme", headers=m).status_code == 200
    assert client.delete("/api/v1/calendars/acme", headers=m).status_code == 404
    assert client.delete("/api/v1/calendars/cn", headers=m).status_code == 409
    assert client.get("/api/v1/calendars/acme", headers=viewer).status_code == 404


def test_api_edges_of_time(client, people) -> None:
    h = people.headers("vera")
    r = client.get("/api/v1/calendars/cn/due", headers=h,
                   params={"start": "9999-12-31T17:00:00+00:00", "duration": "2d"})
    assert r.status_code == 422, r.text
    r = client.get("/api/v1/calendars/cn/days", headers=h,
                   params={"from": "9999-12-30", "to": "9999-12-31"})
    assert r.status_code == 200, r.text
    assert [d["kind"] for d in r.json()["days"]] == ["working", "working"]
