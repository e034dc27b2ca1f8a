"""Payments from a bank or payment-gateway CSV export.

Columns are found by their header (case, spaces and a "(元)" unit ignored): a generic set
(date, amount, reference, order_no or invoice_no, payer, method, currency, memo) and the
headers of common Chinese bank, Alipay and WeChat Pay exports (交易时间, 收入金额, 交易流水号,
备注/摘要, 对方户名, …). Lines before the header (an export's title block) and lines starting
with ``#`` are ignored. Files are read as UTF-8, else GB18030 (what Chinese banks export).

Each row is applied on its own (per row, in a savepoint: a row is applied whole or not at all)
and the good rows commit together; bad rows are reported with their line number and reason.
A row whose (source, reference) is already recorded is a duplicate and changes nothing, so an
export can be imported again safely. A dry run applies every row the same way and then rolls
everything back: its report is exactly what the real run would do.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ordertrail.billing import service
from ordertrail.billing.parse import parse_amount, parse_time
from ordertrail.billing.schemas import ImportReport, ImportRow
from ordertrail.context import Ctx
from ordertrail.errors import Invalid, OrdertrailError
from ordertrail.i18n import Msg
from ordertrail.models import Order
from ordertrail.models.billing import Invoice, PaymentImport

log = logging.getLogger("ordertrail.billing")

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
HEADER_SCAN = 30  # an export's title block is shorter than this

# Our field → the headers that mean it, best first.
HEADERS: dict[str, tuple[str, ...]] = {
    # Several may be present (a bank's 交易日期 and 交易时间): the first holding a day is the
    # date, a time-only one adds the time of day.
    "date": ("date", "received_at", "paid_at", "value_date", "付款时间", "交易时间", "交易日期",
             "入账时间", "入账日期", "到账时间", "记账时间", "记账日期", "交易创建时间", "日期",
             "时间"),
    "amount": ("amount", "收入金额", "贷方金额", "贷方发生额", "入账金额", "收款金额", "金额",
               "交易金额", "收入"),
    "reference": ("reference", "ref", "transaction_id", "txn_id", "交易流水号", "流水号",
                  "支付宝交易号", "微信支付单号", "交易单号", "交易号", "业务流水号", "凭证号"),
    "order_no": ("order_no", "order", "订单号"),
    "invoice_no": ("invoice_no", "invoice", "发票号", "发票号码"),
    "memo": ("memo", "note", "description", "备注", "摘要", "附言", "用途", "交易备注",
             "交易摘要", "商户订单号", "商品名称", "商品说明"),
    "payer": ("payer", "对方户名", "对方账户名", "对方账户名称", "对方名称", "付款人",
              "付款人名称", "付款方", "交易对方"),
    "method": ("method", "支付方式", "付款方式"),
    "currency": ("currency", "币种", "币别"),
    "direction": ("direction", "收/支", "收支", "收支类型", "借贷标志", "借贷", "资金方向"),
    "outgoing": ("支出金额", "借方金额", "借方发生额", "支出"),
}
REQUIRED = ("date", "amount", "reference")
_OUT = {"支出", "借", "出", "out", "debit", "d", "不计收支"}
_METHODS = {"bank": "bank", "银行": "bank", "转账": "bank", "银行转账": "bank",
            "alipay": "alipay", "支付宝": "alipay", "wechat": "wechat", "微信": "wechat",
            "微信支付": "wechat", "card": "card", "银行卡": "card", "信用卡": "card",
            "cash": "cash", "现金": "cash", "other": "other", "其他": "other"}
_CURRENCIES = {"人民币": "CNY", "rmb": "CNY", "元": "CNY"}
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{3,63}")
_TIME_ONLY = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


def _norm(header: str) -> str:
    h = header.strip().lstrip("\ufeff").lower()
    h = re.sub(r"[（(](元|人民币|rmb|cny|¥|￥)[)）]", "", h)
    return re.sub(r"\s+", "", h)


_ALIASES = {_norm(a): f for f, names in HEADERS.items() for a in names}


def _cell(value: str | None) -> str:
    """A cell as text: spaces, tabs and Excel's ``="…"`` wrapping removed."""
    v = (value or "").strip()
    if v.startswith('="') and v.endswith('"'):
        v = v[2:-1]
    return v.strip().lstrip("'").strip()


