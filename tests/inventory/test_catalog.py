"""Products with BOMs and warehouses: what is accepted, what is refused and why."""

from __future__ import annotations

import logging

import pytest

from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.inventory import service as inv
from ordertrail.inventory.schemas import BomItem, ProductCreate, ProductUpdate, WarehouseCreate
from tests.inventory.conftest import D


def test_products_list_search_and_read(catalog):
    db = catalog.session
    found = inv.list_products(db, q="bolt")
    assert [p.sku for p in found.items] == ["BOLT-M8"]
    pump = inv.read_product(db, "PUMP-7")
    assert pump.make_to_order and [(b.sku, b.qty) for b in pump.bom] == [
        ("BOLT-M8", D(2)), ("PLATE-1", D(1))]
    page = inv.list_products(db, limit=2)
    assert len(page.items) == 2 and page.next_cursor == page.items[-1].sku
    rest = inv.list_products(db, cursor=page.next_cursor)
    assert [p.sku for p in rest.items] == ["PLATE-1", "PUMP-7"]
    assert [w.code for w in inv.list_warehouses(db)] == ["SZ1", "SH2"]


@pytest.mark.parametrize(("bom", "code", "words"), [
    ([("GEAR-40", 1)], "bom_self", "itself"),
    ([("NOPE-1", 1)], "bom_unknown_sku", "NOPE-1"),
    ([("BOLT-M8", 1), ("BOLT-M8", 2)], "bom_duplicate", "twice"),
])
def test_bad_boms_are_refused_and_logged(catalog, caplog, bom, code, words):
    caplog.set_level(logging.WARNING, "ordertrail.inventory")
    with pytest.raises(Invalid) as caught:
        inv.update_product(catalog, "GEAR-40", ProductUpdate(
            bom=[BomItem(sku=s, qty=D(q)) for s, q in bom]))
    assert caught.value.code == code and words in caught.value.detail()
    assert inv.read_product(catalog.session, "GEAR-40").bom == []
    assert "wang" in caplog.text and words in caplog.text


def test_a_bom_cycle_is_refused(catalog):
    inv.update_product(catalog, "PLATE-1", ProductUpdate(bom=[BomItem(sku="GEAR-40", qty=D(1))]))
    with pytest.raises(Invalid) as caught:
        inv.update_product(catalog, "GEAR-40", ProductUpdate(
            bom=[BomItem(sku="PUMP-7", qty=D(1))]))
    assert caught.value.code == "bom_cycle"
    assert "GEAR-40 → PUMP-7 → PLATE-1 → GEAR-40" in caught.value.detail()
    assert "形成循环" in caught.value.detail("zh-CN")


def test_duplicates_unknowns_and_roles(catalog, alice):
    with pytest.raises(Conflict):
        inv.create_product(catalog, ProductCreate(sku="GEAR-40", name="again"))
    with pytest.raises(Conflict):
        inv.create_warehouse(catalog, WarehouseCreate(code="SZ1", name="again"))
    with pytest.raises(NotFound):
        inv.read_product(catalog.session, "NOPE")
    with pytest.raises(Forbidden) as caught:
        inv.create_product(alice, ProductCreate(sku="X-1", name="x"))
    assert "warehouse" in caught.value.detail() and "sales" in caught.value.detail()


def test_default_warehouse_is_the_first_or_main(db, catalog):
    assert inv.default_warehouse(db) == "SZ1"


def test_default_warehouse_made_when_none(db):
    assert inv.default_warehouse(db) == "MAIN"
    assert inv.default_warehouse(db) == "MAIN"
