"""Webhook API input and output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, examples=["https://erp.example.cn/hooks"])
    events: list[str] = Field(min_length=1, max_length=100,
                              examples=[["order.created", "shipment.*"]])
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class WebhookRead(BaseModel):
    id: int
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failure_streak: int
    first_failure_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    pending: int = 0


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret (whsec_…); shown only now.")


class WebhookList(BaseModel):
    items: list[WebhookRead]


class SecretRead(BaseModel):
    id: int
    secret: str


class AttemptRead(BaseModel):
    id: int
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None
    trigger: str


class MessageRead(BaseModel):
    id: int
    msg_id: str
    event_id: int | None
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    tries: list[AttemptRead] = Field(default_factory=list)


class DeliveryPage(BaseModel):
    items: list[MessageRead]
    next_before: int | None = Field(default=None,
                                    description="Pass as `before` for the next page.")


class ReplaySince(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="Replay failed messages created at or after this time.")
    state: str = Field(default="failed", pattern="^(failed|delivered)$")


class ReplayResult(BaseModel):
    replayed: int
    msg_ids: list[str]
