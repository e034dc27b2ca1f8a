"""Products, warehouses, the stock movement ledger, availability and reservations."""
