"""Channels go through Apprise: URL validation, masking, the recording channel."""

from __future__ import annotations

import pytest

from ordertrail.errors import Invalid
from ordertrail.notify import channels, sender
from tests.notify.conftest import recorded, rows


@pytest.mark.parametrize("url", [
    "wecombot://0a1b2c3d-4e5f", "dingtalk://abcdef0123456789/", "feishu://tokentoken",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "json://hooks.example.com/in",
    "mailtos://ops:secret@smtp.example.com?to=ops@example.com", "record://ops",
])
def test_urls_apprise_supports_are_accepted(url):
    channels.check_url(url)


@pytest.mark.parametrize(("url", "reason"), [
    ("nope://x", "does not support the scheme nope://"),
    ("just text", "no scheme"),
    ("slack://", "could not use this slack:// URL"),
])
def test_urls_apprise_refuses_are_rejected_with_the_reason(url, reason):
    with pytest.raises(Invalid) as err:
        channels.check_url(url)
    assert reason in err.value.detail("en")


def test_credentials_never_show_in_masked_urls():
    masked = channels.mask_url("mailtos://ops:secret@smtp.example.com?to=a@example.com")
    assert "secret" not in masked and masked.startswith("mailtos://***@smtp.example.com")
    assert "0a1b2c3d-4e5f" not in channels.mask_url("wecombot://0a1b2c3d-4e5f")
    assert channels.mask_url("record://ops") == "record://ops"
    assert channels.mask_address("zhang.wei@example.cn") == "z***@example.cn"
    assert channels.mask_address("13800138000") == "138****8000"


def test_the_recording_channel_is_an_apprise_plugin():
    result = channels.send("record://ops/desk?x=1", "标题", "正文")
    assert result.ok
    assert result.recorded == [{"target": "record://ops/desk", "title": "标题", "body": "正文",
                                "meta": {"notify_type": "info", "qsd": {"x": "1"}}}]


def test_an_unreachable_channel_is_a_failed_outcome_not_an_exception():
    result = channels.send("json://127.0.0.1:1/", "t", "b")
    assert not result.ok and result.error


def test_a_queued_row_is_delivered_and_recorded(db, factory, clock, settings, sctx):
    from ordertrail.notify.service import Planned, write

    write(sctx, [Planned(dedupe_key="t1", event="channel.test", kind="alert",
                         recipient_type="role", recipient="ops", channel="record",
                         url="record://ops", locale="zh-CN",
                         context={**_alert_context(), "title": "你好"})])
    assert sender.send_due(factory, clock, settings) == 1
    db.expire_all()
    [row] = rows(db, dedupe_key="t1")
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, clock.now())
    [msg] = recorded(db, "record://ops")
    assert msg.notification_id == row.id and msg.title == row.subject
    assert sender.send_due(factory, clock, settings) == 0  # nothing twice


def _alert_context() -> dict:
    from ordertrail.notify.render import ALERT_SAMPLE

    return dict(ALERT_SAMPLE)


def test_recording_channels_for_the_demo_are_made_once(db, clock, settings):
    from ordertrail.notify.service import ensure_recording_channels

    assert len(ensure_recording_channels(db, clock, settings, ["sales", "manager"],
                                         users=["grace"])) == 3
    assert ensure_recording_channels(db, clock, settings, ["sales", "manager"]) == []
