"""Shipments: parcels of an order, tracking events, carrier pushes and polls."""
