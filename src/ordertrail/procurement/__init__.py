"""Suppliers and purchase orders: suggestions from shortages, supplier links, receipts."""
