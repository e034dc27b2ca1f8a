"""Alerts reach their recipients: in-app always, channels per person and role, zh-CN text,
once per level, deferred in quiet hours (never dropped), retried when a channel fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ordertrail.notify import consumers, sender
from tests.notify.conftest import add_channel, alert_event, recorded, rows, user_id


def _states(session, **where):
    return sorted((r.recipient_type, r.recipient, r.channel, r.state)
                  for r in rows(session, **where))


def test_an_alert_reaches_the_role_in_app_and_on_its_channels(db, clock, sctx):
    add_channel(db, clock, "role", "sales", "record://sales-desk")
    add_channel(db, clock, "user", "alice", "record://alice", locale="en")  # alice is sales
    add_channel(db, clock, "user", "grace", "record://grace")  # manager: not at level 1
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    assert _states(db, alert_id=7) == [
        ("role", "sales", "in_app", "sent"),
        ("role", "sales", "record", "queued"),
        ("user", "alice", "record", "queued"),
    ]
    by_target = {r.url: r for r in rows(db, alert_id=7)}
    zh = by_target["record://sales-desk"]
    assert zh.subject == "【预警】订单 SO20261121-00042 在「review」已超时"
    assert "已超过 2 个工作小时" in zh.body and "严重程度：严重" in zh.body
    assert by_target["record://alice"].subject.startswith("[Alert] Order SO20261121-00042")


def test_the_same_alert_level_never_notifies_twice(db, clock, sctx):
    add_channel(db, clock, "role", "sales", "record://sales-desk")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    consumers.alerts(sctx, alert_event(roles=["sales"]))  # redelivered event
    consumers.alerts(sctx, alert_event("alert.escalated", roles=["sales"]))  # same level
    assert len(rows(db, alert_id=7)) == 2


def test_escalation_tells_the_manager_with_the_level(db, factory, clock, settings, sctx):
    add_channel(db, clock, "user", "grace", "record://grace")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    consumers.alerts(sctx, alert_event("alert.escalated", level=2,
                                       users=[user_id(db, "grace")]))
    level2 = [r for r in rows(db, alert_id=7) if r.recipient == "grace"]
    assert sorted(r.channel for r in level2) == ["in_app", "record"]
    assert sender.send_due(factory, clock, settings) == 1
    [msg] = recorded(db, "record://grace")
    assert msg.title.startswith("【升级·第2级】订单 SO20261121-00042")
    assert "该预警已升级至第 2 级" in msg.body


def test_quiet_hours_defer_to_working_time_and_never_drop(db, factory, clock, settings, sctx):
    clock.set(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))  # Saturday 11:00 in Shanghai
    add_channel(db, clock, "role", "sales", "record://quiet", quiet_calendar="cn")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    [row] = rows(db, channel="record")
    monday_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
    assert (row.state, row.send_after) == ("deferred", monday_9)
    assert sender.send_due(factory, clock, settings) == 0
    clock.set(monday_9 - timedelta(seconds=1))
    assert sender.send_due(factory, clock, settings) == 0
    clock.set(monday_9)
    assert sender.send_due(factory, clock, settings) == 1
    db.expire_all()
    assert rows(db, channel="record")[0].state == "sent"
    assert len(recorded(db, "record://quiet")) == 1


def test_a_failing_channel_is_retried_and_logged_without_blocking_others(
        db, factory, clock, settings, sctx):
    add_channel(db, clock, "role", "sales", "json://127.0.0.1:1/")
    add_channel(db, clock, "role", "sales", "record://ok")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    assert sender.send_due(factory, clock, settings) == 2
    db.expire_all()
    bad, good = rows(db, channel="webhook")[0], rows(db, channel="record")[0]
    assert good.state == "sent" and len(recorded(db, "record://ok")) == 1
    assert (bad.state, bad.attempts) == ("failed", 1)
    assert "127.0.0.1" in bad.last_error and bad.send_after == clock.now() + timedelta(seconds=30)
    assert sender.send_due(factory, clock, settings) == 0  # waits for its backoff
    for attempt in range(2, settings.notify_max_attempts + 1):
        clock.advance(timedelta(hours=1))
        assert sender.send_due(factory, clock, settings) == 1
        db.expire_all()
        assert rows(db, channel="webhook")[0].attempts == attempt
    assert rows(db, channel="webhook")[0].state == "dead"
    clock.advance(timedelta(days=1))
    assert sender.send_due(factory, clock, settings) == 0


def test_an_expired_lease_is_claimed_again(db, factory, clock, settings, sctx):
    add_channel(db, clock, "role", "sales", "record://lease")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    _token, items = sender.claim(factory, clock, "w1")  # w1 dies before sending
    assert len(items) == 1
    assert sender.claim(factory, clock, "w2")[1] == []  # leased
    clock.advance(sender.LEASE + timedelta(seconds=1))
    assert sender.send_due(factory, clock, settings, "w2") == 1
    assert len(recorded(db, "record://lease")) == 1


def test_digest_channels_get_one_message_per_period(db, factory, clock, settings, sctx):
    ch = add_channel(db, clock, "user", "alice", "record://digest", digest="hourly")
    clock.set(datetime(2026, 11, 20, 2, 10, tzinfo=UTC))
    consumers.alerts(sctx, alert_event(alert_id=1, roles=["sales"]))
    clock.set(datetime(2026, 11, 20, 2, 40, tzinfo=UTC))
    consumers.alerts(sctx, alert_event(alert_id=2, roles=["sales"], kind="stage_at_risk"))
    assert [r.state for r in rows(db, channel_id=ch.id)] == ["held", "held"]
    assert sender.collect_digests(sctx) == 0  # the hour is not over
    assert sender.send_due(factory, clock, settings) == 0
    clock.set(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    assert sender.collect_digests(sctx) == 1
    assert sender.collect_digests(sctx) == 0
    assert sender.send_due(factory, clock, settings) == 1
    [msg] = recorded(db, "record://digest")
    assert msg.title == "【汇总】2026-11-20 10:00共 2 条通知"
    assert "在「review」已超时" in msg.body and "在「review」即将超时" in msg.body
    db.expire_all()
    members = [r for r in rows(db, channel_id=ch.id) if r.kind != "digest"]
    assert {r.state for r in members} == {"digested"}


def test_an_alert_without_recipients_still_reaches_the_inbox(db, sctx):
    consumers.alerts(sctx, alert_event(order_no=None, stage=None))
    assert _states(db) == [("role", "unassigned", "in_app", "sent")]


def test_the_worker_carries_an_alert_from_the_outbox_to_the_channel(db, factory, clock,
                                                                     settings, sctx):
    from ordertrail.jobs.outbox import emit
    from ordertrail.jobs.worker import drain

    add_channel(db, clock, "role", "sales", "record://ops")
    event = alert_event(roles=["sales"])
    emit(db, event.name, "alert", event.aggregate_id, event.payload, clock.now())
    db.flush()
    drain(factory, clock, settings)
    db.expire_all()
    assert _states(db, alert_id=7) == [("role", "sales", "in_app", "sent"),
                                       ("role", "sales", "record", "sent")]
    [msg] = recorded(db, "record://ops")
    assert msg.title == "【预警】订单 SO20261121-00042 在「review」已超时"


def test_a_retry_waits_for_working_time_too(db, factory, clock, settings, sctx):
    clock.set(datetime(2026, 11, 20, 9, 59, 50, tzinfo=UTC))  # Friday 17:59:50 in Shanghai
    add_channel(db, clock, "role", "sales", "json://127.0.0.1:1/", quiet_calendar="cn")
    consumers.alerts(sctx, alert_event(roles=["sales"]))
    assert sender.send_due(factory, clock, settings) == 1
    db.expire_all()
    [row] = rows(db, channel="webhook")
    monday_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert (row.state, row.attempts, row.send_after) == ("failed", 1, monday_9)


def test_a_disabled_webhook_endpoint_is_a_notice_to_admins_and_managers(
        db, factory, clock, settings, sctx):
    from ordertrail.jobs.registry import Event

    add_channel(db, clock, "role", "admin", "record://it-desk")
    add_channel(db, clock, "user", "grace", "record://grace", locale="en")  # grace: manager
    payload = {"endpoint_id": 3, "url": "https://erp.example.cn/hooks", "failure_streak": 10,
               "reason": "10 failed deliveries in a row; last: 503",
               "first_failure_at": "2026-11-20T01:00:00+00:00", "at": "2026-11-20T03:00:00+00:00"}
    event = Event(1, "webhook.endpoint_disabled", "webhook_endpoint", "3", payload,
                  clock.now())
    consumers.notices(sctx, event)
    consumers.notices(sctx, event)  # redelivered: nothing twice
    states = sorted((r.recipient_type, r.recipient, r.channel) for r in
                    rows(db, channel="in_app") + rows(db, channel="record"))
    assert states == [("role", "admin", "in_app"), ("role", "admin", "record"),
                      ("role", "manager", "in_app"), ("user", "grace", "record")]
    assert sender.send_due(factory, clock, settings) == 2
    [zh] = recorded(db, "record://it-desk")
    assert zh.title == "【通知】Webhook 订阅 #3 已自动停用"
    assert "https://erp.example.cn/hooks" in zh.body and "2026-11-20 09:00" in zh.body
    [en] = recorded(db, "record://grace")
    assert en.title == "[Notice] Webhook subscription #3 was disabled"
