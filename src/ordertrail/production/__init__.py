"""Work orders for make-to-order lines: BOM, routing, schedule, QC."""
