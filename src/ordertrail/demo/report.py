"""What `ordertrail demo` prints: where the API is, who can log in, and a walk to try."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ordertrail.demo.alerting import LateReview
from ordertrail.demo.live import SPEED, LiveParcel
from ordertrail.demo.operations import OpsReport
from ordertrail.models import Approval, Order, Shipment, TimelineEntry

DONE_STAGES = ("delivered", "invoiced", "paid", "closed", "completed", "cancelled")
EXTRACT = "sed -n 's/.*\"order_no\":\"\\([^\"]*\\)\".*/\\1/p'"
EXTRACT_ID = "sed -n 's/^{\"id\":\\([0-9]*\\).*/\\1/p'"
EXTRACT_FIRST_ID = "sed -n 's/^{\"items\":\\[{\"id\":\\([0-9]*\\).*/\\1/p'"


@dataclass(frozen=True)
class UserKey:
    name: str
    display_name: str
    role: str
    key: str


@dataclass
class DemoReport:
    """The outcome of build_demo; ``render`` is the text the CLI prints."""

    users: list[UserKey]
    created: int
    by_flow: Counter[str]
    seconds: float
    reused: bool
    now: datetime
    tz: str = "Asia/Shanghai"
    highlights: list[tuple[str, str]] = field(default_factory=list)
    parcels: int = 0
    live: list[LiveParcel] = field(default_factory=list)  # the walkthrough ships these
    late: LateReview | None = None  # the order that waits in review past its target
    ops: OpsReport | None = None  # the make-to-order stories of demo/operations.py

    def key_of(self, name: str) -> str:
        return next(u.key for u in self.users if u.name == name)

    def first_of(self, role: str) -> UserKey:
        return next(u for u in self.users if u.role == role)

    def render(self, base_url: str, sim_url: str | None = None, sim_speed: float = SPEED,
               receiver: tuple[str, str] | None = None) -> str:
        """The text to print; when a simulated carrier runs (at ``sim_url``, playing
        ``sim_speed`` simulated seconds a second), the walkthrough also ships parcels;
        ``receiver`` (url, log file) is the local webhook receiver, when one runs."""
        total = sum(self.by_flow.values())
        flows = ", ".join(f"{f} {n}" for f, n in sorted(self.by_flow.items()))
        if self.reused:
            head = (f"ordertrail demo: this database already holds the demo ({total} orders: "
                    f"{flows}); nothing generated, fresh API keys issued.")
        else:
            head = (f"ordertrail demo: {self.created} orders and {self.parcels} parcels "
                    f"generated in {self.seconds:.1f} s ({flows}).")
        out = [head, "", f"API docs:  {base_url}/docs", "",
               "Demo users, one role each; send a key as 'Authorization: Bearer <key>':", ""]
        widths = (14, 32, 13)
        out.append("  " + _row(("user", "name", "role", "API key"), widths))
        for u in self.users:
            out.append("  " + _row((u.name, u.display_name, u.role, u.key), widths))
        out += ["", *self._walkthrough(base_url)]
        served = sim_url is not None
        if served and self.live:
            out += self._parcels(sim_speed)
        if served:
            out += self._alerts(receiver)
        if self.ops is not None:
            out += self._operations(base_url, served, sim_speed)
        if self.highlights:
            out += ["", "Demo orders worth a look (GET with any key above):", ""]
            for label, order_no in self.highlights:
                out.append(f"  {_pad(label, 30)} {base_url}/api/v1/orders/{order_no}/timeline")
            out.append(f"  {_pad('all orders in production', 30)} "
                       f"{base_url}/api/v1/orders?flow=make_to_order&stage=production")
        out += ["", f"API key: {self.first_of('sales').key}"]
        return "\n".join(out)

    def _walkthrough(self, base_url: str) -> list[str]:
        sales, finance, manager = (self.first_of(r) for r in ("sales", "finance", "manager"))
        local = (self.now + timedelta(days=25)).astimezone(ZoneInfo(self.tz))
        promised = local.replace(hour=17, minute=0, second=0, microsecond=0).isoformat()
        mto = {"flow": "make_to_order", "channel": "direct", "priority": "high",
               "customer": {"name": "苏州精工自动化设备有限公司", "phone": "13962105847",
                            "country": "CN", "province": "江苏", "city": "苏州"},
               "lines": [{"sku": "MTO-GEAR-40T", "name": "直齿圆柱齿轮 40齿 模数2",
                          "qty": 200, "unit_price": "99.50"},
                         {"sku": "MTO-SFT-20300", "name": "精密传动轴 Φ20h6×300",
                          "qty": 50, "unit_price": "210.00"}],
               "promised_at": promised}
        b2b = {"flow": "b2b_credit", "channel": "b2b",
               "customer": {"name": "宁波海纳供应链管理有限公司", "phone": "13857420319",
                            "country": "CN", "province": "浙江", "city": "宁波"},
               "lines": [{"sku": "B2B-STL-SPCC10", "name": "冷轧钢卷 SPCC 1.0mm（吨）",
                          "qty": 42, "unit_price": "4850"}],
               "shipping_fee": "2600", "custom": {"payment_terms": "月结60天"}}
        auth = '-H "Authorization: Bearer $SALES"'
        post = f'curl -s -w "\\n" -X POST {auth} -H "$CT"'
        return [
            "Try it (bash, while the server runs; pipe any line into jq for readable JSON):",
            "",
            f"  BASE={base_url}",
            f"  SALES={sales.key}    # {sales.name}, sales",
            f"  FINANCE={finance.key}    # {finance.name}, finance",
            f"  MANAGER={manager.key}    # {manager.name}, manager",
            f"  WAREHOUSE={self.first_of('warehouse').key}    # "
            f"{self.first_of('warehouse').name}, warehouse",
            "  CT='Content-Type: application/json'",
            "",
            "  # 1. As sales, create a make-to-order order (its number goes into $NO)",
            f"  NO=$(curl -s -X POST {auth} -H \"$CT\" \"$BASE/api/v1/orders\" "
            f"-d '{_json(mto)}' | {EXTRACT}); echo \"$NO\"",
            "  # 2. Accept it: review -> material_check",
            f"  {post} \"$BASE/api/v1/orders/$NO/transitions\" "
            "-d '{\"to\": \"material_check\", \"note\": \"图纸与报价已确认\"}'",
            "  # 3. Starting production is not for sales: refused with 403 and the reason",
            f"  curl -s -w '\\nHTTP %{{http_code}}\\n' -X POST {auth} -H \"$CT\" "
            "\"$BASE/api/v1/orders/$NO/transitions\" -d '{\"to\": \"production\"}'",
            "  # 4. A B2B order of 206 300 CNY on credit needs finance, then the general manager",
            f"  B2B=$(curl -s -X POST {auth} -H \"$CT\" \"$BASE/api/v1/orders\" "
            f"-d '{_json(b2b)}' | {EXTRACT}); echo \"$B2B\"",
            f"  {post} \"$BASE/api/v1/orders/$B2B/transitions\" "
            "-d '{\"to\": \"credit_approval\"}'",
            "  curl -s -w \"\\n\" -X POST -H \"Authorization: Bearer $FINANCE\" -H \"$CT\" "
            "\"$BASE/api/v1/orders/$B2B/approvals\" "
            "-d '{\"decision\": \"approve\", \"comment\": \"在授信额度内\"}'",
            "  curl -s -w \"\\n\" -X POST -H \"Authorization: Bearer $MANAGER\" -H \"$CT\" "
            "\"$BASE/api/v1/orders/$B2B/approvals\" -d '{\"decision\": \"approve\"}'",
            "  # 5. The timeline: who did what, when, in which role",
            f"  curl -s -w \"\\n\" {auth} \"$BASE/api/v1/orders/$B2B/timeline\"",
        ]

    def _parcels(self, speed: float) -> list[str]:
        """Steps that ship demo orders through the simulated carrier."""
        wh = '-H "Authorization: Bearer $WAREHOUSE" -H "$CT"'
        sales = '-H "Authorization: Bearer $SALES"'
        first = self.live[0]
        out = [
            f"  # 6. Ship {first.order_no} (now {first.stage}): the carrier, SF, is detected "
            "from the number and the order is shipped at once",
            f"  SHIP=$(curl -s -X POST {wh} \"$BASE/api/v1/orders/{first.order_no}/shipments\" "
            f"-d '{_json({'tracking_number': first.number})}' | {EXTRACT_ID}); echo \"$SHIP\"",
            f"  # 7. The simulated carrier pushes its scans ({_minutes(first.length, speed)}). "
            "Repeat both: the parcel goes info_received ... delivered, the order delivered by "
            "itself",
            f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/shipments/$SHIP\"",
            f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/orders/{first.order_no}\"",
        ]
        if len(self.live) > 1:
            lost = self.live[1]
            body = {"tracking_number": lost.number, "scenario": lost.scenario}
            out += [
                f"  # 8. A YTO parcel for {lost.order_no} that gets lost: its timeline shows a "
                f"parcel_exception ({_minutes(lost.length, speed)})",
                f"  curl -s -w \"\\n\" -X POST {wh} "
                f"\"$BASE/api/v1/orders/{lost.order_no}/shipments\" -d '{_json(body)}'",
                f"  curl -s -w \"\\n\" {sales} "
                f"\"$BASE/api/v1/orders/{lost.order_no}/timeline?parcels=false\"",
            ]
        out += [
            f"  # {9 if len(self.live) > 1 else 8}. The carrier re-sends some pushes: the "
            "replays are counted (once there is one) and change nothing",
            "  curl -s \"$BASE/metrics\" | grep ^ordertrail_tracking_duplicates_total",
        ]
        return out


    def _alerts(self, receiver: tuple[str, str] | None) -> list[str]:
        """Steps that show deadlines, alerts, notifications and outbound webhooks."""
        n = 10 if len(self.live) > 1 else 9 if self.live else 6
        mgr = '-H "Authorization: Bearer $MANAGER"'
        out: list[str] = []
        tz = ZoneInfo(self.tz)
        if self.late is not None:
            late = self.late
            entered = late.entered_at.astimezone(tz).strftime("%a %m-%d %H:%M")
            due = (late.due_at.astimezone(tz).strftime("%a %m-%d %H:%M")
                   if late.due_at else "-")
            out += [
                f"  # {n}. {late.order_no} has waited in review since {entered} ({self.tz}). "
                "Its 2 h target counts working time in the cn calendar (09:00-12:00, "
                "13:00-18:00, statutory holidays and make-up workdays), so it was due "
                f"{due}. The worker's sweep opened a stage_overdue alert for the service "
                "role and, unacknowledged for 2 more business hours, escalated it to the "
                "manager (level 2)",
                f"  curl -s -w \"\\n\" {mgr} \"$BASE/api/v1/alerts?order_no={late.order_no}\"",
                "  # What reached people: in-app and the recording channel, in zh-CN",
                f"  curl -s -w \"\\n\" {mgr} "
                f"\"$BASE/api/v1/notifications?order_no={late.order_no}\"",
                f"  curl -s -w \"\\n\" {mgr} \"$BASE/api/v1/recorded-messages?limit=5\"",
                "  # Acknowledge it as the manager: it stops escalating",
                f"  AID=$(curl -s {mgr} "
                f"\"$BASE/api/v1/alerts?order_no={late.order_no}&kind=stage_overdue\" | "
                f"{EXTRACT_FIRST_ID}); echo \"$AID\"",
                f"  curl -s -w \"\\n\" -X POST {mgr} -H \"$CT\" \"$BASE/api/v1/alerts/$AID/ack\" "
                "-d '{\"note\": \"已联系仓库，今天处理\"}'",
            ]
            n += 1
        if len(self.live) > 1:
            lost = self.live[1]
            out += [
                f"  # {n}. When the parcel of step 8 is lost, {lost.order_no} gets a "
                "shipment_exception alert and the customer an apology (e-mail and SMS, here "
                "the recording channel)",
                f"  curl -s -w \"\\n\" {mgr} "
                f"\"$BASE/api/v1/alerts?order_no={lost.order_no}&kind=shipment_exception\"",
                f"  curl -s -w \"\\n\" {mgr} "
                f"\"$BASE/api/v1/notifications?order_no={lost.order_no}\"",
            ]
            n += 1
        if receiver is not None:
            url, log = receiver
            out += [
                f"  # {n}. Signed webhooks: a local receiver ({url}) subscribes to order.*, "
                "shipment.* and alert.*, and checks every signature (\"verified\": true)",
                f"  tail -n 2 {log}",
                f"  curl -s -w \"\\n\" {mgr} \"$BASE/api/v1/webhooks\"",
            ]
        return out


    def _operations(self, base_url: str, served: bool, speed: float) -> list[str]:
        """The make-to-order stories: stock, purchasing, the supplier's link, production,
        invoices and payments, as the order's timeline tells them."""
        ops = self.ops
        assert ops is not None
        sales = '-H "Authorization: Bearer $SALES"'
        out = ["", "Operations: an order that waits in another department, and moves on by "
               "itself when the cause clears:", ""]
        if ops.story_order:
            no = ops.story_order
            out += [
                f"  # {no}: 20 hydraulic cylinders made to order. It waited for seal kits, "
                "which the supplier confirmed and shipped through a signed link; the inbound "
                "parcel's delivery freed the material; the work order failed QC once, was "
                "reworked and passed; shipped, delivered, invoiced, paid in two parts, closed "
                "by itself. The timeline tells it, with who and when:",
                f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/orders/{no}/timeline?parcels=false\"",
                f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/orders/{no}/billing\"",
                f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/work-orders?order_no={no}\"",
                f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/alerts?order_no={no}\"",
            ]
        live = ops.live
        if live is not None:
            link = f"{base_url}/supplier/po?t={live.token}"
            out += [
                f"  # {live.order_no} waits for seal kits now: the reason and the expected date",
                f"  curl -s -w \"\\n\" {sales} "
                f"\"$BASE/api/v1/orders/{live.order_no}/reservations\"",
                f"  # The supplier's page for {live.po_no} (no account needed; open it in a "
                "browser, zh-CN or en): confirm the date there, or here:",
                f"  {link}",
                f"  curl -s -o /dev/null -w '%{{http_code}}\\n' -X POST "
                f"\"$BASE/supplier/po/confirm\" -d 't={live.token}' -d 'note=按期发货'",
            ]
            if served:
                out += [
                    "  # ...and give the inbound parcel's tracking number: the simulated "
                    "carrier brings it (a journey of a day or two, played in "
                    f"{_minutes(timedelta(days=1.5), speed)}); its delivery receives the kits, "
                    "frees the material, and the order moves to production",
                    f"  curl -s -o /dev/null -w '%{{http_code}}\\n' -X POST "
                    f"\"$BASE/supplier/po/tracking\" -d 't={live.token}' -d 'carrier=sf' "
                    f"-d 'tracking_number={live.tracking_number}'",
                    f"  curl -s -w \"\\n\" {sales} \"$BASE/api/v1/orders/{live.order_no}\"",
                ]
        return out


