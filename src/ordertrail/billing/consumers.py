"""billing: outbox consumers and periodic jobs.

Billing needs none of its own: its flow triggers fire in the transaction of the payment or
invoice that makes them true (billing/service.py), stage entry runs ``issue_invoice`` and the
state checks through ``ops.stage_entered`` (billing/automation.py), and overdue invoices are
found by the sweeper (billing/alerts.py).
"""

from __future__ import annotations
