"""Notification API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Locale = Literal["zh-CN", "en"]
Digest = Literal["none", "hourly", "daily"]
Kind = Literal["email", "sms", "wecom", "dingtalk", "feishu", "slack", "webhook", "record"]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_type: Literal["user", "role"]
    owner: str = Field(min_length=1, max_length=64, description="user name or role name")
    url: str = Field(min_length=3, max_length=2000, description="an Apprise URL, e.g. "
                     "wecombot://KEY, dingtalk://TOKEN/, record://ops")
    kind: Kind | None = Field(default=None, description="label; default: from the scheme")
    locale: Locale | None = Field(default=None, description="default: the server's "
                                  "default_locale")
    quiet_calendar: str | None = Field(default=None, max_length=64, description="a calendar "
                                       "id (cn, 24x7, ...): outside its working time messages "
                                       "wait for it")
    digest: Digest = "none"
    enabled: bool = True


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=3, max_length=2000)
    kind: Kind | None = None
    locale: Locale | None = None
    quiet_calendar: str | None = Field(default=None, max_length=64)
    digest: Digest | None = None
    enabled: bool | None = None


class ChannelRead(BaseModel):
    id: int
    owner_type: str
    owner: str
    kind: str
    url: str = Field(description="masked: credentials and tokens are never shown")
    locale: str
    quiet_calendar: str | None
    digest: str
    enabled: bool
    created_at: datetime


class ChannelList(BaseModel):
    channels: list[ChannelRead]


class NotificationRead(BaseModel):
    id: int
    created_at: datetime
    event: str
    kind: str
    alert_id: int | None
    order_no: str | None
    shipment_id: int | None
    recipient_type: str
    recipient: str
    channel: str
    channel_id: int | None
    address: str | None
    locale: str
    subject: str
    body: str
    state: str
    send_after: datetime
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    digest_id: int | None


class NotificationPage(BaseModel):
    notifications: list[NotificationRead]
    next_before_id: int | None = None


class TemplatePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=20_000, description="Jinja2 text with "
                        "{% block subject %}…{% endblock %} and {% block body %}…{% endblock %}")


class TemplateRead(BaseModel):
    kind: str
    locale: str
    source: str
    overridden: bool
    updated_at: datetime | None
    preview_subject: str
    preview_body: str


class TemplateList(BaseModel):
    templates: list[TemplateRead]


class RecordedRead(BaseModel):
    id: int
    at: datetime
    target: str
    title: str
    body: str
    meta: dict[str, Any]
    notification_id: int | None


class RecordedList(BaseModel):
    messages: list[RecordedRead]


class TestQueued(BaseModel):
    notification_id: int
    state: str