def _minutes(length: timedelta, speed: float) -> str:
    """How long a simulated journey plays: 'a few seconds', 'about 3 minutes'."""
    seconds = length.total_seconds() / speed
    if seconds < 20:
        return "a few seconds"
    n = max(1, round(seconds / 60))
    return "about a minute" if n == 1 else f"about {n} minutes"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - _width(text))


def _row(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    return "".join(_pad(c, w) for c, w in zip(cells, widths, strict=False)) + cells[-1]


def _with_row(kind: str) -> Select[tuple[str]]:
    """Orders whose timeline has a row of this kind, the latest first."""
    return select(Order.order_no).join(TimelineEntry, TimelineEntry.order_id == Order.id).where(
        TimelineEntry.kind == kind).order_by(TimelineEntry.at.desc())


def highlights(session: Session, now: datetime) -> list[tuple[str, str]]:
    """A few real demo orders that show what the system is for."""
    queries = [
        ("late, not yet delivered", select(Order.order_no).where(
            Order.status == "active", Order.promised_at < now,
            Order.stage.not_in(DONE_STAGES)).order_by(Order.promised_at)),
        ("on hold", select(Order.order_no).where(Order.status == "on_hold")
         .order_by(Order.updated_at.desc())),
        ("two-level credit approval", select(Order.order_no).join(
            Approval, Approval.order_id == Order.id).where(
            Approval.level == 2, Approval.decision == "approve").order_by(Approval.at.desc())),
        ("credit rejected, resubmitted", select(Order.order_no).join(
            TimelineEntry, TimelineEntry.order_id == Order.id).where(
            TimelineEntry.kind == "rejection").order_by(TimelineEntry.at.desc())),
        ("reworked after QC", select(Order.order_no).join(
            TimelineEntry, TimelineEntry.order_id == Order.id).where(
            TimelineEntry.from_stage == "qc", TimelineEntry.to_stage == "production")
         .order_by(TimelineEntry.at.desc())),
        ("cancelled", select(Order.order_no).where(Order.status == "cancelled")
         .order_by(Order.updated_at.desc())),
        ("parcel lost on the way", _with_row("parcel_exception")),
        ("failed delivery attempt", _with_row("delivery_failed")),
        ("shipped in two lots", select(Order.order_no).join(
            Shipment, Shipment.order_id == Order.id).group_by(Order.order_no)
         .having(func.count() > 1).order_by(func.max(Shipment.created_at).desc())),
        ("order to cash, closed", select(Order.order_no).where(
            Order.flow_id == "make_to_order", Order.stage == "closed")
         .order_by(Order.updated_at.desc())),
    ]
    out = []
    for label, stmt in queries:
        order_no = session.scalars(stmt.limit(1)).first()
        if order_no is not None:
            out.append((label, order_no))
    return out