@dataclass
class Layout:
    columns: dict[str, int]
    headers: list[str]
    header_line: int
    method: str
    dates: list[int] = field(default_factory=list)  # every date column, best first
    memos: list[int] = field(default_factory=list)  # every memo column: all are searched

    def described(self) -> dict[str, str]:
        out = {name: self.headers[i] for name, i in self.columns.items()}
        out["date"] = "+".join(self.headers[i] for i in self.dates)
        if self.memos:
            out["memo"] = "+".join(self.headers[i] for i in self.memos)
        return out

    def values(self, cells: list[str]) -> dict[str, str]:
        """Our fields' cells of one row; the date joined from a day and a time column."""
        got = {name: _cell(cells[i]) if i < len(cells) else ""
               for name, i in self.columns.items()}
        memo = [_cell(cells[i]) for i in self.memos if i < len(cells)]
        got["memo"] = " ".join(m for m in memo if m)
        stamps = [_cell(cells[i]) for i in self.dates if i < len(cells)]
        times = [c for c in stamps if _TIME_ONLY.match(c)]
        days = [c for c in stamps if c and not _TIME_ONLY.match(c)]
        if days:
            day = days[0]
            got["date"] = f"{day} {times[0]}" if times and len(day) <= 11 else day
        else:
            got["date"] = times[0] if times else ""
        return got


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise Invalid(Msg("The file is larger than {limit} MB.", {"limit": MAX_BYTES >> 20}),
                      code="file_too_large", status=413)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid(Msg("The file is neither UTF-8 nor GB18030 text."), code="bad_encoding")


def _layout(rows: list[tuple[int, list[str]]], preamble: str) -> Layout:
    best: tuple[int, list[str], dict[str, int]] | None = None
    for line, cells in rows[:HEADER_SCAN]:
        found: dict[str, int] = {}
        for i, cell in enumerate(cells):
            name = _ALIASES.get(_norm(cell))
            if name is None:
                continue
            if name not in found or (HEADERS[name].index(_alias_of(cell, name))
                                     < HEADERS[name].index(_alias_of(cells[found[name]],
                                                                     name))):
                found[name] = i
        if "date" in found and "amount" in found:
            best = (line, cells, found)
            break
        if best is None and len(found) >= 2:
            best = (line, cells, found)
    if best is None:
        raise Invalid(Msg("No header line found: the file needs columns for the date, the "
                          "amount and the reference (e.g. date, amount, reference or 交易时间, "
                          "收入金额, 交易流水号)."), code="no_header")
    line, cells, found = best
    missing = [f for f in REQUIRED if f not in found]
    if not any(f in found for f in ("order_no", "invoice_no", "memo")):
        missing.append("order_no")
    if missing:
        raise Invalid(Msg("Missing columns in the header on line {line}: {missing} (known "
                          "headers: {known}).",
                          {"line": line, "missing": missing,
                           "known": [f"{m}: {HEADERS[m][0]}/{HEADERS[m][-1]}" for m in missing]}),
                      code="missing_columns", missing=missing)
    hay = preamble + " " + " ".join(cells)
    method = "alipay" if "支付宝" in hay else "wechat" if "微信" in hay else "bank"
    every = {f: sorted((i for i, c in enumerate(cells) if _ALIASES.get(_norm(c)) == f),
                       key=lambda i, f=f: HEADERS[f].index(_alias_of(cells[i], f)))
             for f in ("date", "memo")}
    return Layout(found, [c.strip() for c in cells], line, method, every["date"],
                  every["memo"])


def _alias_of(cell: str, name: str) -> str:
    key = _norm(cell)
    return next(a for a in HEADERS[name] if _norm(a) == key)


