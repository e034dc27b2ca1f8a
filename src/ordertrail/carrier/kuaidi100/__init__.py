"""Kuaidi100 (快递100): subscription pushes and real-time queries for Chinese couriers."""
