"""A safe expression language for flow conditions, built on simpleeval (never Python eval).

Expressions read like Python comparisons over an order's facts:
``total >= 200000``, ``channel == "vip" or "urgent" in tags``, ``customer.province == "广东"``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import simpleeval

# The names a condition may use; values come from ``order_facts`` in the planner.
ORDER_NAMES: dict[str, str] = {
    "total": "order total (decimal)",
    "subtotal": "sum of line amounts (decimal)",
    "currency": "ISO currency code, e.g. CNY",
    "channel": "sales channel, e.g. web, tmall, b2b",
    "priority": "low, normal, high or urgent",
    "line_count": "number of order lines",
    "qty": "total quantity over all lines",
    "tags": "list of tags",
    "customer": "customer: name, phone, email, country, province, city",
    "custom": "custom fields (mapping)",
    "flow": "flow id",
    "stage": "current stage id",
    "external_source": "source system of the external reference",
}

_FUNCTIONS = {
    "len": len,
    "int": int,
    "float": float,
    "str": str,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "decimal": Decimal,
}


class _AnyField(dict[str, Any]):
    """Sample custom fields: every name exists, since each company defines its own."""

    def __missing__(self, key: str) -> None:
        return None


_SAMPLE: dict[str, Any] = {
    "total": Decimal("100.00"),
    "subtotal": Decimal("100.00"),
    "currency": "CNY",
    "channel": "web",
    "priority": "normal",
    "line_count": 1,
    "qty": Decimal(1),
    "tags": [],
    "customer": {"name": "", "phone": "", "email": "", "country": "CN", "province": "",
                 "city": ""},
    "custom": _AnyField(),
    "flow": "retail",
    "stage": "new",
    "external_source": None,
}


class ExprError(ValueError):
    """An expression that cannot be used: bad syntax, unknown names, forbidden features."""


@dataclass(frozen=True)
class Expr:
    source: str
    tree: ast.AST
    names: tuple[str, ...]
    paths: tuple[str, ...] = ()  # dotted names read, e.g. total, customer.province


def _paths(module: ast.AST) -> tuple[str, ...]:
    """The outermost dotted names in an expression (customer.province, not customer)."""
    found: list[str] = []
    inner: set[int] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute | ast.Name) and id(node) not in inner:
            parts, cur = [], node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                inner.add(id(cur.value))
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in ORDER_NAMES:
                inner.add(id(cur))
                path = ".".join([cur.id, *reversed(parts)])
                if path not in found:
                    found.append(path)
    return tuple(found)


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of the facts, or None."""
    value: Any = facts
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class Record:
    """Read-only view of a mapping for conditions: ``customer.city`` reads the key ``city``.

    It has no public methods, so a custom field called ``items`` or ``keys`` reads the field,
    and nothing in a condition can change the order's data.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"no field {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return _wrap(self._data[name])

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __eq__(self, other: object) -> bool:
        return self._data == (other._data if isinstance(other, Record) else other)

    def __hash__(self) -> int:
        return id(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("conditions cannot change the order")


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Record(value)
    if isinstance(value, list):
        return tuple(_wrap(v) for v in value)
    return value


def _evaluator(names: Mapping[str, Any]) -> simpleeval.EvalWithCompoundTypes:
    wrapped = {k: _wrap(v) for k, v in names.items()}
    return simpleeval.EvalWithCompoundTypes(names=wrapped, functions=dict(_FUNCTIONS))


def _check_features(module: ast.AST) -> None:
    """Refuse forbidden features statically: the sample run skips e.g. comprehension bodies."""
    supported = _evaluator({}).nodes
    for node in ast.walk(module):
        if isinstance(node, ast.expr) and type(node) not in supported:
            raise ExprError(f"{type(node).__name__} is not available in conditions")
        if isinstance(node, ast.Attribute) and (
            node.attr.startswith(tuple(simpleeval.DISALLOW_PREFIXES))
            or node.attr in simpleeval.DISALLOW_METHODS
        ):
            raise ExprError(f"access to attribute {node.attr!r} is not allowed")
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
            raise ExprError("method calls are not available in conditions; use the functions "
                            f"{', '.join(sorted(_FUNCTIONS))} or operators such as 'in'")


def compile_expr(source: str, allowed: Mapping[str, Any] = ORDER_NAMES) -> Expr:
    """Parse and check an expression; raise ExprError naming what is wrong."""
    text = str(source).strip()
    if not text:
        raise ExprError("empty expression")
    try:
        module = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"syntax error at column {exc.offset}: {exc.msg}") from None
    used: list[str] = []
    bound: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.comprehension):
            bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and node.id not in bound:
            if node.id in _FUNCTIONS:
                continue
            if node.id not in allowed:
                known = ", ".join(sorted(allowed))
                raise ExprError(f"unknown name {node.id!r} (known: {known})")
            if node.id not in used:
                used.append(node.id)
    _check_features(module)
    tree = module.body
    try:
        _evaluator(_SAMPLE).eval(text, previously_parsed=tree)
    except (simpleeval.FeatureNotAvailable, simpleeval.FunctionNotDefined,
            simpleeval.NameNotDefined, simpleeval.InvalidExpression) as exc:
        raise ExprError(str(exc)) from None
    except Exception:  # noqa: BLE001 - sample data may not fit; the syntax was fine
        pass
    return Expr(source=text, tree=tree, names=tuple(used), paths=_paths(module))


def evaluate(expr: Expr, facts: Mapping[str, Any]) -> bool:
    """Evaluate to a bool; an expression that fails on this order's data raises ExprError."""
    try:
        return bool(_evaluator(facts).eval(expr.source, previously_parsed=expr.tree))
    except Exception as exc:  # noqa: BLE001 - reported as ExprError, never raw
        raise ExprError(f"{expr.source!r} could not be evaluated: {exc}") from None
