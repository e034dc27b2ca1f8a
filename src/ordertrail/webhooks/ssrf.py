"""Refuse webhook targets inside our own network (server-side request forgery).

A URL is allowed only with the http or https scheme and a host whose every address (all that
``getaddrinfo`` returns) is public. Loopback, private, link-local, multicast, reserved,
unspecified, shared (CGNAT) and IPv4-mapped forms of those are refused, naming the address and
its class. Checked when a subscription is created or changed, and again before every delivery
batch (a name may be re-pointed after it was accepted: DNS rebinding); the delivery then
connects to the address that was checked. ``ORDERTRAIL_WEBHOOKS_ALLOW_PRIVATE=1`` (demo, tests)
turns the address rule off; the scheme rule stays.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ordertrail.errors import Invalid
from ordertrail.i18n import Msg

Resolver = Callable[..., list[tuple]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Invalid):
    code, title = "webhook_url_refused", "Webhook URL refused"


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses it resolved to (empty when not resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def address_class(ip: IP) -> str | None:
    """Why an address is not a public one (``"loopback"``, ``"private"``, …), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        inner = address_class(ip.ipv4_mapped)
        return f"IPv4-mapped {inner}" if inner else None
    checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
              ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
              ("reserved", ip.is_reserved), ("private", ip.is_private))
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:
        return "non-public"
    return None


def parse(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a webhook URL; UnsafeUrl for anything but http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(Msg("The webhook URL is not valid: {reason}.", {"reason": str(exc)}),
                        code="webhook_url_invalid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl(Msg("Webhook URLs must use http or https, not {scheme}.",
                            {"scheme": scheme or "none"}), code="webhook_url_scheme")
    host = (parts.hostname or "").strip()
    if not host:
        raise UnsafeUrl(Msg("The webhook URL has no host."), code="webhook_url_invalid")
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_url(url: str, *, allow_private: bool,
              resolve: Resolver = socket.getaddrinfo) -> Target:
    """The checked target of ``url``; UnsafeUrl naming the address class when refused."""
    scheme, host, port = parse(url)
    if allow_private:
        return Target(url, scheme, host, port, ())
    try:
        literal: IP | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(Msg("The webhook host {host} does not resolve: {reason}.",
                                {"host": host, "reason": str(exc)}),
                            code="webhook_url_unresolvable") from None
        found = []
        for info in infos:
            try:
                found.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
        if not found:
            raise UnsafeUrl(Msg("The webhook host {host} has no address.", {"host": host}),
                            code="webhook_url_unresolvable")
    for ip in found:
        kind = address_class(ip)
        if kind is not None:
            raise UnsafeUrl(Msg(
                "The webhook URL's host {host} resolves to {address}, a {kind} address; "
                "webhooks may only go to public addresses (set "
                "ORDERTRAIL_WEBHOOKS_ALLOW_PRIVATE=1 for local testing).",
                {"host": host, "address": str(ip), "kind": kind}), kind=kind)
    return Target(url, scheme, host, port, tuple(dict.fromkeys(str(ip) for ip in found)))