def read_rows(text: str) -> tuple[Layout, list[tuple[int, list[str]]]]:
    """The layout and the data rows (line number, cells) of a CSV export."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    preamble: list[str] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                if cells and len(rows) == 0:
                    preamble.append(" ".join(cells))
                continue
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS + HEADER_SCAN:
                raise Invalid(Msg("The file has more than {limit} rows; split it.",
                                  {"limit": MAX_ROWS}), code="too_many_rows")
    except csv.Error as exc:
        raise Invalid(Msg("Line {line}: not valid CSV ({problem}).",
                          {"line": reader.line_num, "problem": str(exc)}),
                      code="bad_csv") from None
    if not rows:
        raise Invalid(Msg("The file has no rows."), code="empty_file")
    layout = _layout(rows, " ".join(preamble))
    data = [(n, cells) for n, cells in rows if n > layout.header_line]
    return layout, data


@dataclass
class _Row:
    line: int
    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _lookup(ctx: Ctx, rows: list[_Row]) -> tuple[dict[str, str], set[str]]:
    """Invoice numbers (→ their order) and order numbers named anywhere in the rows."""
    tokens: set[str] = set()
    for r in rows:
        for name in ("order_no", "invoice_no", "memo"):
            for t in _TOKEN.findall(r.get(name)):
                tokens.update((t, t.upper()))
    if not tokens:
        return {}, set()
    wanted = sorted(tokens)
    invoices = dict(ctx.session.execute(select(Invoice.number, Order.order_no)
                                        .join(Order, Order.id == Invoice.order_id)
                                        .where(Invoice.number.in_(wanted))).all())
    orders = set(ctx.session.scalars(select(Order.order_no).where(Order.order_no.in_(wanted))))
    return invoices, orders


def _target(r: _Row, invoices: dict[str, str], orders: set[str],
            ) -> tuple[str | None, str | None]:
    """(order_no, invoice_no) the row pays; ValueError if none or several."""
    given_inv, given_order = r.get("invoice_no"), r.get("order_no")
    if given_inv:
        if given_inv.upper() not in invoices and given_inv not in invoices:
            raise ValueError(f"no invoice {given_inv}")
        return None, given_inv if given_inv in invoices else given_inv.upper()
    if given_order:
        if given_order not in orders and given_order.upper() not in orders:
            raise ValueError(f"no order {given_order}")
        return given_order if given_order in orders else given_order.upper(), None
    tokens = _TOKEN.findall(r.get("memo"))
    named_inv = sorted({t.upper() if t.upper() in invoices else t for t in tokens
                        if t in invoices or t.upper() in invoices})
    if len(named_inv) == 1:
        return None, named_inv[0]
    named = sorted({t.upper() if t.upper() in orders else t for t in tokens
                    if t in orders or t.upper() in orders})
    if len(named) == 1:
        return named[0], None
    if len(named_inv) > 1 or len(named) > 1:
        raise ValueError(f"the memo names several orders or invoices "
                         f"({', '.join(named_inv + named)})")
    memo = r.get("memo")
    raise ValueError(f"no order or invoice number found in the memo {memo!r}" if memo
                     else "no order or invoice number")


def import_payments(ctx: Ctx, data: bytes, *, dry_run: bool = False, source: str | None = None,
                    method: str | None = None, filename: str | None = None,
                    lang: str = "en") -> ImportReport:
    """Apply (or with ``dry_run`` only report) the payments of a CSV export."""
    service.require_writer(ctx, Msg("import payments"))
    try:
        layout, raw = read_rows(decode(data))
    except OrdertrailError as exc:
        raise service.refused(ctx, exc) from None
    if method is not None and method not in service.METHODS:
        raise service.refused(ctx, Invalid(Msg("method: {method} is not one of {methods}.",
                                               {"method": method,
                                                "methods": list(service.METHODS)}),
                                           code="bad_method", field="method"))
    default_method = method or layout.method
    src = (source or default_method).strip().lower()[:32]
    rows = [_Row(n, layout.values(cells)) for n, cells in raw]
    invoices, orders = _lookup(ctx, rows)
    session = ctx.session
    outer = session.begin_nested() if dry_run else None
    record = None
    if not dry_run:
        record = PaymentImport(source=src, filename=(filename or None) and filename[:255],
                               at=ctx.clock.now(), actor=ctx.actor.name,
                               actor_id=ctx.actor.user_id, rows=len(rows), applied=0,
                               duplicates=0, skipped=0, failed=0, report={})
        session.add(record)
        session.flush()
    items = [_apply(ctx, r, invoices, orders, src, default_method, record, dry_run, lang)
             for r in rows]
    if outer is not None:
        outer.rollback()
    counts = {s: sum(1 for i in items if i.status == s) for s in
              ("applied", "would_apply", "duplicate", "skipped", "error")}
    report = ImportReport(
        dry_run=dry_run, import_id=record.id if record else None, source=src,
        columns=layout.described(),
        rows=len(rows), applied=counts["applied"] + counts["would_apply"],
        duplicates=counts["duplicate"], skipped=counts["skipped"], failed=counts["error"],
        items=items)
    if record is not None:
        record.applied, record.duplicates = report.applied, report.duplicates
        record.skipped, record.failed = report.skipped, report.failed
        record.report = {"columns": report.columns,
                         "problems": [i.model_dump(mode="json") for i in items
                                      if i.status == "error"]}
        session.flush()
    log.info("billing: %s payment import by %s from %s: %d applied, %d duplicate, %d "
             "skipped, %d failed", "dry-run" if dry_run else "applied", ctx.actor.name, src,
             report.applied, report.duplicates, report.skipped, report.failed)
    return report


def _apply(ctx: Ctx, r: _Row, invoices: dict[str, str], orders: set[str], source: str,
           default_method: str, record: PaymentImport | None, dry_run: bool,
           lang: str) -> ImportRow:
    out = ImportRow(line=r.line, status="error", reference=r.get("reference") or None)

    def fail(reason: str) -> ImportRow:
        out.reason = reason
        log.warning("billing: payment import by %s, line %d refused: %s", ctx.actor.name,
                    r.line, reason)
        return out

    direction = r.get("direction").lower()
    if direction in _OUT or (not r.get("amount") and r.get("outgoing")):
        out.status, out.reason = "skipped", "outgoing payment"
        return out
    if not r.get("date") and not r.get("reference"):
        out.status, out.reason = "skipped", "no date and no reference (not a payment row)"
        return out
    try:
        amount = parse_amount(r.get("amount"))
    except ValueError as exc:
        return fail(str(exc))
    out.amount = amount
    if amount < 0:
        out.status, out.reason = "skipped", "outgoing payment (negative amount)"
        return out
    if not out.reference:
        return fail("no reference: the row cannot be imported safely twice")
    try:
        received = parse_time(r.get("date"), ctx.settings.timezone)
    except ValueError as exc:
        return fail(str(exc))
    raw_method = r.get("method").lower()
    row_method = _METHODS.get(raw_method, "other" if raw_method else default_method)
    currency = r.get("currency")
    currency = _CURRENCIES.get(currency.lower(), currency.upper()) if currency else None
    try:
        order_no, out.invoice_no = _target(r, invoices, orders)
    except ValueError as exc:
        return fail(str(exc))
    out.order_no = order_no or invoices.get(out.invoice_no or "")
    req = service.PaymentRequest(
        amount=amount, order_no=order_no, invoice_no=out.invoice_no, currency=currency,
        received_at=received, method=row_method, reference=out.reference, source=source,
        payer=r.get("payer") or None, note=r.get("memo") or None)
    try:
        with ctx.session.begin_nested():
            payment, created = service.record_payment(
                ctx, req, import_id=record.id if record else None, source_kind="import")
    except OrdertrailError as exc:
        return fail(exc.detail(lang))
    except IntegrityError:
        return fail("conflicts with a payment recorded at the same moment; import again")
    if not created:
        out.payment_id = payment.id
        out.status, out.reason = "duplicate", f"already recorded as payment {payment.id}"
        return out
    out.payment_id = None if dry_run else payment.id
    out.status = "would_apply" if dry_run else "applied"
    return out
