"""Channels: every message goes out through Apprise, including the recording channel.

``check_url`` validates an Apprise URL; ``send`` delivers one message to one URL and returns
the outcome (never raises for a delivery problem). ``record://TARGET`` is a custom Apprise
scheme registered with Apprise's ``@notify`` decorator: it goes through Apprise like any
real channel, and what it receives is captured here and stored by the sender as
``RecordedMessage`` rows, so tests and the demo can read what was "sent".
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import apprise
from apprise.decorators import notify as apprise_notify

from ordertrail.errors import Invalid

SEND_TIMEOUT = 10.0  # seconds, per delivery (connect and read, and the whole call)
KINDS = ("email", "sms", "wecom", "dingtalk", "feishu", "slack", "webhook", "record")
# The kind a URL's scheme implies when none is given.
_SCHEME_KIND = {
    "mailto": "email", "mailtos": "email", "ses": "email", "sendgrid": "email",
    "mailgun": "email", "smtp2go": "email", "sparkpost": "email",
    "wecombot": "wecom", "wxpusher": "wecom", "dingtalk": "dingtalk", "feishu": "feishu",
    "lark": "feishu", "slack": "slack",
    "json": "webhook", "jsons": "webhook", "form": "webhook", "forms": "webhook",
    "xml": "webhook", "xmls": "webhook",
    "twilio": "sms", "clicksend": "sms", "sinch": "sms", "vonage": "sms", "nexmo": "sms",
    "plivo": "sms", "bulksms": "sms", "msg91": "sms", "d7sms": "sms", "kavenegar": "sms",
    "smseagle": "sms", "sns": "sms", "bulkvs": "sms", "seven": "sms", "smsmgr": "sms",
    "httpsms": "sms", "burstsms": "sms",
    "record": "record",
}
# Schemes whose host part is a real host name (safe to show); for the others (wecombot://,
# dingtalk://, ...) the "host" is itself the secret token.
_HOST_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "mailto",
                           "mailtos", "ntfy", "ntfys", "gotify", "gotifys", "apprise",
                           "apprises", "matrix", "matrixs", "mmost", "mmosts"})
_SECRET_RE = re.compile(r"(?<=://)([^@/?#]*)@")


@dataclass
class SendResult:
    ok: bool
    error: str | None = None
    recorded: list[dict[str, Any]] = field(default_factory=list)


# -- the recording channel ----------------------------------------------------------------

# Apprise runs a delivery in its own worker thread with a copy of the caller's context, so
# the sink travels in a context variable (a thread-local would not reach it).
_sink: ContextVar[list[dict[str, Any]] | None] = ContextVar("ordertrail_record_sink",
                                                            default=None)


@apprise_notify(on="record", name="ordertrail recording channel")
def _record(body: str, title: str, notify_type: Any, meta: dict[str, Any], *args: Any,
            **kwargs: Any) -> bool:
    """Apprise calls this for record:// URLs; the message is kept for the sender to store."""
    sink = _sink.get()
    if sink is None:
        return False  # nobody is recording in this thread: report a failed delivery
    path = meta.get("fullpath") or ""
    target = f"record://{meta.get('host') or ''}{path if path != '/' else ''}"
    sink.append({"target": target, "title": title or "", "body": body or "",
                 "meta": {"notify_type": str(notify_type),
                          "qsd": dict(meta.get("qsd") or {})}})
    return True


# -- URLs ----------------------------------------------------------------------------------


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def kind_for(url: str) -> str:
    """The channel kind a URL implies (webhook for anything else Apprise knows)."""
    return _SCHEME_KIND.get(scheme_of(url), "webhook")


def check_url(url: str) -> None:
    """Refuse a URL Apprise cannot use, with the reason."""
    url = url.strip()
    scheme = scheme_of(url)
    if not scheme:
        raise Invalid(f"not an Apprise URL (no scheme): {mask_url(url)!r}; write e.g. "
                      "wecombot://KEY or mailtos://user:pass@smtp.example.com",
                      code="invalid_channel_url")
    if apprise.Apprise().add(url):
        return
    known = scheme in _known_schemes()
    reason = (f"Apprise could not use this {scheme}:// URL (missing or malformed token, "
              "host or target)" if known else f"Apprise does not support the scheme "
              f"{scheme}://")
    raise Invalid(f"invalid channel URL {mask_url(url)!r}: {reason}", code="invalid_channel_url")


def _known_schemes() -> set[str]:
    try:
        from apprise.manager_plugins import NotificationManager

        return {s.lower() for s in NotificationManager().schemas()}
    except Exception:  # noqa: BLE001 - only used to word an error message
        return set()


def mask_url(url: str) -> str:
    """The URL with credentials and tokens hidden: scheme, host and a hint of the rest."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.scheme:
        return "***"
    host = parts.hostname or ""
    if parts.scheme == "record":
        return f"record://{host}{parts.path if parts.path != '/' else ''}"
    if parts.username or parts.password or "@" in parts.netloc:
        return f"{parts.scheme}://***@{host}/…"
    if parts.scheme in _HOST_SCHEMES:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") else "/")
    # Token-style URLs (wecombot://KEY, dingtalk://TOKEN): keep only a short prefix.
    return f"{parts.scheme}://{host[:4]}***" + ("/…" if parts.path.strip("/") else "")


def mask_address(address: str) -> str:
    """An e-mail or phone number shown safely: z***@example.cn, 138****8000."""
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = address.strip()
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "***"


# -- sending -------------------------------------------------------------------------------


def send(url: str, title: str, body: str, *, timeout: float = SEND_TIMEOUT) -> SendResult:
    """Deliver one message through Apprise; problems come back as ``ok=False`` with why."""
    ap = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    try:
        added = ap.add(url)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is an outcome, not a crash
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    if not added:
        return SendResult(False, f"unsupported or malformed Apprise URL {mask_url(url)}")
    for server in ap:
        # Bound every network wait; one slow channel must not hold the others for long.
        server.socket_connect_timeout = min(float(server.socket_connect_timeout), timeout)
        server.socket_read_timeout = min(float(server.socket_read_timeout), timeout)
    problems: list[str] = []

    def log(entry: Any, _server: Any) -> None:
        text = str(entry)
        if " - WARNING - " in text or " - ERROR - " in text:
            problems.append(text.split(" - ", 2)[-1])

    sink: list[dict[str, Any]] = []
    token = _sink.set(sink)
    try:
        result = ap.notify(body=body, title=title, timeout=timeout, log_callback=log)
    except Exception as exc:  # noqa: BLE001 - same: report, never raise
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    finally:
        _sink.reset(token)
    if result:
        return SendResult(True, recorded=sink)
    error = "; ".join(dict.fromkeys(_SECRET_RE.sub("***@", p) for p in problems))
    status = getattr(getattr(result, "status", None), "name", "FAILURE").lower()
    return SendResult(False, (error or f"delivery {status}")[:1000])
